import { maskUrlPasswords } from '../config/index.js';

/**
 * Masking of secrets in everything the connectors commands print (rendered and live connector
 * configs, diffs, validation messages and the error traces Connect echoes back) and in errors
 * that may quote SQL (backfill pull).
 *
 * Two layers: values known to be secret (passwords in SHOPDATA_* URLs, secret-looking variables,
 * values behind local `${file:…}` references) are replaced wherever they occur; and shapes that
 * usually carry a secret (`user:pass@` in URLs, `password=…`, `"token": "…"`) are masked even when
 * the value is not known.
 */

export const MASK = '********';

/** Config keys (or any key=value key) whose value is a secret. `key.converter` is not one. */
const SECRET_KEY =
  /(^|[._-])(password|passwd|pwd|secret|secrets|token|api[._-]?key|apikey|access[._-]?key|private[._-]?key|credentials?|jaas[._-]config|auth[._-]?header)($|[._-])/i;

/**
 * The Iceberg sink's per-table settings, `iceberg.table.<namespace>.<table>.<setting>`: only the
 * setting names a secret; a table name such as `auth_credentials` does not.
 */
const ICEBERG_PER_TABLE = /^iceberg\.table\..+\.([A-Za-z-]+)$/;

export function isSecretKey(key: string): boolean {
  const perTable = ICEBERG_PER_TABLE.exec(key);
  return SECRET_KEY.test(perTable ? perTable[1]! : key);
}

/** A whole value that is one or more Kafka Connect config-provider references, e.g. `${file:/p:k}`. */
const PROVIDER_REF = /\$\{[a-z][A-Za-z0-9_-]*:[^{}]*\}/g;

export function isProviderReference(value: string): boolean {
  return value.trim() !== '' && value.replace(PROVIDER_REF, '').trim() === '';
}

/** The provider references inside a value: `${file:/etc/x.properties:pw}` → {provider, path, key}. */
export function providerReferences(
  value: string,
): Array<{ provider: string; path: string; key: string | undefined; raw: string }> {
  const out: Array<{ provider: string; path: string; key: string | undefined; raw: string }> = [];
  for (const m of value.matchAll(PROVIDER_REF)) {
    const body = m[0].slice(2, -1);
    const i = body.indexOf(':');
    const provider = body.slice(0, i);
    const rest = body.slice(i + 1);
    // `${file:PATH:KEY}` — the key follows the last colon; `${env:VAR}` has no key part.
    const j = rest.lastIndexOf(':');
    out.push(
      j > 0
        ? { provider, path: rest.slice(0, j), key: rest.slice(j + 1), raw: m[0] }
        : { provider, path: rest, key: undefined, raw: m[0] },
    );
  }
  return out;
}

/** `password=x`, `password: x`, `"password":"x"`, `'token' = 'x'` — in traces and messages. */
const KEY_VALUE =
  /(["']?[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[._-]?key|apikey|access[._-]?key|private[._-]?key|credentials?)["']?\s*[:=]\s*)(\[hidden\]|\$\{[^{}]*\}|"[^"]*"|'[^']*'|[^\s,;)}\]]+)/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;

/** The forms a secret takes in text: as is, URL-encoded, inside a JSON string, inside an SQL literal. */
function secretForms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'"),
  ];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Masker {
  /** Masked wherever they occur. */
  private readonly secrets = new Set<string>();
  /** Masked where they stand as a whole value (see `add`). */
  private readonly weak = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  /**
   * Registers a secret value in all its forms. A secret shorter than 4 characters, or one that is
   * also a user name (`weak`), would garble every message if replaced inside words ("shopdata
   * connectors restart"), so it is masked where it stands as a whole value: an entire string, in
   * quotes, after `=` or `:`, or as a URL's user name.
   */
  add(secret: string | undefined, opts: { weak?: boolean } = {}): this {
    if (!secret) return this;
    const target = opts.weak || secret.length < 4 ? this.weak : this.secrets;
    for (const form of secretForms(secret)) target.add(form);
    return this;
  }

  get size(): number {
    return this.secrets.size + this.weak.size;
  }

  /** Masks known secrets and secret-shaped fragments in free text (messages, traces). */
  text(input: string): string {
    let out = input;
    // Longest first, so that a secret containing another is masked whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    out = this.maskWeak(out);
    out = maskUrlPasswords(out, MASK);
    out = out.replace(KEY_VALUE, (m, head: string, value: string) => {
      const bare = value.replace(/^["']|["']$/g, '');
      // Keep provider references, Connect's own "[hidden]" and already-masked values readable.
      if (bare === '' || bare === MASK || bare === '[hidden]' || isProviderReference(bare) || bare === 'null')
        return m;
      const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
      return `${head}${quote}${MASK}${quote}`;
    });
    out = out.replace(BEARER, (_m, kind: string) => `${kind} ${MASK}`);
    return out;
  }

  private maskWeak(input: string): string {
    if (this.weak.size === 0) return input;
    if (this.weak.has(input)) return MASK;
    const alt = [...this.weak]
      .sort((a, b) => b.length - a.length)
      .map(escapeRe)
      .join('|');
    return input
      .replace(new RegExp(`(["'])(?:${alt})\\1`, 'g'), `$1${MASK}$1`)
      .replace(new RegExp(`([=:]\\s*)(?:${alt})(?=$|[\\s,;)}\\]&"'/@])`, 'g'), `$1${MASK}`)
      .replace(new RegExp(`(//)(?:${alt})(?=[:@])`, 'g'), `$1${MASK}`);
  }

  /** One config value for display: a secret key shows only provider references, never a value. */
  value(key: string, value: string | null | undefined): string | null {
    if (value === null || value === undefined) return null;
    if (isSecretKey(key) && value !== '' && !isProviderReference(value)) return MASK;
    return this.text(value);
  }

  /** A whole connector config for display. */
  config(config: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) out[k] = this.value(k, v) ?? '';
    return out;
  }

  /** Any JSON-like value (a command result): every string is masked as text, secret keys as values. */
  deep<T>(input: T): T {
    const walk = (v: unknown, key: string | undefined): unknown => {
      if (typeof v === 'string')
        return key !== undefined && isSecretKey(key) ? this.value(key, v) : this.text(v);
      if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
      if (v && typeof v === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = walk(x, k);
        return out;
      }
      return v;
    };
    return walk(input, undefined) as T;
  }
}

/**
 * The user and password inside a URL (`postgres://u:p@h/db` → u, p), decoded; undefined when
 * there is no password. The password runs to the last `@`, so an unencoded `@` or `/` in it
 * belongs to it, and the user name may be empty.
 */
export function urlCredentials(url: string | undefined): { user: string; password: string } | undefined {
  if (!url) return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!m) return undefined;
  const start = m[0].length;
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', start);
  if (at < start || colon < 0 || colon > at || /[/?#]/.test(url.slice(start, colon))) return undefined;
  const password = safeDecode(url.slice(colon + 1, at));
  return password ? { user: safeDecode(url.slice(start, colon)), password } : undefined;
}

/** The password inside a URL, decoded; undefined when there is none. */
export function urlPassword(url: string | undefined): string | undefined {
  return urlCredentials(url)?.password;
}

/** Registers a URL's password; one equal to its user name is weak (the user name shows it). */
function addUrlPassword(m: Masker, url: string | undefined): void {
  const c = urlCredentials(url);
  if (c) m.add(c.password, { weak: c.password === c.user });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Environment variables whose names say they hold a secret. */
const SECRET_ENV = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|SALT)$/i;

/**
 * The secrets a connectors command knows about: passwords in the SHOPDATA_* URLs, secret-named
 * variables (SHOPDATA_KAFKA_SASL_PASSWORD, AWS_SECRET_ACCESS_KEY, SHOPDATA_PII_SALT, …).
 */
export function maskerFromEnvironment(env: NodeJS.ProcessEnv, urls: Array<string | undefined>): Masker {
  const m = new Masker();
  for (const u of urls) addUrlPassword(m, u);
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_ENV.test(name) && !isProviderReference(value)) m.add(value);
    if (/_URL$/.test(name)) addUrlPassword(m, value);
  }
  return m;
}

/**
 * Masks every secret the masker knows in an error, in place: message, stack (which holds its own
 * copy of the message), hint, details, a WarehouseQueryError's sql, and the same along the cause
 * chain. Returns the error for `throw redactError(err, m)`.
 */
export function redactError<T>(err: T, masker: Masker): T {
  const seen = new Set<unknown>();
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8 && !seen.has(e); depth++) {
    seen.add(e);
    const x = e as Error & { hint?: unknown; details?: unknown; sql?: unknown };
    x.message = masker.text(x.message);
    if (typeof x.stack === 'string') x.stack = masker.text(x.stack);
    for (const k of ['hint', 'sql'] as const) {
      // sql is a readonly property of WarehouseQueryError
      if (typeof x[k] === 'string') Object.defineProperty(x, k, { value: masker.text(x[k] as string) });
    }
    if (x.details !== undefined) Object.defineProperty(x, 'details', { value: masker.deep(x.details) });
    e = x.cause;
  }
  return err;
}
