import { ConfigError } from '../errors/index.js';
import { maskUrl } from '../config/index.js';

/**
 * SHOPDATA_CLICKHOUSE_URL names one server or several endpoints of one cluster, comma-separated
 * (a YAML list arrives here joined with commas). An entry without a scheme (`host:port`) takes the
 * scheme and credentials of the first one, so a password is written once:
 * `http://writer:secret@ch1:8123,ch2:8123,ch3:8123`.
 */
export function parseEndpoints(url: string): string[] {
  const parts = url
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw badList(url, 'it is empty');
  const first = parts[0]!;
  if (parts.length > 1 && first.startsWith('chdb:'))
    throw badList(url, 'embedded chdb: cannot be one of several endpoints');
  if (parts.length === 1) return parts;
  let base: URL;
  try {
    base = new URL(first);
  } catch {
    throw badList(url, `"${maskUrl(first)}" is not a URL`);
  }
  if (!/^https?:$/.test(base.protocol)) throw badList(url, `"${maskUrl(first)}" is not http(s)://`);
  return parts.map((p, i) => {
    if (i === 0) return p;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
      if (!/^https?:\/\//.test(p)) throw badList(url, `"${maskUrl(p)}" is not http(s)://`);
      return p;
    }
    if (!/^[^\s/:@]+:\d+\/?$/.test(p)) throw badList(url, `"${p}" is neither a URL nor host:port`);
    const u = new URL(base.href);
    u.host = p.replace(/\/$/, '');
    return u.href.replace(/\/$/, '');
  });
}

/** The endpoints with passwords masked, comma-separated, for logs and output. */
export function maskEndpoints(url: string): string {
  return url
    .split(',')
    .map((p) => maskUrl(p.trim()))
    .join(',');
}

function badList(url: string, why: string): ConfigError {
  return new ConfigError(`SHOPDATA_CLICKHOUSE_URL "${maskEndpoints(url)}" is not usable: ${why}.`, {
    hint: 'Give one http(s)://user:pass@host:port, several of them comma-separated (entries may be just host:port after the first), or chdb:PATH.',
  });
}
