import { createServer, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../../helpers/stack.js';
import { deleteRunMetrics, pushRunMetrics } from '../../../src/lib/observability/pushgateway.js';
import { backfillDayMetrics, vaultCheckMetrics } from '../../../src/lib/observability/run-reports.js';
import { BACKFILL_METRICS, CHECK_METRICS, PUSH_JOBS } from '../../../src/lib/observability/metric-names.js';
import { createLogger } from '../../../src/lib/log/index.js';

// The real Pushgateway and Prometheus of the stack (scripts/stack/up prometheus). Each push carries a
// unique `test` grouping label so parallel runs and the stack's other users never see each other.
const test = uniqueName('push');
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

interface PgwGroup {
  labels: Record<string, string>;
  [metric: string]: unknown;
}

async function pushgatewayGroups(): Promise<PgwGroup[]> {
  const res = await fetch(`${stack.pushgatewayUrl}/api/v1/metrics`);
  expect(res.ok).toBe(true);
  return ((await res.json()) as { data: PgwGroup[] }).data;
}

async function promQuery(
  q: string,
): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  expect(res.ok).toBe(true);
  return (
    (await res.json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    }
  ).data.result;
}

/** A loopback port nobody listens on (fetch refuses well-known ports such as 9 outright). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('pushRunMetrics against the real Pushgateway', () => {
  it('pushes a backfill day; the Pushgateway holds it and Prometheus scrapes it with the grouping labels', async () => {
    const labels = { day: '2026-11-24', test };
    cleanups.push(() => deleteRunMetrics(stack.pushgatewayUrl, PUSH_JOBS.backfill, labels));
    const startedAt = new Date(Date.now() - 4200);
    const r = await pushRunMetrics({
      url: stack.pushgatewayUrl,
      job: PUSH_JOBS.backfill,
      labels,
      metrics: backfillDayMetrics({
        day: '2026-11-24',
        success: true,
        startedAt,
        finishedAt: new Date(),
        rowsWritten: { hub_user: 120, sat_user: 130 },
        rowsCorrected: { sat_user: 3 },
      }),
    });
    expect(r).toMatchObject({ pushed: true });

    const group = (await pushgatewayGroups()).find((g) => g.labels.test === test);
    expect(group?.labels).toMatchObject({ job: PUSH_JOBS.backfill, day: '2026-11-24', test });
    expect(Object.keys(group ?? {})).toEqual(
      expect.arrayContaining([
        BACKFILL_METRICS.daySuccess,
        BACKFILL_METRICS.rowsWritten,
        'push_time_seconds',
      ]),
    );

    // Scraped by the stack's Prometheus (job pushgateway, honor_labels): the values come back by query.
    const rows = await eventually(async () => {
      const r = await promQuery(`${BACKFILL_METRICS.rowsWritten}{test="${test}"}`);
      return r.length === 2 ? r : undefined;
    });
    expect(Object.fromEntries(rows.map((s) => [s.metric.table, Number(s.value[1])]))).toEqual({
      hub_user: 120,
      sat_user: 130,
    });
    expect(rows[0]!.metric).toMatchObject({ job: PUSH_JOBS.backfill, day: '2026-11-24' });
    const day = await promQuery(`${BACKFILL_METRICS.dayTimestamp}{test="${test}"}`);
    expect(Number(day[0]!.value[1])).toBe(Date.parse('2026-11-24T00:00:00Z') / 1000);
    const dur = await promQuery(`${BACKFILL_METRICS.duration}{test="${test}"}`);
    expect(Number(dur[0]!.value[1])).toBeGreaterThanOrEqual(4.2);
  });

  it('replaces the previous run of the same group (PUT): a re-run that fails shows success 0 and no stale rows', async () => {
    const labels = { day: '2026-11-23', test };
    cleanups.push(() => deleteRunMetrics(stack.pushgatewayUrl, PUSH_JOBS.backfill, labels));
    const base = { url: stack.pushgatewayUrl, job: PUSH_JOBS.backfill, labels };
    const now = new Date();
    await pushRunMetrics({
      ...base,
      metrics: backfillDayMetrics({
        day: '2026-11-23',
        success: true,
        startedAt: now,
        finishedAt: now,
        rowsWritten: { hub_user: 5 },
      }),
    });
    await pushRunMetrics({
      ...base,
      metrics: backfillDayMetrics({ day: '2026-11-23', success: false, startedAt: now, finishedAt: now }),
    });
    const group = (await pushgatewayGroups()).find(
      (g) => g.labels.test === test && g.labels.day === '2026-11-23',
    );
    expect(group).toBeDefined();
    expect(Object.keys(group!)).not.toContain(BACKFILL_METRICS.rowsWritten);
    const ok = await eventually(async () => {
      const r = await promQuery(`${BACKFILL_METRICS.daySuccess}{test="${test}",day="2026-11-23"}`);
      return r[0]?.value[1] === '0' ? r : undefined;
    });
    expect(ok).toHaveLength(1);
  });

  it('pushes a vault check run with one series per check', async () => {
    const scope = `all-${test}`;
    cleanups.push(() => deleteRunMetrics(stack.pushgatewayUrl, PUSH_JOBS.vaultCheck, { scope }));
    const now = new Date();
    const r = await pushRunMetrics({
      job: PUSH_JOBS.vaultCheck,
      labels: { scope },
      metrics: vaultCheckMetrics({
        scope,
        startedAt: now,
        finishedAt: now,
        checks: [
          { name: 'hub_duplicates', violations: 0, passed: true },
          { name: 'link_orphans', violations: 7, passed: false },
        ],
      }),
      url: stack.pushgatewayUrl,
    });
    expect(r.pushed).toBe(true);
    const rows = await eventually(async () => {
      const r = await promQuery(`${CHECK_METRICS.violations}{scope="${scope}"}`);
      return r.length === 2 ? r : undefined;
    });
    expect(Object.fromEntries(rows.map((s) => [s.metric.check, Number(s.value[1])]))).toEqual({
      hub_duplicates: 0,
      link_orphans: 7,
    });
  });

  it('does nothing without a URL and never throws when the Pushgateway is unreachable', async () => {
    const prev = process.env.SHOPDATA_PUSHGATEWAY_URL;
    delete process.env.SHOPDATA_PUSHGATEWAY_URL;
    try {
      expect(await pushRunMetrics({ job: PUSH_JOBS.backfill, metrics: { x: 1 } })).toEqual({ pushed: false });
    } finally {
      if (prev !== undefined) process.env.SHOPDATA_PUSHGATEWAY_URL = prev;
    }
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream,
    });
    const r = await pushRunMetrics({
      url: `http://127.0.0.1:${await closedPort()}`,
      job: PUSH_JOBS.backfill,
      labels: { test },
      metrics: { [BACKFILL_METRICS.daySuccess]: 1 },
      logger,
    });
    expect(r.pushed).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED/);
    expect(lines.join('')).toMatch(/could not push run metrics/);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      'log.level': 'warn',
      'event.action': 'metrics-push',
      'event.outcome': 'failure',
    });
  });
});
