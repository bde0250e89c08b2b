import { openWarehouse } from '../warehouse/index.js';
import type { Warehouse } from '../warehouse/types.js';
import type { OpsLoadsView } from './types.js';

/**
 * The stream's freshness and insert rate as the warehouse saw them, and the last backfill:
 * `<ops>.loads`, one row per vault table and record source of each batch `stream` confirmed
 * (src/lib/stream/loader.ts) and of each day `backfill` rebuilt (src/lib/backfill/run.ts). Only
 * for a ClickHouse server: opening the embedded chDB directory would take it from the process
 * that writes it.
 */
export class OpsLoadsSource {
  private wh: Warehouse | undefined;

  constructor(
    private readonly url: string,
    private readonly opsDatabase = 'ops',
    private readonly timeoutMs = 3000,
  ) {
    if (!/^https?:\/\//.test(url)) throw new Error(`not a ClickHouse server URL: ${url}`);
    if (!/^[A-Za-z0-9_]+$/.test(opsDatabase)) throw new Error(`bad ops database name "${opsDatabase}"`);
  }

  async poll(now: number = Date.now()): Promise<OpsLoadsView> {
    try {
      this.wh ??= await openWarehouse(this.url, { requestTimeoutMs: this.timeoutMs, retries: 0 });
      // Strings: 18.16 quotes 64-bit integers in JSON output anyway. The time window bounds the
      // scan: a day for the stream, a week for the (daily) backfill.
      const nowS = Math.floor(now / 1000);
      const stream = `command = 'stream' AND loaded_at >= toDateTime(${nowS - 86_400})`;
      const [row] = await this.wh.query<Record<string, string>>(
        `SELECT toString(maxIf(max_effective_us, ${stream})) AS newest_us,
                toString(sumIf(rows, ${stream} AND loaded_at >= toDateTime(${nowS - 60}))) AS rows_60s,
                toString(maxIf(toUInt32(loaded_at), ${stream})) AS last_load,
                toString(countIf(${stream})) AS loads,
                toString(countIf(command = 'backfill')) AS backfills,
                toString(maxIf(toUInt32(loaded_at), command = 'backfill')) AS last_backfill,
                toString(maxIf(max_effective_us, command = 'backfill')) AS backfill_newest_us
         FROM ${this.opsDatabase}.loads
         WHERE loaded_at >= toDateTime(${nowS - 7 * 86_400})`,
      );
      const loads = Number(row?.loads ?? 0);
      const backfills = Number(row?.backfills ?? 0);
      return {
        freshnessSeconds: loads ? Math.max(0, now / 1000 - Number(row!.newest_us) / 1e6) : null,
        insertRate: Number(row?.rows_60s ?? 0) / 60,
        lastLoadAgeSeconds: loads ? Math.max(0, now / 1000 - Number(row!.last_load)) : null,
        loadsLastDay: loads,
        lastBackfillAgeSeconds: backfills ? Math.max(0, now / 1000 - Number(row!.last_backfill)) : null,
        backfilledThrough: backfills
          ? new Date(Number(row!.backfill_newest_us) / 1000).toISOString().slice(0, 10)
          : null,
      };
    } catch (err) {
      const wh = this.wh;
      this.wh = undefined;
      await wh?.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.wh?.close();
    this.wh = undefined;
  }
}
