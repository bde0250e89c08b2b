import type { Logger } from '../log/index.js';
import { BACKFILL_METRICS, CHECK_METRICS, PUSH_JOBS } from './metric-names.js';
import { pushRunMetrics, type PushResult, type RunMetricValue } from './pushgateway.js';

export interface BackfillDayOutcome {
  /** YYYY-MM-DD (UTC). */
  day: string;
  success: boolean;
  startedAt: Date;
  finishedAt: Date;
  /** table → rows written to the vault for the day. */
  rowsWritten?: Record<string, number>;
  /** table → streamed rows the backfill changed or removed. */
  rowsCorrected?: Record<string, number>;
}

export interface PushTarget {
  /** Defaults to SHOPDATA_PUSHGATEWAY_URL. */
  url?: string | undefined;
  logger?: Logger | undefined;
}

/** What `backfill` pushes for one day (one Pushgateway group per day, see metric-names.ts). */
export function backfillDayMetrics(o: BackfillDayOutcome): Record<string, RunMetricValue> {
  const dayStart = Date.parse(`${o.day}T00:00:00Z`);
  if (!Number.isFinite(dayStart)) throw new Error(`backfillDayMetrics: "${o.day}" is not a YYYY-MM-DD day`);
  const perTable = (m: Record<string, number> | undefined) => ({
    series: Object.entries(m ?? {}).map(([table, value]) => ({ labels: { table }, value })),
  });
  const metrics: Record<string, RunMetricValue> = {
    [BACKFILL_METRICS.daySuccess]: o.success ? 1 : 0,
    [BACKFILL_METRICS.dayTimestamp]: dayStart / 1000,
    [BACKFILL_METRICS.runTimestamp]: o.finishedAt.getTime() / 1000,
    [BACKFILL_METRICS.duration]: (o.finishedAt.getTime() - o.startedAt.getTime()) / 1000,
  };
  if (o.rowsWritten) metrics[BACKFILL_METRICS.rowsWritten] = perTable(o.rowsWritten);
  if (o.rowsCorrected) metrics[BACKFILL_METRICS.rowsCorrected] = perTable(o.rowsCorrected);
  return metrics;
}

/** Call once per day at the end of `backfill` (also for a failed day). Never throws. */
export function pushBackfillDay(o: BackfillDayOutcome, target: PushTarget = {}): Promise<PushResult> {
  return pushRunMetrics({
    job: PUSH_JOBS.backfill,
    labels: { day: o.day },
    metrics: backfillDayMetrics(o),
    ...target,
  });
}

export interface VaultCheckOutcome {
  /** `all`, or the day given with --date. */
  scope: string;
  checks: Array<{ name: string; violations: number; passed: boolean }>;
  startedAt: Date;
  finishedAt: Date;
}

export function vaultCheckMetrics(o: VaultCheckOutcome): Record<string, RunMetricValue> {
  return {
    [CHECK_METRICS.violations]: {
      series: o.checks.map((c) => ({ labels: { check: c.name }, value: c.violations })),
    },
    [CHECK_METRICS.passed]: {
      series: o.checks.map((c) => ({ labels: { check: c.name }, value: c.passed ? 1 : 0 })),
    },
    [CHECK_METRICS.runTimestamp]: o.finishedAt.getTime() / 1000,
    [CHECK_METRICS.duration]: (o.finishedAt.getTime() - o.startedAt.getTime()) / 1000,
  };
}

/** Call at the end of `vault check`. Never throws. */
export function pushVaultCheck(o: VaultCheckOutcome, target: PushTarget = {}): Promise<PushResult> {
  return pushRunMetrics({
    job: PUSH_JOBS.vaultCheck,
    labels: { scope: o.scope },
    metrics: vaultCheckMetrics(o),
    ...target,
  });
}
