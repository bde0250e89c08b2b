import { describe, it, expect } from 'vitest';
import {
  CHECKS,
  CHECK_IDS,
  dayWindow,
  renderJunit,
  renderTable,
  selectChecks,
  type CheckReport,
  type CheckResult,
} from '../../../src/lib/check/index.js';
import { UsageError } from '../../../src/lib/errors/index.js';
import { RECONCILE_SPECS } from '../../../src/lib/check/reconcile/spec.js';

function result(over: Partial<CheckResult>): CheckResult {
  return {
    id: 'orphan-links',
    group: 'orphans',
    severity: 'error',
    title: 't',
    explanation: 'why it matters',
    status: 'pass',
    message: 'no problems found',
    count: 0,
    counts: {},
    sample: [],
    durationMs: 12,
    ...over,
  };
}

function report(checks: CheckResult[]): CheckReport {
  const failed = checks.filter((c) => c.status === 'fail' && c.severity === 'error').length;
  return {
    ok: failed === 0,
    warehouse: 'http://default:***@127.0.0.1:18123',
    engine: 'clickhouse',
    serverVersion: '18.16.1',
    databases: { vault: 'vault', mart: 'mart', ops: 'ops' },
    date: '2026-11-24',
    startedAt: '2026-11-25T20:00:00.000Z',
    durationMs: 1500,
    summary: {
      total: checks.length,
      passed: checks.filter((c) => c.status === 'pass').length,
      failed,
      warnings: checks.filter((c) => c.status === 'fail' && c.severity === 'warn').length,
      skipped: checks.filter((c) => c.status === 'skip').length,
      errors: checks.filter((c) => c.status === 'error').length,
    },
    checks,
  };
}

describe('check selection', () => {
  it('has unique ids, every one with a severity and an explanation', () => {
    expect(new Set(CHECK_IDS).size).toBe(CHECK_IDS.length);
    for (const c of CHECKS) {
      expect(['error', 'warn']).toContain(c.severity);
      expect(c.explanation.length).toBeGreaterThan(60);
    }
    expect(CHECKS.find((c) => c.id === 'freshness')!.severity).toBe('warn');
  });

  it('selects by id or group, in report order, and names the valid ids for an unknown one', () => {
    expect(selectChecks(undefined).length).toBe(CHECKS.length);
    expect(selectChecks('freshness,orphan-links').map((c) => c.id)).toEqual(['orphan-links', 'freshness']);
    expect(selectChecks('orphans').map((c) => c.id)).toEqual(['orphan-links', 'orphan-satellites']);
    const err = (() => {
      try {
        selectChecks('orphans,bogus');
      } catch (e) {
        return e as UsageError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('"bogus"');
    expect(err.hint).toContain('hash-key-mismatch');
    expect(() => selectChecks(' , ')).toThrow(UsageError);
  });

  it('turns --date into UTC bounds and refuses impossible dates', () => {
    const w = dayWindow('2026-11-24');
    expect(w.startSec).toBe(Date.UTC(2026, 10, 24) / 1000);
    expect(w.endSec - w.startSec).toBe(86_400);
    expect(w.startUs).toBe(w.startSec * 1_000_000);
    expect(w.epochDay).toBe(Date.UTC(2026, 10, 24) / 86_400_000);
    for (const bad of ['2026-02-30', '2026-13-01', '24.11.2026', ''])
      expect(() => dayWindow(bad)).toThrow(UsageError);
  });

  it('derives the reconciliation of every source table from the model', () => {
    const byTable = Object.fromEntries(RECONCILE_SPECS.map((s) => [s.table, s]));
    expect(byTable.purchases).toMatchObject({
      sat: 'sat_order',
      satWhere: "status = 'placed'",
      dayAttribute: 'event_ts_us',
      key: ['_id'],
    });
    expect(byTable.cancellations).toMatchObject({ sat: 'sat_order', satWhere: "status = 'cancelled'" });
    expect(byTable.auth_credentials).toMatchObject({
      sat: 'sat_user_auth',
      daySat: 'sat_user',
      dayAttribute: 'created_at_us',
    });
    expect(byTable.ratings).toMatchObject({ sat: 'sat_rating', dayAttribute: 'rated_ts_us' });
  });
});

describe('report rendering', () => {
  const checks = [
    result({}),
    result({
      id: 'hashdiff-mismatch',
      group: 'keys',
      status: 'fail',
      message: '2 satellite rows with a hashdiff that differs from the spec (sat_user 2)',
      count: 2,
      counts: { sat_user: 2 },
      sample: [{ table: 'sat_user', key: 'hk_user=AB <x> & "y"', detail: 'stored A, the spec gives B' }],
    }),
    result({
      id: 'freshness',
      group: 'freshness',
      severity: 'warn',
      status: 'fail',
      message: '1 source stale',
      count: 1,
      sample: [{ table: 's', key: 's', detail: 'old' }],
    }),
    result({ id: 'reconcile-lake', group: 'reconciliation', status: 'skip', message: 'no lake configured' }),
    result({
      id: 'reconcile-sources',
      group: 'reconciliation',
      status: 'error',
      message: 'could not run: PostgreSQL unreachable',
    }),
  ];

  it('prints a table with statuses, counts, samples and a summary line', () => {
    const text = renderTable(report(checks), 160);
    expect(text).toMatch(/^CHECK +GROUP +SEVERITY +STATUS +COUNT +RESULT$/m);
    expect(text).toMatch(/^hashdiff-mismatch +keys +error +FAIL +2 +2 satellite rows/m);
    expect(text).toMatch(/^freshness +freshness +warn +WARN +1/m);
    expect(text).toContain('  sat_user  hk_user=AB <x> & "y"  stored A, the spec gives B');
    expect(text).toContain('  … and 1 more');
    expect(text).toMatch(/5 checks: 1 passed, 1 failed, 1 warnings, 1 skipped, 1 could not run/);
  });

  it('writes JUnit XML: failures for errors, <error> for checks that could not run, <skipped>, warnings as output', () => {
    const xml = renderJunit(report(checks));
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="shopdata vault check" tests="5" failures="1" errors="1" skipped="1"',
      ),
    ).toBe(true);
    expect(xml).toContain('<testsuite name="vault.keys" tests="1" failures="1" errors="0" skipped="0"');
    expect(xml).toContain(
      '<failure message="2 satellite rows with a hashdiff that differs from the spec (sat_user 2)" type="hashdiff-mismatch">',
    );
    expect(xml).toContain('hk_user=AB &lt;x&gt; &amp; &quot;y&quot;');
    expect(xml).toContain('<skipped message="no lake configured"/>');
    expect(xml).toContain('<error message="could not run: PostgreSQL unreachable"');
    expect(xml).toMatch(
      /<testcase classname="vault.freshness" name="freshness" time="0.012">\n\s+<system-out>WARNING: 1 source stale/,
    );
    // balanced and well-formed enough for a CI parser
    expect(xml.match(/<testcase /g)!.length).toBe(5);
    expect(xml.match(/<\/testcase>/g)!.length).toBe(5);
    expect(xml.trim().endsWith('</testsuites>')).toBe(true);
  });

  it('escapes control characters that XML 1.0 forbids (zero-byte keys)', () => {
    const xml = renderJunit(
      report([
        result({
          status: 'fail',
          message: 'k',
          count: 1,
          sample: [{ table: 't', key: 'a\u0000b', detail: 'd' }],
        }),
      ]),
    );
    expect(xml).toContain('a\\x00b');
    expect(xml).not.toContain('\u0000');
  });
});
