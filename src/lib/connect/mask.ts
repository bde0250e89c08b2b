/**
 * Masking of secrets in everything the connectors commands print: rendered and live connector
 * configs, diffs, validation messages and the error traces Connect echoes back.
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

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
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

/** `scheme://user:pass@host` → `scheme://user:********@host` (the password may be empty). */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@/'"]+)@/gi;
/** `password=x`, `password: x`, `"password":"x"`, `'token' = 'x'` — in traces and messages. */
const KEY_VALUE =
  /(["']?[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[._-]?key|apikey|access[._-]?key|private[._-]?key|credentials?)["']?\s*[:=]\s*)(\[hidden\]|\$\{[^{}]*\}|"[^"]*"|'[^']*'|[^\s,;)}\]]+)/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;

export class Masker {
  private readonly secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  /** Registers a secret value; values shorter than 4 characters would mask too much and are kept. */
  add(secret: string | undefined): this {
    if (secret && secret.length >= 4) {
      this.secrets.add(secret);
      // Also the forms a secret takes inside URLs and JSON strings.
      const enc = encodeURIComponent(secret);
      if (enc !== secret) this.secrets.add(enc);
      const json = JSON.stringify(secret).slice(1, -1);
      if (json !== secret) this.secrets.add(json);
    }
    return this;
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Masks known secrets and secret-shaped fragments in free text (messages, traces). */
  text(input: string): string {
    let out = input;
    // Longest first, so that a secret containing another is masked whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    out = out.replace(URL_USERINFO, (_m, head: string) => `${head}${MASK}@`);
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

/** The password inside a URL (`postgres://u:p@h/db` → `p`), decoded; undefined when there is none. */
export function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^:/@]*):([^@/]*)@/i.exec(url);
  if (!m?.[2]) return undefined;
  const [user, pass] = [safeDecode(m[1]!), safeDecode(m[2])];
  // A password equal to the user name is shown with every user name anyway; masking it would
  // only garble every message that names the role (the local stack's shopdata/shopdata).
  return pass === user ? undefined : pass;
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
  for (const u of urls) m.add(urlPassword(u));
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_ENV.test(name) && !isProviderReference(value)) m.add(value);
    if (/_URL$/.test(name)) m.add(urlPassword(value));
  }
  return m;
}
