import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type ShopdataConfig } from './schema.js';
import { ConfigError } from '../errors/index.js';
import { checkPiiSalt } from '../vault/hashing.js';

export type { ShopdataConfig } from './schema.js';
export { SOURCE_TOPICS_DEFAULT, POSTGRES_TABLES, MONGO_COLLECTIONS } from './defaults.js';

/**
 * Where each environment variable lands in the config tree. Values are strings; `parse` turns
 * them into the schema's type so `SHOPDATA_KAFKA_SSL=true` becomes a boolean.
 */
const ENV_MAP: ReadonlyArray<{ env: string; path: string[]; parse?: (v: string) => unknown }> = [
  { env: 'SHOPDATA_CLICKHOUSE_URL', path: ['clickhouse', 'url'] },
  { env: 'SHOPDATA_LAKE', path: ['lake', 'uri'] },
  { env: 'SHOPDATA_S3_ENDPOINT', path: ['lake', 's3Endpoint'] },
  { env: 'SHOPDATA_S3_REGION', path: ['lake', 's3Region'] },
  { env: 'SHOPDATA_ICEBERG_CATALOG_URI', path: ['lake', 'catalog', 'uri'] },
  { env: 'SHOPDATA_ICEBERG_CATALOG_WAREHOUSE', path: ['lake', 'catalog', 'warehouse'] },
  { env: 'SHOPDATA_ICEBERG_CATALOG_NAMESPACE', path: ['lake', 'catalog', 'namespace'] },
  { env: 'SHOPDATA_KAFKA_BROKERS', path: ['kafka', 'brokers'], parse: splitList },
  { env: 'SHOPDATA_KAFKA_SSL', path: ['kafka', 'ssl'], parse: parseBool },
  {
    env: 'SHOPDATA_KAFKA_SASL_MECHANISM',
    path: ['kafka', 'sasl', 'mechanism'],
    parse: (v) => v.toLowerCase(),
  },
  { env: 'SHOPDATA_KAFKA_SASL_USERNAME', path: ['kafka', 'sasl', 'username'] },
  { env: 'SHOPDATA_KAFKA_SASL_PASSWORD', path: ['kafka', 'sasl', 'password'] },
  { env: 'SHOPDATA_CONNECT_URL', path: ['connect', 'url'] },
  { env: 'SHOPDATA_POSTGRES_URL', path: ['postgres', 'url'] },
  { env: 'SHOPDATA_MONGO_URL', path: ['mongo', 'url'] },
  { env: 'SHOPDATA_PII_SALT', path: ['pii', 'salt'] },
  { env: 'SHOPDATA_STREAM_GROUP', path: ['stream', 'groupId'] },
  { env: 'SHOPDATA_STREAM_TOPICS', path: ['stream', 'topics'], parse: splitList },
  { env: 'SHOPDATA_DLQ_TOPIC', path: ['stream', 'dlqTopic'] },
];

/** Overrides from command-line flags, already in config-tree form (see cli/flags.ts). */
export type ConfigOverrides = { [key: string]: unknown };

export interface LoadConfigOptions {
  /** Values from flags: they win over everything. Keys are dotted paths, e.g. `clickhouse.url`. */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** `--config FILE`; otherwise `shopdata.yaml` in `cwd` if it exists. */
  configFile?: string;
  cwd?: string;
}

export interface LoadedConfig {
  config: ShopdataConfig;
  /** Which layer each dotted key came from, for error messages and `--json` diagnostics. */
  sources: Record<string, 'flag' | 'env' | 'file' | 'default'>;
  configFile: string | undefined;
}

/** flags > SHOPDATA_* environment > shopdata.yaml > embedded defaults (docs/CONTRACT.md §2). */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const sources: LoadedConfig['sources'] = {};
  const tree: Record<string, unknown> = {};

  const configFile = opts.configFile
    ? resolve(cwd, opts.configFile)
    : existsSync(resolve(cwd, 'shopdata.yaml'))
      ? resolve(cwd, 'shopdata.yaml')
      : undefined;
  if (configFile) {
    const fileTree = readYaml(configFile);
    for (const [path, value] of flatten(fileTree)) {
      setPath(tree, path, value);
      sources[path.join('.')] = 'file';
    }
  }
  for (const { env: name, path, parse } of ENV_MAP) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(tree, path, parse ? parse(raw) : raw);
    sources[path.join('.')] = 'env';
  }
  for (const [dotted, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    setPath(tree, dotted.split('.'), value);
    sources[dotted] = 'flag';
  }

  const parsed = ConfigSchema.safeParse(tree);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const from = describeSource(key, sources[key], configFile);
      return `${key || '(root)'}: ${issue.message}${from}`;
    });
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Fix the value named above (flags > SHOPDATA_* variables > shopdata.yaml); see README.md "Configuration".',
      details: { problems },
    });
  }
  return { config: parsed.data, sources, configFile };
}

function describeSource(key: string, source: string | undefined, file: string | undefined): string {
  if (source === 'env') {
    const m = ENV_MAP.find((e) => e.path.join('.') === key);
    return m ? ` (from ${m.env})` : ' (from the environment)';
  }
  if (source === 'file') return ` (from ${file})`;
  if (source === 'flag') return ' (from a flag)';
  return '';
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`, {
      hint: 'Check the path given to --config, or remove it to use shopdata.yaml in the current directory.',
    });
  }
  let doc: unknown;
  try {
    // logLevel error: the parser's warnings go to stderr with an excerpt of the file.
    doc = parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    throw new ConfigError(`Config file ${file} is not valid YAML: ${yamlProblem(err)}.`, {
      hint: 'Fix the YAML syntax at the line given above.',
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(
      `Config file ${file} must hold a mapping of sections (clickhouse, lake, kafka, ...).`,
      {
        hint: 'See README.md "Configuration" for an example shopdata.yaml.',
      },
    );
  }
  return doc as Record<string, unknown>;
}

/**
 * Where and what the YAML problem is, without the excerpt of the file that the parser's message
 * carries: the file may hold passwords.
 */
function yamlProblem(err: unknown): string {
  const e = err as { message?: string; code?: string; linePos?: Array<{ line: number; col: number }> };
  // The parser's first sentence names the problem ("Nested mappings are not allowed in compact
  // mappings at line 1, column 6:"); an excerpt follows the colon: after a blank line, or on the
  // same line ("Unresolved alias (…): NAME").
  const what = (e.message ?? String(err))
    .split('\n')[0]!
    .split(/ at line \d|:/)[0]!
    .trim();
  const pos = e.linePos?.[0];
  return `${what}${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}${e.code ? ` (${e.code})` : ''}`;
}

function* flatten(obj: Record<string, unknown>, prefix: string[] = []): Generator<[string[], unknown]> {
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      yield* flatten(v as Record<string, unknown>, [...prefix, k]);
    else yield [[...prefix, k], v];
  }
}

function setPath(tree: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseBool(v: string): boolean | string {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return v; // left as a string so validation names the variable
}

/**
 * The salt for personal data; required outside `demo` (docs/CONTRACT.md §2), with at least 16 random
 * bytes (vault/hashing.ts checkPiiSalt: exit 2 naming `openssl rand -hex 32`).
 */
export function requirePiiSalt(config: ShopdataConfig): string {
  return checkPiiSalt(config.pii.salt, 'SHOPDATA_PII_SALT (or pii.salt in shopdata.yaml)');
}

/** Masks the password in URLs such as http://user:secret@host for logs and output. */
export function maskUrl(url: string): string {
  return maskUrlPasswords(url, '***');
}

/** `scheme://` and what follows it up to white space or a quote (several URLs may share one run). */
const URL_RUN = /[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]*/gi;
const SCHEME_START = /,(?=[a-z][a-z0-9+.-]*:\/\/)/i;

/**
 * Replaces the password of every `scheme://user:password@host` in a text with `mask`. The
 * password runs to the LAST `@` of the URL, so an unencoded `@`, `/` or `:` in it is masked
 * whole, and the user name may be empty (`http://:secret@host`). A URL with a user name but no
 * `:` has no password and stays as it is.
 */
export function maskUrlPasswords(text: string, mask: string): string {
  return text.replace(URL_RUN, (run) =>
    run
      .split(SCHEME_START)
      .map((url) => {
        const start = url.indexOf('://') + 3;
        const at = url.lastIndexOf('@');
        if (at < start) return url;
        const colon = url.indexOf(':', start);
        // `host/path:x@y` is no user info: a user name holds no `/`, `?` or `#`.
        if (colon < 0 || colon > at || /[/?#]/.test(url.slice(start, colon))) return url;
        return `${url.slice(0, colon + 1)}${mask}${url.slice(at)}`;
      })
      .join(','),
  );
}
