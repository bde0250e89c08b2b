import { renderTable as tableLines } from '../table/index.js';
import type { CheckReport, CheckResult } from './types.js';

const STATUS_TEXT: Record<CheckResult['status'], string> = {
  pass: 'PASS',
  fail: 'FAIL',
  skip: 'SKIP',
  error: 'ERROR',
};

function statusOf(r: CheckResult): string {
  return r.status === 'fail' && r.severity === 'warn' ? 'WARN' : STATUS_TEXT[r.status];
}

/** The report as a text table (terminal or log), failing checks followed by their samples. */
export function renderTable(report: CheckReport, width = 120): string {
  const rows = report.checks.map((r) => [
    r.id,
    r.group,
    r.severity,
    statusOf(r),
    r.status === 'fail' ? String(r.count) : '',
    r.message,
  ]);
  const columns = ['CHECK', 'GROUP', 'SEVERITY', 'STATUS', { header: 'COUNT', align: 'right' as const }];
  const out: string[] = [];
  out.push(
    `vault check on ${report.warehouse} (${report.engine} ${report.serverVersion}), database ${report.databases.vault}${report.date ? `, day ${report.date}` : ''}`,
  );
  out.push('');
  out.push(...tableLines([...columns, { header: 'RESULT', flex: true }], rows, { width, minFlex: 30 }));
  for (const r of report.checks) {
    if (r.status !== 'fail' && r.status !== 'error') continue;
    out.push('');
    out.push(`${statusOf(r)} ${r.id}: ${r.message}`);
    for (const s of r.sample) out.push(`  ${s.table}  ${s.key}  ${s.detail}`);
    if (r.count > r.sample.length) out.push(`  … and ${r.count - r.sample.length} more`);
  }
  const s = report.summary;
  out.push('');
  out.push(
    `${s.total} checks: ${s.passed} passed, ${s.failed} failed, ${s.warnings} warnings, ${s.skipped} skipped, ${s.errors} could not run (${(report.durationMs / 1000).toFixed(1)} s)`,
  );
  return out.join('\n');
}

export function renderJson(report: CheckReport): string {
  return JSON.stringify(report, null, 2);
}

// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = new RegExp('[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f]', 'g');

function xml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 allows no control characters besides tab, newline, carriage return.
      .replace(CONTROL_CHARS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  );
}

/**
 * JUnit XML (one testsuite per group, one testcase per check) for CI and Airflow. Error-severity
 * failures are <failure>, checks that could not run are <error>, skipped ones <skipped>; a
 * warning stays a passing testcase with the finding in <system-out> (it does not fail the run).
 */
export function renderJunit(report: CheckReport): string {
  const groups = [...new Set(report.checks.map((c) => c.group))];
  const s = report.summary;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="shopdata vault check" tests="${s.total}" failures="${s.failed}" errors="${s.errors}" skipped="${s.skipped}" time="${(report.durationMs / 1000).toFixed(3)}" timestamp="${report.startedAt}">`,
  );
  for (const g of groups) {
    const cs = report.checks.filter((c) => c.group === g);
    const failures = cs.filter((c) => c.status === 'fail' && c.severity === 'error').length;
    const errors = cs.filter((c) => c.status === 'error').length;
    const skipped = cs.filter((c) => c.status === 'skip').length;
    const time = cs.reduce((a, c) => a + c.durationMs, 0) / 1000;
    out.push(
      `  <testsuite name="vault.${g}" tests="${cs.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    );
    out.push('    <properties>');
    out.push(`      <property name="warehouse" value="${xml(report.warehouse)}"/>`);
    out.push(`      <property name="database" value="${xml(report.databases.vault)}"/>`);
    if (report.date) out.push(`      <property name="date" value="${report.date}"/>`);
    out.push('    </properties>');
    for (const c of cs) {
      out.push(
        `    <testcase classname="vault.${g}" name="${xml(c.id)}" time="${(c.durationMs / 1000).toFixed(3)}">`,
      );
      const body = [
        c.message,
        '',
        ...c.sample.map((x) => `${x.table}  ${x.key}  ${x.detail}`),
        ...(c.count > c.sample.length ? [`… and ${c.count - c.sample.length} more`] : []),
        '',
        c.explanation,
      ].join('\n');
      if (c.status === 'fail' && c.severity === 'error')
        out.push(`      <failure message="${xml(c.message)}" type="${xml(c.id)}">${xml(body)}</failure>`);
      else if (c.status === 'fail') out.push(`      <system-out>${xml(`WARNING: ${body}`)}</system-out>`);
      else if (c.status === 'error')
        out.push(`      <error message="${xml(c.message)}" type="${xml(c.id)}">${xml(body)}</error>`);
      else if (c.status === 'skip') out.push(`      <skipped message="${xml(c.message)}"/>`);
      else out.push(`      <system-out>${xml(c.message)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n');
}
