import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEMPLATE_DIR,
  deriveVariables,
  loadTemplates,
  parseTemplate,
  renderTemplate,
} from '../../../src/lib/connect/template.js';
import { Masker, isSecretKey } from '../../../src/lib/connect/mask.js';
import {
  assertSinkSources,
  contractProblems,
  schemalessSources,
  sinkTableSchema,
  sinkTables,
  type TableMetadata,
} from '../../../src/lib/connect/lake-tables.js';
import { LAKE_SCHEMAS, icebergSchemaOf } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { ConfigError } from '../../../src/lib/errors/index.js';

const lake = loadTemplates(DEFAULT_TEMPLATE_DIR).find((t) => t.id === 'shop-lake')!;
const base = deriveVariables(
  { postgres: {}, mongo: {} },
  { SHOPDATA_ICEBERG_CATALOG_URI: 'http://cat:8181' },
);

describe('keys with placeholders', () => {
  const tpl = (yaml: string) => parseTemplate('/t/x.yaml', yaml);

  it('are rendered like values', () => {
    const r = renderTemplate(
      tpl(`
name: n
config:
  connector.class: a.B
  x.\${SHOPDATA_NS:-shop}.y: 1
`),
      { SHOPDATA_NS: 'lake_7' },
    );
    expect(r.config).toEqual({ 'connector.class': 'a.B', 'x.lake_7.y': '1' });
  });

  it('must not hold config-provider references, nor render to two equal keys or a blank', () => {
    const bad = (yaml: string, vars: Record<string, string>, problem: RegExp) => {
      expect(() => renderTemplate(tpl(yaml), vars)).toThrow(ConfigError);
      try {
        renderTemplate(tpl(yaml), vars);
      } catch (err) {
        expect((err as ConfigError).message).toMatch(problem);
      }
    };
    bad(
      'name: n\nconfig:\n  connector.class: a.B\n  "k.${env:X}": 1\n',
      {},
      /holds a config-provider reference/,
    );
    bad(
      'name: n\nconfig:\n  connector.class: a.B\n  k.${SHOPDATA_A}: 1\n  k.${SHOPDATA_B}: 2\n',
      { SHOPDATA_A: 'x', SHOPDATA_B: 'x' },
      /two settings render to the key k\.x/,
    );
    bad(
      'name: n\nconfig:\n  connector.class: a.B\n  "${SHOPDATA_A:-}": 1\n',
      {},
      /renders to "", which is not a setting name/,
    );
    bad('name: n\nconfig:\n  connector.class: a.B\n  k.${SHOPDATA_MISSING}: 1\n', {}, /SHOPDATA_MISSING/);
  });
});

describe('the shop-lake template', () => {
  it('renders the Iceberg sink of the contract: 7 topics, 7 tables in namespace shop, one route each', () => {
    const r = renderTemplate(lake, base);
    expect(r.name).toBe('shop-lake');
    expect(r.connectorClass).toBe('org.apache.iceberg.connect.IcebergSinkConnector');
    expect(r.config.topics!.split(',')).toEqual([
      'shop.public.sellers',
      'shop.public.users',
      'shop.public.auth_credentials',
      'shop.public.products',
      'shopev.shop_events.purchases',
      'shopev.shop_events.cancellations',
      'shopev.shop_events.ratings',
    ]);
    expect(sinkTables(r).map((t) => t.identifier)).toEqual(SOURCE_TABLES.map((t) => `shop.${t}`));
    for (const t of SOURCE_TABLES) expect(r.config[`iceberg.table.shop.${t}.route-regex`]).toBe(t);
    expect(r.config).toMatchObject({
      'iceberg.catalog.type': 'rest',
      'iceberg.catalog.uri': 'http://cat:8181',
      'iceberg.tables.route-field': '__table',
      'iceberg.tables.auto-create-enabled': 'false',
      'value.converter.schemas.enable': 'true',
      'iceberg.catalog.s3.access-key-id': '${env:AWS_ACCESS_KEY_ID}',
      'iceberg.catalog.s3.secret-access-key': '${env:AWS_SECRET_ACCESS_KEY}',
      'iceberg.control.topic': 'shop-lake-control',
      'errors.deadletterqueue.topic.name': 'shop-lake-dlq',
    });
    // No catalog credentials given: the settings are left out, not sent empty.
    expect(r.config).not.toHaveProperty('iceberg.catalog.token');
    expect(r.config).not.toHaveProperty('iceberg.catalog.credential');
    expect(r.config).not.toHaveProperty('iceberg.catalog.warehouse');
  });

  it('follows the namespace, the topic prefixes, the database and the connector name', () => {
    const r = renderTemplate(lake, {
      ...base,
      SHOPDATA_ICEBERG_CATALOG_NAMESPACE: 'lake_t1',
      SHOPDATA_CONNECT_PG_TOPIC_PREFIX: 'p1',
      SHOPDATA_CONNECT_MONGO_TOPIC_PREFIX: 'm1',
      MONGO_DATABASE: 'ev1',
      SHOPDATA_CONNECT_LAKE_NAME: 'lake-t1',
    });
    expect(r.name).toBe('lake-t1');
    expect(r.config.topics).toContain('p1.public.users');
    expect(r.config.topics).toContain('m1.ev1.ratings');
    expect(r.config['predicates.isPg.pattern']).toBe('p1\\.public\\..*');
    expect(r.config['iceberg.table.lake_t1.auth_credentials.route-regex']).toBe('auth_credentials');
    expect(r.config['iceberg.control.topic']).toBe('lake-t1-control');
  });

  it('needs the catalog URI, and refuses inline catalog credentials and S3 keys', () => {
    expect(() => renderTemplate(lake, deriveVariables({ postgres: {}, mongo: {} }, {}))).toThrow(
      /SHOPDATA_ICEBERG_CATALOG_URI/,
    );
    for (const [v, key] of [
      ['SHOPDATA_CONNECT_LAKE_S3_SECRET_KEY_REF', 'iceberg.catalog.s3.secret-access-key'],
      ['SHOPDATA_CONNECT_LAKE_S3_ACCESS_KEY_REF', 'iceberg.catalog.s3.access-key-id'],
      ['SHOPDATA_CONNECT_LAKE_CATALOG_TOKEN_REF', 'iceberg.catalog.token'],
      ['SHOPDATA_CONNECT_LAKE_CATALOG_CREDENTIAL_REF', 'iceberg.catalog.credential'],
    ] as const) {
      expect(() => renderTemplate(lake, { ...base, [v]: 'plain-secret' }), v).toThrow(
        new RegExp(`${key.replace(/\./g, '\\.')} holds an inline secret`),
      );
      const ok = renderTemplate(lake, { ...base, [v]: '${file:/etc/kafka/lake.properties:k}' });
      expect(ok.config[key]).toBe('${file:/etc/kafka/lake.properties:k}');
    }
  });

  it('treats per-table settings as no secrets, the catalog and S3 credentials as secrets', () => {
    expect(isSecretKey('iceberg.table.shop.auth_credentials.route-regex')).toBe(false);
    expect(isSecretKey('iceberg.table.shop.auth_credentials.id-columns')).toBe(false);
    for (const k of [
      'iceberg.catalog.s3.secret-access-key',
      'iceberg.catalog.s3.access-key-id',
      'iceberg.catalog.token',
      'iceberg.catalog.credential',
    ])
      expect(isSecretKey(k), k).toBe(true);
    const m = new Masker();
    expect(m.value('iceberg.table.shop.auth_credentials.route-regex', 'auth_credentials')).toBe(
      'auth_credentials',
    );
    expect(m.value('iceberg.catalog.credential', 'id:secret')).not.toContain('secret');
  });
});

describe('lake tables of a sink connector', () => {
  const meta = (table: (typeof SOURCE_TABLES)[number], edit?: (m: TableMetadata) => void): TableMetadata => {
    const schema = sinkTableSchema(table);
    const ts = schema.fields.find((f) => f.name === '__ts')!.id;
    const m: TableMetadata = {
      'current-schema-id': 0,
      schemas: [{ 'schema-id': 0, fields: structuredClone(schema.fields) }],
      'default-spec-id': 0,
      'partition-specs': [
        { 'spec-id': 0, fields: [{ name: '__ts_day', transform: 'day', 'source-id': ts }] },
      ],
    };
    edit?.(m);
    return m;
  };

  it('accepts the contract layout plus __ts_us of every table', () => {
    for (const t of SOURCE_TABLES) expect(contractProblems(t, meta(t)), t).toEqual([]);
  });

  it('creates the contract schema plus __ts_us long, with the ids a catalog assigns (top level first)', () => {
    for (const t of SOURCE_TABLES) {
      const contract = icebergSchemaOf(LAKE_SCHEMAS[t]).fields;
      const fields = sinkTableSchema(t).fields;
      expect(fields.map((f) => f.name)).toEqual([...contract.map((f) => f.name), '__ts_us']);
      expect(fields.map((f) => f.id)).toEqual(fields.map((_, i) => i + 1));
      expect(fields.at(-1)).toEqual({
        id: contract.length + 1,
        name: '__ts_us',
        required: false,
        type: 'long',
      });
    }
    const items = sinkTableSchema('purchases').fields.find((f) => f.name === 'items')!.type as {
      'element-id': number;
      element: { fields: Array<{ id: number; name: string }> };
    };
    expect(items['element-id']).toBe(10);
    expect(items.element.fields.map((f) => [f.id, f.name])).toEqual([
      [11, 'product_id'],
      [12, 'qty'],
      [13, 'unit_price'],
    ]);
  });

  it('names a table without __ts_us: the sink could write only millisecond commit times', () => {
    expect(
      contractProblems(
        'users',
        meta('users', (m) => {
          m.schemas![0]!.fields.pop();
        }),
      ),
    ).toEqual(['column __ts_us is missing (the exact commit time the sink writes)']);
  });

  it('names a missing column, a wrong type, another decimal scale and another partitioning', () => {
    expect(
      contractProblems(
        'products',
        meta('products', (m) => {
          const f = m.schemas![0]!.fields;
          f.splice(
            f.findIndex((x) => x.name === 'category'),
            1,
          );
          f.find((x) => x.name === 'price')!.type = 'decimal(12, 4)';
          f.find((x) => x.name === 'created_at')!.type = 'string';
          m['partition-specs'] = [{ 'spec-id': 0, fields: [] }];
        }),
      ),
    ).toEqual([
      'column category is missing',
      'column price is decimal(12, 4), not decimal(12, 2)',
      'column created_at is string, not timestamptz',
      'the partition spec is not day(__ts)',
    ]);
    expect(
      contractProblems(
        'purchases',
        meta('purchases', (m) => {
          m.schemas![0]!.fields.find((x) => x.name === 'items')!.type = 'string';
        }),
      ),
    ).toEqual(['column items is string, not list<struct>']);
  });

  it('reads iceberg.tables and refuses entries that are not contract tables', () => {
    const rc = renderTemplate(lake, base);
    expect(sinkTables(rc)[2]).toEqual({
      identifier: 'shop.auth_credentials',
      namespace: 'shop',
      table: 'auth_credentials',
    });
    expect(() => sinkTables({ ...rc, config: { ...rc.config, 'iceberg.tables': 'shop.orders' } })).toThrow(
      /not <namespace>\.<table> with one of the lake tables/,
    );
    expect(() => sinkTables({ ...rc, config: { ...rc.config, 'iceberg.tables': 'users' } })).toThrow(
      ConfigError,
    );
  });
});

describe('the sources of a sink', () => {
  const sink = renderTemplate(lake, base);
  const pg = loadTemplates(DEFAULT_TEMPLATE_DIR).find((t) => t.id === 'shop-postgres')!;
  const pgVars = { ...base, PG_HOST: 'h', PG_PORT: '5432', PG_USER: 'u', PG_DATABASE: 'shop' };

  it('are the Debezium connectors whose topic prefix the sink reads; schemaless ones are refused', () => {
    const schemaless = renderTemplate(pg, pgVars);
    const wrapped = renderTemplate(pg, { ...pgVars, SHOPDATA_CONNECT_JSON_SCHEMAS: 'true' });
    expect(schemalessSources(sink, [schemaless]).map((c) => c.name)).toEqual(['shop-postgres']);
    expect(schemalessSources(sink, [wrapped])).toEqual([]);
    // Another prefix feeds other topics; a source without the setting uses the worker's default.
    const other = renderTemplate(pg, { ...pgVars, SHOPDATA_CONNECT_PG_TOPIC_PREFIX: 'other' });
    expect(schemalessSources(sink, [other])).toEqual([]);
    const { ['value.converter.schemas.enable']: _drop, ...noSetting } = schemaless.config;
    expect(schemalessSources(sink, [{ name: 'x', config: noSetting }])).toEqual([]);

    expect(() => assertSinkSources([schemaless, sink], {})).toThrow(
      /shop-lake \(Iceberg sink\) reads topics that shop-postgres write without the JSON schema wrapper/,
    );
    expect(() => assertSinkSources([sink], { 'shop-postgres': schemaless.config })).toThrow(ConfigError);
    // What this run renders wins over the live config of the same connector.
    expect(() => assertSinkSources([wrapped, sink], { 'shop-postgres': schemaless.config })).not.toThrow();
  });
});
