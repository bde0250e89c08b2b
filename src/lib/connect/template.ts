import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, UsageError } from '../errors/index.js';
import type { ShopdataConfig } from '../config/index.js';
import { isProviderReference, isSecretKey, providerReferences } from './mask.js';

/**
 * Connector templates: `templates/connectors/*.yaml` (JSON works too, it is YAML). Each file is
 *
 *     name: "${SHOPDATA_CONNECT_PG_NAME:-shop-postgres}"
 *     config:
 *       connector.class: io.debezium.connector.postgresql.PostgresConnector
 *       database.hostname: "${PG_HOST}"
 *       database.password: "${SHOPDATA_CONNECT_PG_PASSWORD_REF:-${env:SHOPDATA_POSTGRES_PASSWORD}}"
 *
 * Placeholders are filled by the CLI: `${NAME}` and `${NAME:-default}` (default used when NAME is
 * unset or empty; it may hold placeholders itself). NAME is a SHOPDATA_* environment variable or a
 * value derived from the layered config (see `deriveVariables`). Lower-case `${provider:…}` is a
 * Kafka Connect config-provider reference and reaches Connect unchanged, so the worker resolves
 * the secret and Connect stores and shows only the reference. Secret-named keys must hold such
 * references: rendering refuses inline secrets.
 */

export const DEFAULT_TEMPLATE_DIR = fileURLToPath(new URL('../../../templates/connectors/', import.meta.url));

export interface ConnectorTemplate {
  /** File name without extension, e.g. `shop-postgres`; usable as NAME in the commands. */
  id: string;
  file: string;
  description: string | undefined;
  name: unknown;
  config: Record<string, unknown>;
}

export interface RenderedConnector {
  template: string;
  file: string;
  /** The connector name on Connect. */
  name: string;
  connectorClass: string;
  /** The config to PUT (without `name`, which Connect adds itself); every value a string. */
  config: Record<string, string>;
}

/** Where each derived variable comes from, for error messages. */
const DERIVED_FROM: Record<string, string> = {
  PG_HOST: 'SHOPDATA_POSTGRES_URL (--postgres-url)',
  PG_PORT: 'SHOPDATA_POSTGRES_URL (--postgres-url)',
  PG_USER: 'SHOPDATA_POSTGRES_URL (--postgres-url)',
  PG_DATABASE: 'SHOPDATA_POSTGRES_URL (--postgres-url)',
  MONGO_CONNECTION_STRING: 'SHOPDATA_MONGO_URL (--mongo-url)',
  MONGO_HOSTS: 'SHOPDATA_MONGO_URL (--mongo-url)',
  MONGO_USER: 'SHOPDATA_MONGO_URL (--mongo-url)',
  MONGO_DATABASE: 'SHOPDATA_MONGO_URL (--mongo-url)',
};

export function loadTemplates(dir: string = DEFAULT_TEMPLATE_DIR): ConnectorTemplate[] {
  const root = resolve(dir);
  let names: string[];
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
    names = readdirSync(root);
  } catch (err) {
    throw new ConfigError(`Cannot read the connector templates in ${root}: ${(err as Error).message}`, {
      hint: 'Point --templates (or SHOPDATA_CONNECT_TEMPLATES) at a directory of *.yaml connector templates.',
    });
  }
  const files = names.filter((n) => ['.yaml', '.yml', '.json'].includes(extname(n))).sort();
  if (files.length === 0) {
    throw new ConfigError(`No connector templates (*.yaml, *.yml, *.json) in ${root}.`, {
      hint: 'See templates/connectors/README.md for the template format.',
    });
  }
  return files.map((f) => parseTemplate(join(root, f), readFileSync(join(root, f), 'utf8')));
}

export function parseTemplate(file: string, text: string): ConnectorTemplate {
  const id = basename(file, extname(file));
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`Connector template ${file} is not valid YAML/JSON: ${(err as Error).message}`, {
      hint: 'Fix the syntax at the line given above.',
    });
  }
  const bad = (what: string) =>
    new ConfigError(`Connector template ${file}: ${what}`, {
      hint: 'A template is a mapping with `name` and `config` (see templates/connectors/README.md).',
    });
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw bad('must be a mapping with `name` and `config`.');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (!['name', 'config', 'description'].includes(k))
      throw bad(`unknown top-level key \`${k}\` (allowed: name, config, description).`);
  if (typeof d.name !== 'string' || d.name === '') throw bad('`name` must be a non-empty string.');
  if (!d.config || typeof d.config !== 'object' || Array.isArray(d.config))
    throw bad('`config` must be a mapping of Connect settings.');
  const config = d.config as Record<string, unknown>;
  for (const [k, v] of Object.entries(config)) {
    if (v !== null && typeof v === 'object')
      throw bad(
        `config \`${k}\` must be a scalar (string, number or boolean), not a ${Array.isArray(v) ? 'list' : 'mapping'}.`,
      );
  }
  if (typeof config['connector.class'] !== 'string') throw bad('`config` needs `connector.class`.');
  if (d.description !== undefined && typeof d.description !== 'string')
    throw bad('`description` must be a string.');
  return { id, file, description: d.description as string | undefined, name: d.name, config };
}

/**
 * The variables templates may use: every SHOPDATA_* environment variable, and values derived from
 * the layered config (flags > env > shopdata.yaml) so that host, port and user are written once:
 * PG_HOST, PG_PORT, PG_USER, PG_DATABASE from the PostgreSQL URL; MONGO_CONNECTION_STRING (without
 * credentials), MONGO_HOSTS, MONGO_USER, MONGO_DATABASE from the MongoDB URL. Passwords in those
 * URLs are never offered to templates.
 */
export function deriveVariables(
  config: Pick<ShopdataConfig, 'postgres' | 'mongo'>,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('SHOPDATA_') && v !== undefined) vars[k] = v;
  if (config.postgres.url) Object.assign(vars, postgresVariables(config.postgres.url));
  if (config.mongo.url) Object.assign(vars, mongoVariables(config.mongo.url));
  return vars;
}

export function postgresVariables(url: string): Record<string, string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(
      'SHOPDATA_POSTGRES_URL is not a URL (expected postgres://user:pass@host:port/shop).',
      {
        hint: 'Fix SHOPDATA_POSTGRES_URL or --postgres-url.',
      },
    );
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) {
    throw new ConfigError(`SHOPDATA_POSTGRES_URL must start with postgres:// (got ${u.protocol}//).`, {
      hint: 'Fix SHOPDATA_POSTGRES_URL or --postgres-url.',
    });
  }
  const out: Record<string, string> = {
    PG_HOST: u.hostname.replace(/^\[|\]$/g, ''),
    PG_PORT: u.port || '5432',
    PG_DATABASE: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'shop',
  };
  if (u.username) out.PG_USER = decodeURIComponent(u.username);
  return out;
}

/** mongodb://user:pass@h1:27017,h2:27017/shop_events?replicaSet=rs0 (several hosts: not a WHATWG URL). */
export function mongoVariables(url: string): Record<string, string> {
  const m = /^(mongodb(?:\+srv)?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(
    url,
  );
  if (!m) {
    throw new ConfigError(
      'SHOPDATA_MONGO_URL is not a MongoDB URL (expected mongodb://host:port/shop_events).',
      {
        hint: 'Fix SHOPDATA_MONGO_URL or --mongo-url.',
      },
    );
  }
  const [, scheme, user, , hosts, db, query] = m;
  const out: Record<string, string> = {
    MONGO_HOSTS: hosts!,
    MONGO_DATABASE: decodeURIComponent(db ?? '') || 'shop_events',
    MONGO_CONNECTION_STRING: `${scheme}://${hosts}/${query ? `?${query}` : ''}`,
  };
  if (user) out.MONGO_USER = decodeURIComponent(user);
  return out;
}

interface RenderState {
  vars: Record<string, string>;
  missing: Set<string>;
  problems: string[];
}

/** Fills `${NAME}` / `${NAME:-default}`; keeps `${provider:…}` (its inside may hold placeholders). */
export function renderString(input: string, state: RenderState): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const start = input.indexOf('${', i);
    if (start < 0) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, start);
    let depth = 0;
    let end = -1;
    for (let j = start; j < input.length; j++) {
      if (input[j] === '$' && input[j + 1] === '{') {
        depth++;
        j++;
      } else if (input[j] === '}') {
        depth--;
        if (depth === 0) {
          end = j;
          break;
        }
      }
    }
    if (end < 0) {
      state.problems.push(`unclosed placeholder in "${input}"`);
      out += input.slice(start);
      break;
    }
    const inner = input.slice(start + 2, end);
    if (/^[a-z][A-Za-z0-9_-]*:/.test(inner)) {
      out += '${' + renderString(inner, state) + '}';
    } else {
      const m = /^([A-Z][A-Z0-9_]*)(?::-([\s\S]*))?$/.exec(inner);
      if (!m) {
        state.problems.push(
          `\${${inner}} is neither a variable (\${NAME}, \${NAME:-default}) nor a config-provider reference (\${env:VAR}, \${file:PATH:KEY})`,
        );
      } else {
        const [, name, fallback] = m;
        const value = state.vars[name!];
        if (!name!.startsWith('SHOPDATA_') && !(name! in DERIVED_FROM)) {
          state.problems.push(
            `\${${name}}: templates may use SHOPDATA_* variables and ${Object.keys(DERIVED_FROM).join(', ')} only`,
          );
        } else if (value !== undefined && value !== '') {
          out += value;
        } else if (fallback !== undefined) {
          out += renderString(fallback, state);
        } else {
          state.missing.add(name!);
        }
      }
    }
    i = end + 1;
  }
  return out;
}

function describeMissing(name: string): string {
  return DERIVED_FROM[name]
    ? `${name} (from ${DERIVED_FROM[name]}, which is not set or has no such part)`
    : name;
}

/** Renders one template; throws ConfigError naming every missing variable and inline secret. */
export function renderTemplate(t: ConnectorTemplate, vars: Record<string, string>): RenderedConnector {
  const state: RenderState = { vars, missing: new Set(), problems: [] };
  const name = renderString(String(t.name), state);
  const config: Record<string, string> = {};
  for (const [rawKey, v] of Object.entries(t.config)) {
    if (v === null || v === undefined) continue;
    const k = renderKey(rawKey, state);
    if (k === undefined) continue;
    if (k in config) {
      state.problems.push(`two settings render to the key ${k}`);
      continue;
    }
    const rendered = renderString(String(v), state);
    // A setting that renders empty (`${MONGO_USER:-}` without a user) is left out, not sent as "".
    if (rendered !== '') config[k] = rendered;
  }
  if (state.missing.size > 0) {
    state.problems.unshift(
      `missing variable${state.missing.size > 1 ? 's' : ''}: ${[...state.missing].map(describeMissing).join(', ')}`,
    );
  }
  for (const [k, v] of Object.entries(config)) {
    const inline = inlineSecretProblem(k, v);
    if (inline) state.problems.push(inline);
  }
  if (name !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    state.problems.push(`connector name "${name}" may only hold letters, digits, '.', '_' and '-'`);
  if (state.problems.length > 0) {
    throw new ConfigError(
      `Connector template ${t.id} (${t.file}) cannot be rendered:\n  - ${state.problems.join('\n  - ')}`,
      {
        hint:
          state.missing.size > 0
            ? 'Set the variables named above (see templates/connectors/README.md).'
            : 'Fix the template or the variables named above.',
        details: { template: t.id, problems: state.problems },
      },
    );
  }
  return { template: t.id, file: t.file, name, connectorClass: config['connector.class']!, config };
}

/**
 * A key may hold `${NAME}` placeholders too, for settings whose names carry a value (the Iceberg
 * sink's `iceberg.table.<namespace>.<table>.route-regex`). Config-provider references make no sense
 * there (Connect resolves values only), and a key must render to one non-empty word.
 */
function renderKey(raw: string, state: RenderState): string | undefined {
  if (!raw.includes('${')) return raw;
  if (providerReferences(raw).length > 0) {
    state.problems.push(`key ${raw} holds a config-provider reference; only values may`);
    return undefined;
  }
  const key = renderString(raw, state);
  if (!/^[A-Za-z0-9][\x21-\x7e]*$/.test(key)) {
    state.problems.push(`key ${raw} renders to "${key}", which is not a setting name`);
    return undefined;
  }
  return key;
}

/**
 * Secrets reach Connect only as config-provider references: an inline value would be stored in
 * clear text in Connect's config topic and shown by GET /connectors/{name}/config.
 */
export function inlineSecretProblem(key: string, value: string): string | undefined {
  if (isSecretKey(key) && value !== '' && !isProviderReference(value)) {
    return `${key} holds an inline secret; use a Kafka Connect config-provider reference such as \${env:VAR} or \${file:/path/secrets.properties:key}`;
  }
  const userinfo = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:([^\s@/]+)@/i.exec(value);
  if (userinfo && !isProviderReference(userinfo[1]!)) {
    return `${key} holds a URL with an inline password; put a config-provider reference (\${env:VAR}, \${file:PATH:KEY}) in its place`;
  }
  return undefined;
}

/**
 * Picks templates by NAME: a template id (file name without extension) or a rendered connector name.
 * No names: all templates.
 */
export function selectTemplates(
  templates: ConnectorTemplate[],
  names: string[],
  vars: Record<string, string>,
): ConnectorTemplate[] {
  if (names.length === 0) return templates;
  const picked: ConnectorTemplate[] = [];
  for (const n of names) {
    let t = templates.find((x) => x.id === n);
    // By the name it renders to; only `name` is rendered, so a template with other problems is
    // still found (and then reports them).
    t ??= templates.find((x) => {
      const state: RenderState = { vars, missing: new Set(), problems: [] };
      return (
        renderString(String(x.name), state) === n && state.missing.size === 0 && state.problems.length === 0
      );
    });
    if (!t) {
      throw new UsageError(`No connector template or templated connector named "${n}".`, {
        hint: `Templates: ${templates.map((x) => x.id).join(', ')} (a template's id, or the connector name it renders to).`,
      });
    }
    if (!picked.includes(t)) picked.push(t);
  }
  return picked;
}

/** Local files behind `${file:PATH:KEY}` references, read when this machine can: their values are secrets to mask. */
export function localFileSecrets(config: Record<string, string>): string[] {
  const out: string[] = [];
  for (const v of Object.values(config)) {
    for (const ref of providerReferences(v)) {
      if (ref.provider !== 'file' || !ref.key) continue;
      try {
        for (const line of readFileSync(ref.path, 'utf8').split('\n')) {
          const m = /^\s*([^#!=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(line);
          if (m && m[1] === ref.key && m[2]) out.push(m[2].trim());
        }
      } catch {
        // Not readable here (the worker runs elsewhere): nothing to learn.
      }
    }
  }
  return out;
}
