import { z } from 'zod';
import { SOURCE_TOPICS_DEFAULT } from './defaults.js';

export const HTTP_URL_PROBLEM =
  'is not a valid http(s)://user:pass@host:port URL: characters such as / ? # @ : in the user or password must be percent-encoded (/ is %2F, @ is %40, : is %3A), and the port must be 1-65535';

/**
 * Every comma-separated http(s) endpoint parses as a URL (a `/` in a password or a bad port does
 * not). Endpoints after the first may be full URLs or bare `host:port`.
 */
export function httpEndpointsParse(value: string): boolean {
  return value
    .split(',')
    .map((p) => p.trim())
    .every((p, i) => URL.canParse(i === 0 || /^https?:\/\//.test(p) ? p : `http://${p}`));
}

const clickhouseUrl = z.preprocess(
  // Several endpoints of one cluster: a YAML list, or comma-separated (warehouse/endpoints.ts).
  (v) => (Array.isArray(v) ? v.map(String).join(',') : v),
  z
    .string()
    .regex(
      /^(https?:\/\/[^,]+(,\s*(https?:\/\/)?[^,\s]+)*|chdb:.*)$/,
      'must be http(s)://user:pass@host:port (several comma-separated for a cluster) or chdb:PATH',
    )
    .refine((v) => v.startsWith('chdb:') || httpEndpointsParse(v), {
      // Never the value itself: it holds the password.
      message: HTTP_URL_PROBLEM,
    }),
);
const lakeUri = z.string().min(1, 'must be s3://bucket/prefix or a local directory');

/** The resolved configuration. YAML files use exactly these keys (camelCase). */
export const ConfigSchema = z
  .object({
    clickhouse: z
      .object({
        url: clickhouseUrl.default('chdb:./.shopdata/warehouse'),
        /** Per-request timeout; a server that does not answer within it counts as unreachable. */
        requestTimeoutMs: z.number().int().positive().default(300_000),
        /** Attempts before giving up with exit 3. */
        retries: z.number().int().min(0).default(4),
      })
      .strict()
      .default({ url: 'chdb:./.shopdata/warehouse', requestTimeoutMs: 300_000, retries: 4 }),
    lake: z
      .object({
        uri: lakeUri.default('./.shopdata/lake'),
        s3Endpoint: z.url().optional(),
        s3Region: z.string().default('us-east-1'),
        /**
         * An Iceberg REST catalog: tables are then `<namespace>.<table>` wherever the catalog puts
         * them. Credentials (a bearer token or OAuth2 client credentials) come from the
         * environment only: SHOPDATA_ICEBERG_CATALOG_TOKEN / SHOPDATA_ICEBERG_CATALOG_CREDENTIAL.
         */
        catalog: z
          .object({
            uri: z.url().optional(),
            warehouse: z.string().optional(),
            namespace: z.string().min(1).default('shop'),
            /** OAuth2 token endpoint (default: the catalog's `v1/oauth/tokens`). */
            oauth2ServerUri: z.url().optional(),
            /** OAuth2 scope of the client-credentials grant. */
            scope: z.string().default('catalog'),
          })
          .strict()
          .default({ namespace: 'shop', scope: 'catalog' }),
      })
      .strict()
      .default({
        uri: './.shopdata/lake',
        s3Region: 'us-east-1',
        catalog: { namespace: 'shop', scope: 'catalog' },
      }),
    kafka: z
      .object({
        brokers: z.array(z.string().regex(/^[^\s:,]+:\d+$/, 'each broker must be host:port')).default([]),
        clientId: z.string().default('shopdata'),
        ssl: z.boolean().default(false),
        sasl: z
          .object({
            mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
            username: z.string(),
            password: z.string(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ brokers: [], clientId: 'shopdata', ssl: false }),
    connect: z.object({ url: z.url().optional() }).strict().default({}),
    postgres: z.object({ url: z.string().optional() }).strict().default({}),
    mongo: z.object({ url: z.string().optional() }).strict().default({}),
    pii: z
      .object({ salt: z.string().min(8, 'must be at least 8 characters').optional() })
      .strict()
      .default({}),
    stream: z
      .object({
        groupId: z.string().default('shopdata-stream'),
        topics: z.array(z.string()).default([...SOURCE_TOPICS_DEFAULT]),
        dlqTopic: z.string().default('shopdata.dlq'),
        batchSize: z.number().int().positive().default(5000),
        batchMaxMs: z.number().int().positive().default(1000),
        metricsPort: z.number().int().min(0).max(65535).optional(),
      })
      .strict()
      .default({
        groupId: 'shopdata-stream',
        topics: [...SOURCE_TOPICS_DEFAULT],
        dlqTopic: 'shopdata.dlq',
        batchSize: 5000,
        batchMaxMs: 1000,
      }),
    checks: z
      .object({
        /** Relative tolerance for reconciliation counts (0.001 = 0.1 %). */
        reconciliationTolerance: z.number().min(0).max(1).default(0),
        /** A source whose latest load is older than this is stale. */
        freshnessMaxSeconds: z.number().int().positive().default(3600),
      })
      .strict()
      .default({ reconciliationTolerance: 0, freshnessMaxSeconds: 3600 }),
  })
  .strict();

export type ShopdataConfig = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
