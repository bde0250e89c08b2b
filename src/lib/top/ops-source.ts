import { openWarehouse } from '../warehouse/index.js';
import type { Warehouse } from '../warehouse/types.js';
import type { OpsLoadsView } from './types.js';

/**
 * The stream's freshness and insert rate as the warehouse saw them: `<ops>.loads`, one row per
 * vault table and batch that `stream` wrote (src/lib/vault/writer.ts). Only for a ClickHouse
 * server: opening the embedded chDB directory would take it from the process that writes it.
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
      // Strings: 18.16 quotes 64-bit integers in JSON output anyway. The time window bounds the scan.
      const [row] = await this.wh.query<{
        newest_us: string;
        rows_60s: string;
        last_load: string;
        loads: string;
      }>(
        `SELECT toString(max(max_effective_us)) AS newest_us,
                toString(sumIf(rows, loaded_at >= toDateTime(${Math.floor(now / 1000) - 60}))) AS rows_60s,
                toString(max(toUInt32(loaded_at))) AS last_load,
                toString(count()) AS loads
         FROM ${this.opsDatabase}.loads
         WHERE command = 'stream' AND loaded_at >= toDateTime(${Math.floor(now / 1000) - 86_400})`,
      );
      const loads = Number(row?.loads ?? 0);
      return {
        freshnessSeconds: loads ? Math.max(0, now / 1000 - Number(row!.newest_us) / 1e6) : null,
        insertRate: Number(row?.rows_60s ?? 0) / 60,
        lastLoadAgeSeconds: loads ? Math.max(0, now / 1000 - Number(row!.last_load)) : null,
        loadsLastDay: loads,
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
