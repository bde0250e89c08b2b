import {
  DependencyUnavailableError,
  InterruptedError,
  UsageError,
  toShopdataError,
} from '../errors/index.js';
import { dialectFor } from '../warehouse/dialect.js';
import { US_PER_SECOND, epochDayOfDate, isCalendarDay } from '../values/index.js';
import type { Warehouse } from '../warehouse/types.js';
import type { VaultDatabases } from '../vault/tables.js';
import type { Logger } from '../log/index.js';
import { checkDialectFor } from './dialect.js';
import { selectChecks } from './registry.js';
import { withBusinessKeys } from './enrich.js';
import { ATTRS, SPANS, withSpan } from '../observability/tracing.js';
import { planProfiles } from './profile.js';
import type {
  CheckContext,
  CheckDefinition,
  CheckReport,
  CheckResult,
  DayWindow,
  LakeInput,
  MongoInput,
  PostgresInput,
} from './types.js';

export interface RunChecksOptions {
  wh: Warehouse;
  dbs: VaultDatabases;
  /** YYYY-MM-DD (UTC): narrow to one day. */
  date?: string | undefined;
  /** Check ids or groups; default all. */
  checks?: string | readonly string[] | undefined;
  tolerance?: number;
  freshnessMaxSeconds?: number;
  sampleSize?: number;
  postgres?: PostgresInput | undefined;
  mongo?: MongoInput | undefined;
  lake?: LakeInput | undefined;
  /** Why `lake` is absent, for the skip message of the lake checks (lake-choice.ts). */
  lakeSkipReason?: string | undefined;
  piiSalt?: string | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

export interface RunChecksResult {
  report: CheckReport;
  /** A dependency (a source, the lake) that stayed unreachable: the caller exits 3 after printing. */
  unavailable: DependencyUnavailableError | undefined;
}

export function dayWindow(date: string): DayWindow {
  if (!isCalendarDay(date)) {
    throw new UsageError(`--date ${date} is not a date in YYYY-MM-DD form.`, {
      hint: 'Example: --date 2026-11-24 (a UTC day).',
    });
  }
  const epochDay = epochDayOfDate(date);
  const startSec = epochDay * 86_400;
  return {
    day: date,
    epochDay,
    startSec,
    endSec: startSec + 86_400,
    startUs: startSec * US_PER_SECOND,
    endUs: (startSec + 86_400) * US_PER_SECOND,
  };
}

/** Runs the selected checks one after another (ClickHouse does the work; chDB runs one query at a time anyway). */
export async function runChecks(opts: RunChecksOptions): Promise<RunChecksResult> {
  const selected = selectChecks(opts.checks);
  const window = opts.date ? dayWindow(opts.date) : undefined;
  const version = await opts.wh.version();
  const ctx: CheckContext = {
    wh: opts.wh,
    dialect: dialectFor(version),
    checkDialect: checkDialectFor(version),
    dbs: opts.dbs,
    window,
    tolerance: opts.tolerance ?? 0,
    freshnessMaxSeconds: opts.freshnessMaxSeconds ?? 3600,
    sampleSize: opts.sampleSize ?? 10,
    postgres: opts.postgres,
    mongo: opts.mongo,
    lake: opts.lake,
    lakeSkipReason: opts.lakeSkipReason,
    piiSalt: opts.piiSalt,
    logger: opts.logger,
    signal: opts.signal,
    cache: new Map(),
  };
  planProfiles(ctx, selected);
  const started = Date.now();
  const results: CheckResult[] = [];
  let unavailable: DependencyUnavailableError | undefined;
  for (const def of selected) {
    if (opts.signal?.aborted) throw new InterruptedError('vault check interrupted; nothing was changed.');
    const r = await withSpan(SPANS.check, { attributes: { [ATTRS.check]: def.id } }, async (span) => {
      const out = await runOne(def, ctx);
      span.setAttributes({ 'shopdata.status': out.result.status, [ATTRS.violations]: out.result.count });
      return out;
    });
    results.push(r.result);
    unavailable ??= r.unavailable;
    opts.logger?.info(
      { check: def.id, status: r.result.status, durationMs: r.result.durationMs },
      'check done',
    );
  }
  const summary = {
    total: results.length,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail' && r.severity === 'error').length,
    warnings: results.filter((r) => r.status === 'fail' && r.severity === 'warn').length,
    skipped: results.filter((r) => r.status === 'skip').length,
    errors: results.filter((r) => r.status === 'error').length,
  };
  return {
    report: {
      ok: summary.failed === 0 && summary.errors === 0,
      warehouse: opts.wh.displayUrl,
      engine: opts.wh.engine,
      serverVersion: version.raw,
      databases: opts.dbs,
      date: opts.date ?? null,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      summary,
      checks: results,
    },
    unavailable,
  };
}

/** One check: its outcome as a result, or an error result when it could not run. */
async function runOne(
  def: CheckDefinition,
  ctx: CheckContext,
): Promise<{ result: CheckResult; unavailable?: DependencyUnavailableError }> {
  const t0 = Date.now();
  const base = {
    id: def.id,
    group: def.group,
    severity: def.severity,
    title: def.title,
    explanation: def.explanation,
  };
  const none = { count: 0, counts: {}, sample: [] };
  try {
    const o = await def.run(ctx);
    const durationMs = Date.now() - t0;
    if (o.status === 'fail') {
      const sample = await withBusinessKeys(ctx, o.sample).catch(() => o.sample);
      return {
        result: {
          ...base,
          status: 'fail',
          message: o.message,
          count: o.count,
          counts: o.counts,
          sample,
          ...(o.details ? { details: o.details } : {}),
          durationMs,
        },
      };
    }
    if (o.status === 'skip')
      return { result: { ...base, status: 'skip', message: o.message, ...none, durationMs } };
    return {
      result: {
        ...base,
        status: 'pass',
        message: o.message ?? 'no problems found',
        ...none,
        ...(o.details ? { details: o.details } : {}),
        durationMs,
      },
    };
  } catch (err) {
    const e = toShopdataError(err);
    // ClickHouse itself unreachable: nothing else can run.
    if (e instanceof DependencyUnavailableError && e.dependency === 'clickhouse') throw e;
    ctx.logger?.debug({ err, check: def.id }, 'check failed to run');
    return {
      result: {
        ...base,
        status: 'error',
        message: `could not run: ${e.message}${e.hint ? ` (${e.hint})` : ''}`,
        ...none,
        durationMs: Date.now() - t0,
      },
      ...(e instanceof DependencyUnavailableError ? { unavailable: e } : {}),
    };
  }
}
