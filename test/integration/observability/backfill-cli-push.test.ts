import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { sampleChanges, DAY1 } from '../../fixtures/lake/changes.js';

// The `backfill` command itself pushes its per-day run metrics to the real Pushgateway.
describe('backfill → Pushgateway', () => {
  it('pushes the day it rebuilt, with rows and success', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-bf-push-'));
    const lake = join(dir, 'lake');
    const io = openLake(lake);
    const changes = sampleChanges(8, 5);
    for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'parquet' });
    io.close();
    const instance = uniqueName('bfcli');
    const env = {
      SHOPDATA_CLICKHOUSE_URL: `chdb:${join(dir, 'wh')}`,
      SHOPDATA_LAKE: lake,
      SHOPDATA_PII_SALT: '49b8fa013a781d6e328f7e2bac6dbb675ab1d83aba51f66fc2538ba5c10c5363',
      SHOPDATA_PUSHGATEWAY_URL: stack.pushgatewayUrl,
      SHOPDATA_PUSHGATEWAY_INSTANCE: instance,
    };
    expect((await runCli(['warehouse', 'migrate'], { env, cwd: dir })).code).toBe(0);
    const r = await runCli(['backfill', '--date', DAY1, '--mode', 'push', '--json'], { env, cwd: dir });
    expect(r.code, r.stderr.slice(-1500)).toBe(0);

    const body = (await (await fetch(`${stack.pushgatewayUrl}/api/v1/metrics`)).json()) as {
      data: Array<{ labels: Record<string, string>; [metric: string]: unknown }>;
    };
    const group = body.data.find(
      (g) => g.labels.job === 'shopdata_backfill' && g.labels.instance === instance,
    );
    expect(group, 'no pushed backfill group').toBeDefined();
    expect(group!.labels.day).toBe(DAY1);
    const success = Object.entries(group!).find(
      ([k]) => k.startsWith('shopdata_backfill') && k.includes('success'),
    );
    expect(success, `metrics pushed: ${Object.keys(group!).join(', ')}`).toBeDefined();
    expect(JSON.stringify(success![1])).toContain('"value":"1"');
    await fetch(`${stack.pushgatewayUrl}/metrics/job/shopdata_backfill/day/${DAY1}/instance/${instance}`, {
      method: 'DELETE',
    });
  });
});
