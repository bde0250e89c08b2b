import { ConfigError } from '../errors/index.js';
import type { ShopdataConfig } from '../config/index.js';
import type { OpenWarehouseOptions, Warehouse } from './types.js';
import { parseEndpoints } from './endpoints.js';

export type { Warehouse, ServerVersion, Settings, OpenWarehouseOptions } from './types.js';
export { WarehouseQueryError } from './errors.js';

/**
 * Opens the warehouse named by a URL: http(s):// → ClickHouse server, chdb:PATH → embedded,
 * several http(s) endpoints comma-separated → one cluster with failover between them.
 */
export async function openWarehouse(url: string, opts: OpenWarehouseOptions = {}): Promise<Warehouse> {
  const endpoints = parseEndpoints(url);
  if (endpoints.length > 1) {
    const { FailoverWarehouse } = await import('./failover.js');
    const wh = new FailoverWarehouse(endpoints, opts);
    await wh.version(); // fail fast (exit 3) if no endpoint can be reached
    return wh;
  }
  url = endpoints[0]!;
  if (url.startsWith('chdb:')) {
    const { ChdbWarehouse } = await import('./chdb.js');
    return ChdbWarehouse.open(url, opts);
  }
  if (/^https?:\/\//.test(url)) {
    const { HttpWarehouse } = await import('./http.js');
    const wh = new HttpWarehouse(url, opts);
    await wh.version(); // fail fast (exit 3) if the server cannot be reached
    return wh;
  }
  throw new ConfigError(`Unsupported ClickHouse URL "${url}".`, {
    hint: 'Use http(s)://user:pass@host:port for a server or chdb:PATH for the embedded engine.',
  });
}

export function openConfiguredWarehouse(
  config: ShopdataConfig,
  opts: OpenWarehouseOptions = {},
): Promise<Warehouse> {
  return openWarehouse(config.clickhouse.url, {
    requestTimeoutMs: config.clickhouse.requestTimeoutMs,
    retries: config.clickhouse.retries,
    ...opts,
  });
}

/**
 * The warehouse for a caller that retries by itself with backoff, metrics and a give-up time (the
 * stream's loader): one attempt per endpoint, failover included, so an outage reaches that caller
 * at once instead of after the warehouse's own rounds of retries. Closes `wh` if it made a copy.
 */
export async function forRetryingCaller(wh: Warehouse): Promise<Warehouse> {
  const withRetries = (wh as Partial<{ withRetries(n: number): Warehouse }>).withRetries;
  if (typeof withRetries !== 'function') return wh;
  const once = withRetries.call(wh, 0);
  await wh.close();
  return once;
}
