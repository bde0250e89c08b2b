import { describe, expect, it } from 'vitest';
import { backfillOutcomes, vaultCheckOutcome } from '../../../src/lib/observability/run-reports.js';
import type { BackfillResult, DayResult } from '../../../src/lib/backfill/run.js';
import type { CheckReport, CheckResult } from '../../../src/lib/check/types.js';

const day = (d: string, status: DayResult['status']): DayResult => ({
  day: d,
  runId: `r-${d}`,
  status,
  mode: 'push',
  tables: [],
  partitions: [],
  timings: {},
  vault: { hub_user: { rows: 3, checksum: 'x' }, sat_user: { rows: 5, checksum: 'y' } },
  corrections: { sat_user: { before: 4, after: 5, added: 1, changed: 2, removed: 0, duplicates: 7 } },
  verified: true,
  durationMs: 1500,
  rejected: { count: 0, reasons: {}, samples: [] },
});

describe('batch reporting', () => {
  it('turns a backfill result into one outcome per requested day; days not done count as failed', () => {
    const result: BackfillResult = {
      dryRun: false,
      days: [day('2026-11-23', 'done'), day('2026-11-24', 'planned')],
    };
    const at = new Date('2026-11-25T03:00:00Z');
    const out = backfillOutcomes(
      ['2026-11-23', '2026-11-24', '2026-11-25'],
      result,
      new Date('2026-11-25T02:59:00Z'),
      at,
    );
    expect(out.map((o) => [o.day, o.success])).toEqual([
      ['2026-11-23', true],
      ['2026-11-24', false],
      ['2026-11-25', false],
    ]);
    expect(out[0]).toMatchObject({
      rowsWritten: { hub_user: 3, sat_user: 5 },
      rowsCorrected: { sat_user: 3 },
      finishedAt: at,
    });
    expect(out[0]!.finishedAt.getTime() - out[0]!.startedAt.getTime()).toBe(1500);
    expect(backfillOutcomes(['2026-11-23'], undefined, at, at)[0]!.success).toBe(false);
  });

  it('turns a check report into per-check outcomes: warnings pass, errors and error-severity failures do not, skips are left out', () => {
    const check = (
      id: string,
      status: CheckResult['status'],
      severity: CheckResult['severity'],
      count: number,
    ) => ({ id, status, severity, count }) as CheckResult;
    const report = {
      date: '2026-11-24',
      startedAt: '2026-11-25T04:00:00.000Z',
      durationMs: 2500,
      checks: [
        check('hub_dupes', 'pass', 'error', 0),
        check('freshness', 'fail', 'warn', 2),
        check('orphans', 'fail', 'error', 7),
        check('recon', 'error', 'error', 0),
        check('lake', 'skip', 'error', 0),
      ],
    } as unknown as CheckReport;
    const o = vaultCheckOutcome(report);
    expect(o.scope).toBe('2026-11-24');
    expect(o.finishedAt.toISOString()).toBe('2026-11-25T04:00:02.500Z');
    expect(o.checks).toEqual([
      { name: 'hub_dupes', violations: 0, passed: true },
      { name: 'freshness', violations: 2, passed: true },
      { name: 'orphans', violations: 7, passed: false },
      { name: 'recon', violations: 0, passed: false },
    ]);
  });
});
