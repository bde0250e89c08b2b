import { describe, expect, it } from 'vitest';
import { WarehouseQueryError } from '../../../src/lib/warehouse/errors.js';
import {
  MASK,
  Masker,
  isProviderReference,
  isSecretKey,
  maskerFromEnvironment,
  providerReferences,
  redactError,
  urlPassword,
} from '../../../src/lib/connect/mask.js';

describe('secret keys and references', () => {
  it('tells secret config keys from look-alikes', () => {
    for (const k of [
      'database.password',
      'mongodb.password',
      'ssl.key.password',
      'sasl.jaas.config',
      'api.key',
      'aws.secret.access.key',
      'auth.token',
      'credentials',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of [
      'key.converter',
      'database.user',
      'topic.prefix',
      'message.key.columns',
      'tokenizer.mode',
      'slot.name',
    ])
      expect(isSecretKey(k), k).toBe(false);
  });

  it('recognises config-provider references', () => {
    expect(isProviderReference('${env:PW}')).toBe(true);
    expect(isProviderReference('${file:/etc/s.properties:pw}')).toBe(true);
    expect(isProviderReference('${vault:secret/data/db:password}')).toBe(true);
    expect(isProviderReference('plain')).toBe(false);
    expect(isProviderReference('x${env:PW}')).toBe(false);
    expect(isProviderReference('${SHOPDATA_X}')).toBe(false);
    expect(providerReferences('mongodb://u:${file:/a/b.properties:pw}@h/ ${env:X}')).toEqual([
      { provider: 'file', path: '/a/b.properties', key: 'pw', raw: '${file:/a/b.properties:pw}' },
      { provider: 'env', path: 'X', key: undefined, raw: '${env:X}' },
    ]);
  });

  it('reads passwords out of URLs', () => {
    expect(urlPassword('postgres://u:p%40ss@h/db')).toBe('p@ss');
    expect(urlPassword('postgres://u@h/db')).toBeUndefined();
    expect(urlPassword('mongodb://u:pw@h1,h2/db')).toBe('pw');
    expect(urlPassword(undefined)).toBeUndefined();
    // Equal to the user name, empty user, unencoded @ and /: still the password (issue 18 §7).
    expect(urlPassword('postgres://shopdata:shopdata@h/shop')).toBe('shopdata');
    expect(urlPassword('http://:SECRETPW@h:8123')).toBe('SECRETPW');
    expect(urlPassword('http://u:p@ss@h:8123')).toBe('p@ss');
    expect(urlPassword('http://u:pa/ss@h:8123')).toBe('pa/ss');
    expect(urlPassword('http://u:@h:8123')).toBeUndefined();
  });
});

describe('Masker', () => {
  const m = new Masker(['Sup3r-Secret!', 'p@ss word']);

  it('masks known secrets anywhere, also URL- and JSON-encoded', () => {
    expect(m.text('auth failed for Sup3r-Secret! at 12:00')).toBe(`auth failed for ${MASK} at 12:00`);
    expect(m.text('postgres://u:p%40ss%20word@h/db')).not.toContain('p%40ss');
    expect(m.text(JSON.stringify({ x: 'p@ss word' }))).not.toContain('p@ss word');
  });

  it('masks secret-shaped fragments it does not know: URL passwords, key=value, JSON, bearer tokens', () => {
    const trace = [
      'Caused by: com.mongodb.MongoTimeoutException: mongodb://app:unknownpw1@m1:27017/?replicaSet=rs0',
      'database.password=abc123xyz, database.user=cdc',
      '{"password":"qwerty789","user":"x"}',
      "token: 'tok-555-aaa'",
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc',
    ].join('\n');
    const out = m.text(trace);
    for (const s of ['unknownpw1', 'abc123xyz', 'qwerty789', 'tok-555-aaa', 'eyJhbGciOiJIUzI1NiJ9'])
      expect(out).not.toContain(s);
    expect(out).toContain('mongodb://app:********@m1:27017');
    expect(out).toContain('database.user=cdc');
    expect(out).toContain('"user":"x"');
  });

  it("keeps references, Connect's [hidden] and non-secrets readable", () => {
    expect(m.text('database.password = [hidden]')).toBe('database.password = [hidden]');
    expect(m.text('database.password=${file:/s.properties:pw}')).toBe(
      'database.password=${file:/s.properties:pw}',
    );
    expect(m.text('password authentication failed for user "cdc"')).toBe(
      'password authentication failed for user "cdc"',
    );
  });

  it('masks config values by key: secrets show only references', () => {
    expect(
      m.config({ 'database.password': 'inline!', 'mongodb.password': '${env:M}', 'database.user': 'cdc' }),
    ).toEqual({
      'database.password': MASK,
      'mongodb.password': '${env:M}',
      'database.user': 'cdc',
    });
  });

  it('masks deep results', () => {
    expect(m.deep({ a: ['Sup3r-Secret!'], b: { password: 'x1y2z3', n: 1, ok: true, nil: null } })).toEqual({
      a: [MASK],
      b: { password: MASK, n: 1, ok: true, nil: null },
    });
  });

  it('collects secrets from the environment and URLs', () => {
    const env = {
      SHOPDATA_POSTGRES_URL: 'postgres://u:pg-pw-1@h/db',
      SHOPDATA_KAFKA_SASL_PASSWORD: 'sasl-pw-2',
      AWS_SECRET_ACCESS_KEY: 'aws-key-3',
      SHOPDATA_PII_SALT: 'salt-salt-4',
      SHOPDATA_CONNECT_PG_PASSWORD_REF: '${env:X}',
      HOME: '/root',
    };
    const mk = maskerFromEnvironment(env, ['mongodb://a:mongo-pw-5@h/db']);
    const out = mk.text('pg-pw-1 sasl-pw-2 aws-key-3 salt-salt-4 mongo-pw-5 ${env:X} /root');
    expect(out).toBe(`${MASK} ${MASK} ${MASK} ${MASK} ${MASK} \${env:X} /root`);
  });
});

describe('Masker: no secret is skipped (issue 18 §7)', () => {
  it('masks the password of an empty-user URL and one holding @ whole, known or not', () => {
    for (const m of [
      new Masker(),
      maskerFromEnvironment({ SHOPDATA_CLICKHOUSE_URL: 'http://:SECRETPW@h:8123' }, []),
    ]) {
      expect(m.text('ClickHouse at http://:SECRETPW@h:8123 is unreachable')).toBe(
        `ClickHouse at http://:${MASK}@h:8123 is unreachable`,
      );
    }
    const m = maskerFromEnvironment({ SHOPDATA_POSTGRES_URL: 'postgres://u:p@ss-w0rd@h/db' }, []);
    expect(m.text('postgres://u:p@ss-w0rd@h/db')).toBe(`postgres://u:${MASK}@h/db`);
    expect(m.text('auth failed, password was p@ss-w0rd')).not.toContain('ss-w0rd');
    expect(new Masker().text('http://u:p@ss-w0rd@h:8123/x')).toBe(`http://u:${MASK}@h:8123/x`);
  });

  it('masks a password equal to the user name and secrets under 4 characters where they stand as values', () => {
    const m = maskerFromEnvironment({ SHOPDATA_POSTGRES_URL: 'postgres://shopdata:shopdata@h/shop' }, [])
      .add('a1')
      .add("it's");
    expect(m.text('password authentication failed for user "shopdata"')).toBe(
      `password authentication failed for user "${MASK}"`,
    );
    expect(m.text('database.user=shopdata, database.password=shopdata')).toBe(
      `database.user=${MASK}, database.password=${MASK}`,
    );
    expect(m.deep({ 'database.user': 'shopdata', pin: 'a1', note: "key 'a1'" })).toEqual({
      'database.user': MASK,
      pin: MASK,
      note: `key '${MASK}'`,
    });
    expect(m.text('postgres://shopdata:shopdata@h/shop')).toBe(`postgres://${MASK}:${MASK}@h/shop`);
    // Inside other words they stay: the program's own name, topics, "a1b2".
    expect(m.text('shopdata connectors restart x; topic shopdata.dlq; a1b2')).toBe(
      'shopdata connectors restart x; topic shopdata.dlq; a1b2',
    );
    // The SQL-literal form of a secret is masked too.
    expect(m.text("SELECT 'it\\'s'")).toBe(`SELECT '${MASK}'`);
  });
});

describe('redactError (issue 18 §6)', () => {
  it('masks every form of every secret in message, stack, hint, details, sql and causes', () => {
    const salt = "s4lt'with\\chars";
    const key = 'AWS/secret+key=1';
    const sqlForm = salt.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const cause = new Error(
      `Code: 62. Syntax error near ${JSON.stringify(salt)} and ${encodeURIComponent(key)}`,
    );
    const err = new WarehouseQueryError(
      'exec',
      `SELECT concat('${sqlForm}', x) FROM s3('u', 'id', '${key}')`,
      cause,
    );
    // The stack is a copy of the message taken at construction.
    expect(err.stack).toContain(encodeURIComponent(key));
    const m = new Masker([salt, key]);
    expect(redactError(err, m)).toBe(err);
    const shown = JSON.stringify({
      message: err.message,
      stack: err.stack,
      sql: err.sql,
      json: err.toJSON(),
      cause: [cause.message, cause.stack],
    });
    for (const form of [salt, sqlForm, JSON.stringify(salt).slice(1, -1), key, encodeURIComponent(key)])
      expect(shown).not.toContain(form);
    expect(err.sql).toBe(`SELECT concat('${MASK}', x) FROM s3('u', 'id', '${MASK}')`);
  });
});
