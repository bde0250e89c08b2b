import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';
import { openWarehouse } from '../../../src/lib/warehouse/index.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';

// The built CLI (npm run build) as users run it: `warehouse migrate` / `warehouse status`.
const suffix = uniqueName('cli');
const dbs = testDatabases(suffix);
const env = { SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl, SHOPDATA_CONFIG: undefined };

afterAll(async () => {
  const wh = await openWarehouse(stack.clickhouseUrl);
  for (const db of [dbs.mart, dbs.vault, dbs.ops]) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
  await wh.close();
});

describe('shopdata warehouse migrate/status (CLI, ClickHouse 18.16)', () => {
  it('--dry-run lists statements and creates nothing', async () => {
    const r = await runCli(['warehouse', 'migrate', '--dry-run', '--db-suffix', suffix], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`CREATE TABLE IF NOT EXISTS ${dbs.vault}.sat_order`);
    const s = await runCli(['warehouse', 'status', '--json', '--db-suffix', suffix], { env });
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ appliedVersion: 0, upToDate: false });
  });

  it('migrates, and the second run is a no-op', async () => {
    const first = await runCli(['warehouse', 'migrate', '--json', '--db-suffix', suffix], { env });
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout) as {
      versionBefore: number;
      versionAfter: number;
      applied: unknown[];
    };
    expect(r1.versionBefore).toBe(0);
    expect(r1.applied.length).toBeGreaterThanOrEqual(3);
    const second = await runCli(['warehouse', 'migrate', '--db-suffix', suffix], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/up to date at version \d+; nothing to do/);
  });

  it('status --json shows version and row counts', async () => {
    const r = await runCli(['warehouse', 'status', '--json', '--db-suffix', suffix], { env });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as {
      appliedVersion: number;
      latestVersion: number;
      upToDate: boolean;
      tables: { table: string; rows: number | null }[];
    };
    expect(s.upToDate).toBe(true);
    expect(s.appliedVersion).toBe(s.latestVersion);
    expect(s.tables.find((t) => t.table === 'sat_user')?.rows).toBe(0);
  });

  it('exits 2 with a clear message when ops records an unknown version', async () => {
    const wh = await openWarehouse(stack.clickhouseUrl);
    await wh.insert(`${dbs.ops}.schema_migrations`, [
      {
        kind: 'versioned',
        version: 5,
        name: '005_from_a_newer_build',
        checksum: 'abc',
        description: 'x',
        statements: 1,
        applied_at: 1,
        duration_ms: 0,
      },
    ]);
    await wh.close();
    for (const cmd of ['migrate', 'status']) {
      const r = await runCli(['warehouse', cmd, '--json', '--db-suffix', suffix], { env });
      expect(r.code).toBe(2);
      const e = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(e.error.code).toBe('MIGRATION_STATE');
      expect(e.error.message).toMatch(/version 5 .*does not know/);
    }
  });

  it('exits 3 when ClickHouse is unreachable', async () => {
    const r = await runCli(['warehouse', 'migrate'], {
      env: { SHOPDATA_CLICKHOUSE_URL: 'http://default:@127.0.0.1:9' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/unreachable/);
  });

  it('migrates an embedded chDB warehouse too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-cli-'));
    const url = `chdb:${dir}`;
    const a = await runCli(['warehouse', 'migrate', '--clickhouse-url', url]);
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(['warehouse', 'status', '--json', '--clickhouse-url', url]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({
      engine: 'chdb',
      upToDate: true,
      databases: { vault: 'vault', mart: 'mart', ops: 'ops' },
    });
  });
});
