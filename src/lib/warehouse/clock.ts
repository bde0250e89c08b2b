import type { Warehouse } from './types.js';

/** Now, by some clock. */
export interface Clock {
  now(): Date;
}

/**
 * The warehouse server's clock, which stamps `load_ts`: a loader on a host whose clock is ahead
 * would otherwise write load times in the server's future (vault check's future-load-times), and
 * loaders on several hosts would disagree. Read once with `SELECT now()` (whole seconds, rounded
 * down, so never ahead of the server), then followed on this process's monotonic clock.
 */
export async function readWarehouseClock(wh: Warehouse): Promise<Clock> {
  const rows = await wh.query<{ s: string | number }>('SELECT toUnixTimestamp(now()) AS s');
  const readAt = performance.now();
  const serverMs = Number(rows[0]?.s) * 1000;
  if (!Number.isFinite(serverMs) || serverMs <= 0) return { now: () => new Date() };
  return { now: () => new Date(serverMs + (performance.now() - readAt)) };
}
