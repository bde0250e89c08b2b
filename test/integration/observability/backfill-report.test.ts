import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { sampleChanges, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { s3Lake } from '../lake/helpers.js';
import { SALT, createVault, dropVault, openServer } from '../backfill/helpers.js';
import { reportBackfill } from '../../../src/lib/observability/run-reports.js';
import { deleteRunMetrics } from '../../../src/lib/observability/pushgateway.js';
import { BACKFILL_METRICS, PUSH_JOBS } from '../../../src/lib/observability/metric-names.js';

// A real backfill (S3 Iceberg lake → ClickHouse 18.16, push mode) reported the way the command
// reports it: per-day run metrics to the real Pushgateway (scraped by the real Prometheus, whose
// ShopdataBackfillDayFailed rule fires for a failed day). Its spans: tracing.test.ts.
// A unique `instance` grouping label keeps this test's groups apart from everyone else's.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const instance = uniqueName('bfobs');
let wh: Warehouse;
let io: LakeIO;
let dbs: VaultDatabases;

async function prom(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  return (
    (await res.json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    }
  ).data.result;
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

beforeAll(async () => {
  wh = await openServer();
  io = openLake(s3Lake('bfobs'), { s3Endpoint: stack.s3Endpoint });
  const changes = sampleChanges(12, 3);
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
  dbs = await createVault(wh, 'bfobs');
  const rules = (await (await fetch(`${stack.prometheusUrl}/api/v1/rules`)).json()) as {
    data: { groups: Array<{ rules: Array<{ name: string }> }> };
  };
  if (!rules.data.groups.some((g) => g.rules.some((r) => r.name === 'ShopdataBackfillDayFailed')))
    await fetch(`${stack.prometheusUrl}/-/reload`, { method: 'POST' });
});

afterAll(async () => {
  for (const day of [DAY1, DAY2])
    await deleteRunMetrics(stack.pushgatewayUrl, PUSH_JOBS.backfill, { day, instance }).catch(
      () => undefined,
    );
  if (dbs) await dropVault(wh, dbs);
  io?.close();
  await wh?.close();
});

describe('backfill run reporting (Pushgateway, Prometheus, Jaeger)', () => {
  it("pushes each rebuilt day's metrics, scraped by Prometheus", async () => {
    const startedAt = new Date();
    const days = [DAY1, DAY2];
    const result = await runBackfill({ wh, io, dbs, days, format: 'auto', mode: 'auto', piiSalt: SALT });
    expect(result.days.map((d) => d.status)).toEqual(['done', 'done']);
    const pushed = await reportBackfill({ days, result, startedAt, url: stack.pushgatewayUrl, instance });
    expect(pushed.map((p) => p.pushed)).toEqual([true, true]);

    // Prometheus scraped what the backfill reported: success and rows per vault table, per day.
    const success = await until('success scraped', 20_000, async () => {
      const r = await prom(`${BACKFILL_METRICS.daySuccess}{instance="${instance}"}`);
      return r.length === 2 ? r : undefined;
    });
    expect(Object.fromEntries(success.map((s) => [s.metric.day, s.value[1]]))).toEqual({
      [DAY1]: '1',
      [DAY2]: '1',
    });
    const rows = await until('rows scraped', 20_000, async () => {
      const r = await prom(`${BACKFILL_METRICS.rowsWritten}{instance="${instance}",day="${DAY1}"}`);
      return r.length > 0 ? r : undefined;
    });
    const day1 = result.days[0]!;
    expect(Object.fromEntries(rows.map((s) => [s.metric.table, Number(s.value[1])]))).toEqual(
      Object.fromEntries(Object.entries(day1.vault).map(([t, v]) => [t, v.rows])),
    );
  });

  it('a failed run pushes success 0 for its days, and the real Prometheus fires ShopdataBackfillDayFailed', async () => {
    const r = await reportBackfill({
      days: [DAY2],
      result: undefined,
      startedAt: new Date(),
      url: stack.pushgatewayUrl,
      instance,
    });
    expect(r[0]!.pushed).toBe(true);
    const alert = await until('ShopdataBackfillDayFailed firing', 30_000, async () => {
      const res = await fetch(`${stack.prometheusUrl}/api/v1/alerts`);
      const alerts = (
        (await res.json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } }
      ).data.alerts;
      return alerts.find(
        (a) =>
          a.labels.alertname === 'ShopdataBackfillDayFailed' &&
          a.labels.instance === instance &&
          a.state === 'firing',
      );
    });
    expect(alert.labels).toMatchObject({ day: DAY2, job: PUSH_JOBS.backfill, severity: 'critical' });
    // A successful re-run of the day replaces the group and resolves the alert.
    const rerun = await runBackfill({
      wh,
      io,
      dbs,
      days: [DAY2],
      format: 'auto',
      mode: 'auto',
      piiSalt: SALT,
    });
    await reportBackfill({
      days: [DAY2],
      result: rerun,
      startedAt: new Date(),
      url: stack.pushgatewayUrl,
      instance,
    });
    await until('alert gone', 30_000, async () => {
      const res = await fetch(`${stack.prometheusUrl}/api/v1/alerts`);
      const alerts = ((await res.json()) as { data: { alerts: Array<{ labels: Record<string, string> }> } })
        .data.alerts;
      return alerts.some(
        (a) => a.labels.alertname === 'ShopdataBackfillDayFailed' && a.labels.instance === instance,
      )
        ? undefined
        : true;
    });
  });
});
