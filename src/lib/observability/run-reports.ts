import type { BackfillResult } from '../backfill/run.js';
import type { CheckReport } from '../check/types.js';
import type { Logger } from '../log/index.js';
import { BACKFILL_METRICS, CHECK_METRICS, PUSH_JOBS } from './metric-names.js';
import { pushRunMetrics, type PushResult, type RunMetricValue } from './pushgateway.js';

/**
 * What `backfill` and `vault check` push to the Pushgateway at the end of a run, when
 * SHOPDATA_PUSHGATEWAY_URL is set (`withRunReports` in run-hooks.ts loads this module only then).
 * A push never changes the run's outcome.
 */

export interface ReportTarget {
  /** Defaults to SHOPDATA_PUSHGATEWAY_URL. */
  url?: string | undefined;
  logger?: Logger | undefined;
  /**
   * Extra grouping label `instance` (e.g. the host or the Airflow task), for deployments that run
   * the same job from several places. Default: none, one group per day.
   */
  instance?: string | undefined;
}

/** One outcome per requested day: the days the result lists as done succeeded, the rest failed. */
export function backfillOutcomes(
  days: string[],
  result: BackfillResult | undefined,
  startedAt: Date,
  finishedAt: Date = new Date(),
): BackfillDayOutcome[] {
  const done = new Map((result?.days ?? []).filter((d) => d.status === 'done').map((d) => [d.day, d]));
  return days.map((day) => {
    const d = done.get(day);
    if (!d) return { day, success: false, startedAt, finishedAt };
    const corrected = Object.fromEntries(
      Object.entries(d.corrections).map(([t, c]) => [t, c.added + c.changed + c.removed]),
    );
    return {
      day,
      success: true,
      startedAt: new Date(finishedAt.getTime() - d.durationMs),
      finishedAt,
      rowsWritten: Object.fromEntries(Object.entries(d.vault).map(([t, v]) => [t, v.rows])),
      rowsCorrected: corrected,
    };
  });
}

/**
 * Pushes one Pushgateway group per day of a backfill run (success or failure). A dry run pushes
 * nothing. Call it in a `finally` with the result, or with `result` undefined when the run threw.
 */
export async function reportBackfill(
  o: {
    days: string[];
    result?: BackfillResult | undefined;
    startedAt: Date;
    finishedAt?: Date;
  } & ReportTarget,
): Promise<PushResult[]> {
  if (o.result?.dryRun) return [];
  const out: PushResult[] = [];
  for (const outcome of backfillOutcomes(o.days, o.result, o.startedAt, o.finishedAt)) {
    out.push(
      await pushRunMetrics({
        job: PUSH_JOBS.backfill,
        labels: { day: outcome.day, ...(o.instance ? { instance: o.instance } : {}) },
        metrics: backfillDayMetrics(outcome),
        url: o.url,
        logger: o.logger,
      }),
    );
  }
  return out;
}

/** A `vault check` report as run metrics: a check passes unless it errored or failed at error severity. */
export function vaultCheckOutcome(report: CheckReport): VaultCheckOutcome {
  const finishedAt = new Date(Date.parse(report.startedAt) + report.durationMs);
  return {
    scope: report.date ?? 'all',
    startedAt: new Date(report.startedAt),
    finishedAt,
    checks: report.checks
      .filter((c) => c.status !== 'skip')
      .map((c) => ({
        name: c.id,
        violations: c.count,
        passed: !(c.status === 'error' || (c.status === 'fail' && c.severity === 'error')),
      })),
  };
}

/** Pushes a `vault check` report (also a failing one: call it before throwing the DataProblemError). */
export function reportVaultCheck(report: CheckReport, target: ReportTarget = {}): Promise<PushResult> {
  const outcome = vaultCheckOutcome(report);
  return pushRunMetrics({
    job: PUSH_JOBS.vaultCheck,
    labels: { scope: outcome.scope, ...(target.instance ? { instance: target.instance } : {}) },
    metrics: vaultCheckMetrics(outcome),
    url: target.url,
    logger: target.logger,
  });
}

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
