import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { BackfillResult } from '../backfill/run.js';
import type { CheckReport } from '../check/types.js';
import type { Logger } from '../log/index.js';
import { PUSH_JOBS } from './metric-names.js';
import { pushRunMetrics, type PushResult } from './pushgateway.js';
import {
  backfillDayMetrics,
  vaultCheckMetrics,
  type BackfillDayOutcome,
  type VaultCheckOutcome,
} from './run-metrics.js';
import { ATTRS, SPANS, TRACER_NAME, withSpan } from './tracing.js';

/**
 * What `backfill` and `vault check` call at the end of a run (see docs in the report of issue 10):
 * run metrics to the Pushgateway (when SHOPDATA_PUSHGATEWAY_URL is set) and spans (when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set). Neither ever changes the run's outcome.
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

/**
 * Runs a backfill inside a `backfill.run` span and records one `backfill.day` child per day from
 * the result (its table rows, partitions and corrections as attributes, timed by the day's
 * duration). Finer step spans belong inside src/lib/backfill (withSpan around read/stage/swap).
 */
export async function traceBackfill<T extends BackfillResult>(
  days: string[],
  mode: string,
  run: () => Promise<T>,
): Promise<T> {
  return withSpan(
    SPANS.backfillRun,
    { attributes: { [ATTRS.day]: days, 'shopdata.mode': mode } },
    async (span) => {
      const result = await run();
      const tracer = trace.getTracer(TRACER_NAME);
      const end = Date.now();
      let cursor = end - result.days.reduce((s, d) => s + d.durationMs, 0);
      for (const d of result.days) {
        const child = tracer.startSpan(
          SPANS.backfillDay,
          {
            kind: SpanKind.INTERNAL,
            startTime: cursor,
            attributes: {
              [ATTRS.day]: d.day,
              'shopdata.mode': d.mode,
              'shopdata.status': d.status,
              'shopdata.verified': d.verified,
              [ATTRS.tables]: Object.keys(d.vault),
              [ATTRS.rows]: Object.values(d.vault).reduce((s, v) => s + v.rows, 0),
              'shopdata.partitions': d.partitions,
              'shopdata.rows_corrected': Object.values(d.corrections).reduce(
                (s, c) => s + c.added + c.changed + c.removed,
                0,
              ),
            },
          },
          // Inside withSpan the run span is the active one: the days become its children.
          context.active(),
        );
        cursor += d.durationMs;
        child.setStatus({ code: SpanStatusCode.OK });
        child.end(cursor);
      }
      span.setAttribute(
        ATTRS.rows,
        result.days.reduce((s, d) => s + Object.values(d.vault).reduce((a, v) => a + v.rows, 0), 0),
      );
      return result;
    },
  );
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
