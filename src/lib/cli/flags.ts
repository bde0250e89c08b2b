import { Flags } from '@oclif/core';

/**
 * Shared flag modules. Every connection flag falls back to its SHOPDATA_* variable; the config
 * loader (lib/config) then applies shopdata.yaml and the embedded defaults below them.
 */
export const globalFlags = {
  config: Flags.string({
    description: 'Path to a shopdata.yaml (default: ./shopdata.yaml if present).',
    env: 'SHOPDATA_CONFIG',
    helpGroup: 'GLOBAL',
  }),
  'log-level': Flags.option({
    options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
    description: 'Log level (logs go to stderr; JSON when stderr is not a TTY).',
    env: 'SHOPDATA_LOG_LEVEL',
    helpGroup: 'GLOBAL',
  })(),
};

export const clickhouseFlags = {
  'clickhouse-url': Flags.string({
    description: 'ClickHouse: http(s)://user:pass@host:port, or chdb:PATH for embedded.',
    env: 'SHOPDATA_CLICKHOUSE_URL',
    helpGroup: 'CONNECTION',
  }),
};

export const lakeFlags = {
  lake: Flags.string({
    description: 'The lake: s3://bucket/prefix or a local directory.',
    env: 'SHOPDATA_LAKE',
    helpGroup: 'CONNECTION',
  }),
  's3-endpoint': Flags.string({
    description: 'S3-compatible endpoint (path-style); credentials from AWS_* variables.',
    env: 'SHOPDATA_S3_ENDPOINT',
    helpGroup: 'CONNECTION',
  }),
};

export const kafkaFlags = {
  'kafka-brokers': Flags.string({
    description: 'Comma-separated Kafka brokers host:port.',
    env: 'SHOPDATA_KAFKA_BROKERS',
    helpGroup: 'CONNECTION',
  }),
};

export const connectFlags = {
  'connect-url': Flags.string({
    description: 'Kafka Connect REST URL.',
    env: 'SHOPDATA_CONNECT_URL',
    helpGroup: 'CONNECTION',
  }),
};

export const sourceFlags = {
  'postgres-url': Flags.string({
    description: 'PostgreSQL source: postgres://user:pass@host:port/shop.',
    env: 'SHOPDATA_POSTGRES_URL',
    helpGroup: 'CONNECTION',
  }),
  'mongo-url': Flags.string({
    description: 'MongoDB source: mongodb://host:port/shop_events.',
    env: 'SHOPDATA_MONGO_URL',
    helpGroup: 'CONNECTION',
  }),
};

/** Where a /metrics endpoint listens: loopback, unless the operator opens it to the network. */
export const metricsHostFlag = {
  'metrics-host': Flags.string({
    description: 'Address the /metrics endpoint listens on (0.0.0.0 or :: for all interfaces).',
    env: 'SHOPDATA_METRICS_HOST',
    default: '127.0.0.1',
  }),
};

export const dryRunFlag = {
  'dry-run': Flags.boolean({ description: 'Show what would change; change nothing.', default: false }),
};

/** Flag name → dotted config path, its variable, and a parser for list values. */
export const FLAG_CONFIG_PATHS: Record<
  string,
  { path: string; env: string; parse?: (v: string) => unknown }
> = {
  'clickhouse-url': { path: 'clickhouse.url', env: 'SHOPDATA_CLICKHOUSE_URL' },
  lake: { path: 'lake.uri', env: 'SHOPDATA_LAKE' },
  's3-endpoint': { path: 'lake.s3Endpoint', env: 'SHOPDATA_S3_ENDPOINT' },
  'kafka-brokers': {
    path: 'kafka.brokers',
    env: 'SHOPDATA_KAFKA_BROKERS',
    parse: (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  'connect-url': { path: 'connect.url', env: 'SHOPDATA_CONNECT_URL' },
  'postgres-url': { path: 'postgres.url', env: 'SHOPDATA_POSTGRES_URL' },
  'mongo-url': { path: 'mongo.url', env: 'SHOPDATA_MONGO_URL' },
};

/**
 * Turns parsed flags into config overrides for loadConfig({ flags }). A value oclif filled in from
 * the flag's variable is left to the config loader, so errors name the variable, not a flag.
 */
export function flagOverrides(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(FLAG_CONFIG_PATHS)) {
    const v = flags[name];
    if (typeof v !== 'string' || v === '' || v === env[spec.env]) continue;
    out[spec.path] = spec.parse ? spec.parse(v) : v;
  }
  return out;
}
