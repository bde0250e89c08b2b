import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEMPLATE_DIR,
  deriveVariables,
  inlineSecretProblem,
  loadTemplates,
  mongoVariables,
  parseTemplate,
  postgresVariables,
  renderTemplate,
  selectTemplates,
} from '../../../src/lib/connect/template.js';
import { ConfigError, UsageError } from '../../../src/lib/errors/index.js';

const tpl = (yaml: string) => parseTemplate('/t/x.yaml', yaml);

describe('template rendering', () => {
  it('fills ${NAME}, ${NAME:-default} and nested defaults; keeps config-provider references', () => {
    const t = tpl(`
name: "\${SHOPDATA_N:-conn}"
config:
  connector.class: a.b.C
  host: "\${PG_HOST}"
  port: 5432
  flag: true
  password: "\${SHOPDATA_REF:-\${env:DB_PW}}"
  file: "\${file:\${SHOPDATA_DIR:-/etc}/s.properties:pw}"
`);
    const r = renderTemplate(t, { PG_HOST: 'db.local' });
    expect(r.name).toBe('conn');
    expect(r.config).toEqual({
      'connector.class': 'a.b.C',
      host: 'db.local',
      port: '5432',
      flag: 'true',
      password: '${env:DB_PW}',
      file: '${file:/etc/s.properties:pw}',
    });
    const r2 = renderTemplate(t, {
      PG_HOST: 'h',
      SHOPDATA_N: 'other',
      SHOPDATA_REF: '${file:/x:y}',
      SHOPDATA_DIR: '/run',
    });
    expect(r2.name).toBe('other');
    expect(r2.config.password).toBe('${file:/x:y}');
    expect(r2.config.file).toBe('${file:/run/s.properties:pw}');
  });

  it('inserts variable values literally (no second round of substitution)', () => {
    const r = renderTemplate(tpl('name: n\nconfig:\n  connector.class: C\n  v: "${SHOPDATA_V}"\n'), {
      SHOPDATA_V: '${SHOPDATA_OTHER}',
    });
    expect(r.config.v).toBe('${SHOPDATA_OTHER}');
  });

  it('names every missing variable, with where derived ones come from', () => {
    const t = tpl('name: n\nconfig:\n  connector.class: C\n  a: "${SHOPDATA_A}"\n  b: "${PG_HOST}"\n');
    try {
      renderTemplate(t, {});
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toContain('SHOPDATA_A');
      expect((e as Error).message).toMatch(/PG_HOST \(from SHOPDATA_POSTGRES_URL/);
      expect((e as ConfigError).exitCode).toBe(2);
    }
  });

  it('allows only SHOPDATA_* and derived variables', () => {
    const t = tpl('name: n\nconfig:\n  connector.class: C\n  a: "${HOME}"\n');
    expect(() => renderTemplate(t, { HOME: '/root' })).toThrow(/SHOPDATA_\* variables/);
  });

  it('leaves out settings that render empty', () => {
    const r = renderTemplate(
      tpl('name: n\nconfig:\n  connector.class: C\n  mongodb.user: "${MONGO_USER:-}"\n'),
      {},
    );
    expect(r.config).not.toHaveProperty('mongodb.user');
  });

  it('refuses inline secrets, in secret keys and in URLs', () => {
    const t = tpl('name: n\nconfig:\n  connector.class: C\n  database.password: "${SHOPDATA_PW}"\n');
    expect(() => renderTemplate(t, { SHOPDATA_PW: 'hunter22' })).toThrow(
      /database.password holds an inline secret/,
    );
    expect(() => renderTemplate(t, { SHOPDATA_PW: 'hunter22' })).not.toThrow(/hunter22/);
    expect(renderTemplate(t, { SHOPDATA_PW: '${file:/s.properties:pw}' }).config['database.password']).toBe(
      '${file:/s.properties:pw}',
    );
    expect(inlineSecretProblem('mongodb.connection.string', 'mongodb://u:pw@h:27017/')).toMatch(
      /inline password/,
    );
    expect(
      inlineSecretProblem('mongodb.connection.string', 'mongodb://u:${env:MPW}@h:27017/'),
    ).toBeUndefined();
    expect(
      inlineSecretProblem('key.converter', 'org.apache.kafka.connect.json.JsonConverter'),
    ).toBeUndefined();
    expect(
      inlineSecretProblem('sasl.jaas.config', 'org.apache...PlainLoginModule required password="x";'),
    ).toMatch(/inline secret/);
  });

  it('rejects malformed templates with the file named', () => {
    expect(() => tpl('name: n\nconfig: [1]\n')).toThrow(/x.yaml.*config/);
    expect(() => tpl('name: n\nconfig:\n  a: 1\n')).toThrow(/connector.class/);
    expect(() => tpl('name: n\nextra: 1\nconfig:\n  connector.class: C\n')).toThrow(
      /unknown top-level key `extra`/,
    );
    expect(() => tpl('name: n\nconfig:\n  connector.class: C\n  nested: {a: 1}\n')).toThrow(
      /must be a scalar/,
    );
    expect(() => tpl(': : :\n  - [')).toThrow(ConfigError);
  });
});

describe('derived variables', () => {
  it('takes host, port, user and database from the PostgreSQL URL, never the password', () => {
    expect(postgresVariables('postgres://cdc%40x:s3cr%3At@db.example:6543/shop')).toEqual({
      PG_HOST: 'db.example',
      PG_PORT: '6543',
      PG_USER: 'cdc@x',
      PG_DATABASE: 'shop',
    });
    expect(postgresVariables('postgresql://u@h/')).toMatchObject({ PG_PORT: '5432', PG_DATABASE: 'shop' });
    expect(() => postgresVariables('mysql://h/db')).toThrow(ConfigError);
  });

  it('builds a MongoDB connection string without credentials, several hosts allowed', () => {
    expect(
      mongoVariables('mongodb://app:pw@m1:27017,m2:27018/shop_events?replicaSet=rs0&authSource=admin'),
    ).toEqual({
      MONGO_HOSTS: 'm1:27017,m2:27018',
      MONGO_DATABASE: 'shop_events',
      MONGO_USER: 'app',
      MONGO_CONNECTION_STRING: 'mongodb://m1:27017,m2:27018/?replicaSet=rs0&authSource=admin',
    });
    expect(mongoVariables('mongodb://127.0.0.1:27117')).toEqual({
      MONGO_HOSTS: '127.0.0.1:27117',
      MONGO_DATABASE: 'shop_events',
      MONGO_CONNECTION_STRING: 'mongodb://127.0.0.1:27117/',
    });
  });

  it('offers SHOPDATA_* environment variables and nothing else from the environment', () => {
    const vars = deriveVariables(
      { postgres: { url: 'postgres://u:p@h:1/d' }, mongo: {} },
      { SHOPDATA_X: '1', PATH: '/bin', AWS_SECRET_ACCESS_KEY: 'k' },
    );
    expect(vars).toEqual({ SHOPDATA_X: '1', PG_HOST: 'h', PG_PORT: '1', PG_USER: 'u', PG_DATABASE: 'd' });
  });
});

describe('the shipped templates', () => {
  const templates = loadTemplates(DEFAULT_TEMPLATE_DIR);
  const vars = deriveVariables(
    {
      postgres: { url: 'postgres://cdc:pw@127.0.0.1:55432/shop' },
      mongo: { url: 'mongodb://127.0.0.1:27117/shop_events' },
    },
    {},
  );

  it('are shop-lake, shop-mongodb and shop-postgres', () => {
    expect(templates.map((t) => t.id)).toEqual(['shop-lake', 'shop-mongodb', 'shop-postgres']);
  });

  it('render the PostgreSQL connector of the contract with defaults', () => {
    const pg = renderTemplate(
      templates.find((t) => t.id === 'shop-postgres')!,
      vars,
    );
    expect(pg.name).toBe('shop-postgres');
    expect(pg.config).toMatchObject({
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'database.hostname': '127.0.0.1',
      'database.port': '55432',
      'database.user': 'cdc',
      'database.dbname': 'shop',
      'database.password': '${env:SHOPDATA_POSTGRES_PASSWORD}',
      'topic.prefix': 'shop',
      'plugin.name': 'pgoutput',
      'publication.name': 'shopdata_publication',
      'publication.autocreate.mode': 'disabled',
      'column.exclude.list': 'public.auth_credentials.password_hash',
      'decimal.handling.mode': 'string',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    });
    expect(Number(pg.config['heartbeat.interval.ms'])).toBeGreaterThan(0);
    expect(JSON.stringify(pg)).not.toContain(':pw');
  });

  it('render the MongoDB connector of the contract with defaults', () => {
    const mongo = renderTemplate(
      templates.find((t) => t.id === 'shop-mongodb')!,
      vars,
    );
    expect(mongo.config).toMatchObject({
      'connector.class': 'io.debezium.connector.mongodb.MongoDbConnector',
      'mongodb.connection.string': 'mongodb://127.0.0.1:27117/',
      'topic.prefix': 'shopev',
      'collection.include.list': 'shop_events.purchases,shop_events.cancellations,shop_events.ratings',
    });
    expect(mongo.config).not.toHaveProperty('mongodb.user');
    expect(mongo.config).not.toHaveProperty('mongodb.password');
  });

  it('are picked by template id or by rendered connector name', () => {
    const v = { ...vars, SHOPDATA_CONNECT_PG_NAME: 'pg-test' };
    expect(selectTemplates(templates, ['shop-postgres'], v).map((t) => t.id)).toEqual(['shop-postgres']);
    expect(selectTemplates(templates, ['pg-test'], v).map((t) => t.id)).toEqual(['shop-postgres']);
    expect(selectTemplates(templates, [], v)).toHaveLength(3);
    expect(() => selectTemplates(templates, ['nope'], v)).toThrow(UsageError);
  });
});
