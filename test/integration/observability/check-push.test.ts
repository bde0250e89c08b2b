import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';

// `vault check` pushes its run metrics to the real Pushgateway when SHOPDATA_PUSHGATEWAY_URL is set.
describe('vault check → Pushgateway', () => {
  it('pushes one group per run, labelled with the checked day', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-check-push-'));
    const url = `chdb:${dir}/wh`;
    // A day no other test uses: the group (job, scope) is this test's own.
    const day = `2001-0${1 + Math.floor(Math.random() * 9)}-${String(10 + Math.floor(Math.random() * 18))}`;
    const env = {
      SHOPDATA_CLICKHOUSE_URL: url,
      SHOPDATA_PUSHGATEWAY_URL: stack.pushgatewayUrl,
      SHOPDATA_LAKE: join(dir, 'no-lake'),
    };
    const migrated = await runCli(['warehouse', 'migrate', '--json'], { env, cwd: dir });
    expect(migrated.code, migrated.stderr).toBe(0);
    const started = Date.now() / 1000;
    const r = await runCli(
      ['vault', 'check', '--date', day, '--checks', 'orphan-links,null-keys', '--format', 'json'],
      { env, cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);

    const res = await fetch(`${stack.pushgatewayUrl}/api/v1/metrics`);
    const body = (await res.json()) as {
      data: Array<{
        labels: Record<string, string>;
        push_time_seconds?: { metrics: Array<{ value: string }> };
      }>;
    };
    const group = body.data.find((g) => g.labels.job === 'shopdata_vault_check' && g.labels.scope === day);
    expect(group, `no pushed group for scope=${day}`).toBeDefined();
    expect(Number(group!.push_time_seconds!.metrics[0]!.value)).toBeGreaterThanOrEqual(
      Math.floor(started) - 1,
    );
    await fetch(`${stack.pushgatewayUrl}/metrics/job/shopdata_vault_check/scope/${day}`, {
      method: 'DELETE',
    });
  });
});
