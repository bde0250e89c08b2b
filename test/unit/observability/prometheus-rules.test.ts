import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALL_METRIC_NAMES } from '../../../src/lib/observability/metric-names.js';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;
const rulesDir = `${root}templates/prometheus/`;
const testsDir = `${root}test/prometheus/`;
const ruleFiles = readdirSync(rulesDir)
  .filter((f) => f.endsWith('.rules.yml'))
  .map((f) => rulesDir + f);
const ruleTests = readdirSync(testsDir)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => testsDir + f);

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}
interface RuleTestFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

const alerts = ruleFiles.flatMap((f) =>
  (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules),
);

// promtool comes with Debian's prometheus package (scripts/stack/services/prometheus.sh install).
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: root });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`, {
      cause: e,
    });
  }
}

describe('Prometheus rules (templates/prometheus)', () => {
  it('pass promtool check rules and check config', async () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    const checked = await promtool('check', 'rules', ...ruleFiles);
    const found = [...checked.matchAll(/SUCCESS: (\d+) rules found/g)].map((m) => Number(m[1]));
    expect(found).toHaveLength(ruleFiles.length);
    expect(found.reduce((a, b) => a + b, 0)).toBe(13);
    expect(await promtool('check', 'config', `${rulesDir}prometheus.yml`)).toMatch(
      /is valid prometheus config/,
    );
  });

  it('pass their promtool unit tests', async () => {
    expect(ruleTests.length).toBeGreaterThan(0);
    const out = await promtool('test', 'rules', ...ruleTests);
    expect(out).not.toMatch(/FAILED/);
    expect(out.match(/SUCCESS/g)).toHaveLength(ruleTests.length);
  });

  it('have a unit test in which every alert fires', () => {
    const fired = new Set<string>();
    for (const f of ruleTests) {
      for (const t of (parse(readFileSync(f, 'utf8')) as RuleTestFile).tests) {
        for (const a of t.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) fired.add(a.alertname);
      }
    }
    const names = alerts.map((a) => a.alert).filter((a): a is string => !!a);
    expect(names.length).toBe(13);
    expect(names.filter((n) => !fired.has(n))).toEqual([]);
  });

  it('reference only metric names that src/lib/observability/metric-names.ts defines', () => {
    const used = new Set(alerts.flatMap((a) => a.expr.match(/\bshopdata_[a-z0-9_]+\b/g) ?? []));
    expect(used.size).toBeGreaterThanOrEqual(10);
    expect([...used].filter((n) => !ALL_METRIC_NAMES.includes(n))).toEqual([]);
  });
});
