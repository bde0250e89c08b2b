import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import type { CheckReport } from '../../../src/lib/check/index.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { sampleChanges } from '../../fixtures/lake/changes.js';
import { SALT, createVault, dropVault, openServer } from '../backfill/helpers.js';

// `vault check` against the stack's ClickHouse server, started in a directory that holds a demo
// lake at ./.shopdata/lake (which says nothing about that server's vault): without a configured
// lake the lake checks are skipped with the reason; with SHOPDATA_LAKE they run against it.
const cwd = mkdtempSync(join(tmpdir(), 'shopdata-checkcwd-'));
const demoLake = join(cwd, '.shopdata', 'lake');
let wh: Warehouse;
let dbs: VaultDatabases;
let suffix: string;

beforeAll(async () => {
  wh = await openServer();
  suffix = uniqueName('chklake');
  dbs = await createVault(wh, 'chklake', suffix); // an empty vault
  mkdirSync(demoLake, { recursive: true });
  const io = openLake(demoLake);
  const changes = sampleChanges(12, 2);
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'parquet' });
  io.close();
});

afterAll(async () => {
  await dropVault(wh, dbs);
  await wh.close();
  rmSync(cwd, { recursive: true, force: true });
});

const check = (env: Record<string, string | undefined>) =>
  runCli(
    [
      'vault',
      'check',
      '--checks',
      'reconcile-lake,lost-changes',
      '--format',
      'json',
      '--clickhouse-url',
      stack.clickhouseUrl,
      '--db-suffix',
      suffix,
    ],
    { cwd, env: { SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn', SHOPDATA_LAKE: undefined, ...env } },
  );

describe('vault check against a ClickHouse server', () => {
  it('does not take ./.shopdata/lake as its lake: the lake checks are skipped, saying why', async () => {
    const res = await check({});
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as CheckReport;
    for (const id of ['reconcile-lake', 'lost-changes']) {
      const c = report.checks.find((x) => x.id === id)!;
      expect(c.status, id).toBe('skip');
      expect(c.message).toMatch(
        /embedded default \.\/\.shopdata\/lake applies only with the embedded warehouse/,
      );
    }
  });

  it('checks against a lake that is configured (here the same directory, which disagrees with the empty vault)', async () => {
    const res = await check({ SHOPDATA_LAKE: demoLake });
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report.checks.find((x) => x.id === 'reconcile-lake')!.status).toBe('fail');
  });
});
