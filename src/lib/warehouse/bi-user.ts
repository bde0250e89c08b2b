import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors/index.js';
import type { VaultDatabases } from '../vault/tables.js';
import { sqlString } from './quote.js';

/**
 * The read-only BI user of templates/clickhouse/: users.d XML for 18.16, SQL for ClickHouse ≥ 24.3.
 * There is no default password: it is generated here (or taken from the caller) and only its
 * SHA-256 goes into the configuration.
 */
const TEMPLATES = {
  xml: fileURLToPath(new URL('../../../templates/clickhouse/users.d/shopdata-bi.xml.in', import.meta.url)),
  sql: fileURLToPath(new URL('../../../templates/clickhouse/sql/shopdata-bi.sql.in', import.meta.url)),
} as const;

/** 18 random bytes: 24 characters of base64url, 144 bits. */
const GENERATED_BYTES = 18;
export const MIN_BI_PASSWORD_LENGTH = 16;

export interface BiUserOptions {
  format: 'xml' | 'sql';
  user: string;
  /** Addresses or networks (CIDR) the user may log in from. */
  allowFrom: readonly string[];
  dbs: VaultDatabases;
  /** Given by the operator; generated when absent. */
  password?: string | undefined;
}

export interface BiUser {
  format: 'xml' | 'sql';
  user: string;
  allowFrom: string[];
  /** Databases the user can read (18.16: mart and the vault behind its views). */
  databases: string[];
  /** The generated password, shown once; absent when the operator gave one. */
  generatedPassword?: string;
  /** The rendered users.d file or SQL script. */
  config: string;
}

export function renderBiUser(o: BiUserOptions): BiUser {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(o.user))
    throw new UsageError(`BI user name "${o.user}" must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*).`);
  if (o.allowFrom.length === 0)
    throw new UsageError('The BI user needs at least one address to log in from.', {
      hint: 'Pass --allow-from with the BI tool’s address or network, e.g. --allow-from 10.1.2.0/24.',
    });
  const networks = o.allowFrom.map(parseNetwork);
  if (o.password !== undefined && o.password.length < MIN_BI_PASSWORD_LENGTH)
    throw new UsageError(`SHOPDATA_BI_PASSWORD must be at least ${MIN_BI_PASSWORD_LENGTH} characters.`, {
      hint: 'Unset it to have one generated, or use e.g. `openssl rand -base64 18`.',
    });
  const generated = o.password === undefined ? randomBytes(GENERATED_BYTES).toString('base64url') : undefined;
  const hash = createHash('sha256')
    .update(o.password ?? generated!, 'utf8')
    .digest('hex');
  const vars: Record<string, string> = {
    USER: o.user,
    PASSWORD_SHA256_HEX: hash,
    MART_DB: o.dbs.mart,
    VAULT_DB: o.dbs.vault,
    NETWORKS_XML: networks.map((n) => `                <ip>${xmlNetwork(n)}</ip>`).join('\n'),
    HOSTS_SQL: networks.map((n) => `IP ${sqlString(n)}`).join(', '),
  };
  const template = readFileSync(TEMPLATES[o.format], 'utf8');
  const config = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (m, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`unknown placeholder ${m} in ${TEMPLATES[o.format]}`);
    return v;
  });
  return {
    format: o.format,
    user: o.user,
    allowFrom: networks,
    databases: o.format === 'xml' ? [o.dbs.mart, o.dbs.vault] : [o.dbs.mart],
    ...(generated ? { generatedPassword: generated } : {}),
    config,
  };
}

/**
 * An IPv4 network as 18.16's users.xml needs it. 18.16 applies the prefix length of `a.b.c.d/N`
 * to the IPv6-mapped address (measured: `192.0.2.0/24` and even `192.0.2.0/32` let 127.0.0.1
 * in), so IPv4 networks are written as `::ffff:a.b.c.d/(96+N)`. Single addresses match exactly.
 */
export function xmlNetwork(n: string): string {
  const [addr, prefix] = n.split('/');
  return isIP(addr!) === 4 && prefix !== undefined ? `::ffff:${addr}/${96 + Number(prefix)}` : n;
}

/** `10.0.0.0/8`, `192.168.1.7`, `::1`, `fd00::/8`; anything else is a usage error. */
function parseNetwork(raw: string): string {
  const s = raw.trim();
  const [addr, prefix, extra] = s.split('/');
  const family = isIP(addr ?? '');
  const max = family === 4 ? 32 : 128;
  const ok =
    family !== 0 &&
    extra === undefined &&
    (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max));
  if (!ok)
    throw new UsageError(`--allow-from "${s}" is not an IP address or network.`, {
      hint: 'Use an IPv4/IPv6 address or CIDR network, e.g. 10.1.2.0/24 or ::1.',
    });
  return s;
}
