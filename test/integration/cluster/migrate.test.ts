import { chownSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { insertRowSet } from '../../../src/lib/vault/writer.js';
import { MART_VIEWS } from '../../../src/lib/vault/marts.js';
import { VAULT_TABLES, testDatabases } from '../../../src/lib/vault/tables.js';
import { HttpWarehouse } from '../../../src/lib/warehouse/http.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { localTable, readTopology, shardKeyOf, shardOfKey } from '../../../src/lib/warehouse/cluster.js';
import type { WarehouseStatus } from '../../../src/lib/warehouse/migrations/index.js';
import { runCli } from '../../helpers/cli.js';
import { STACK_DIR, ports, stack, uniqueName } from '../../helpers/stack.js';
import { makeChanges, readVault, SALT } from '../stream/support.js';
import {
  CLUSTER,
  clusterUrl,
  dropClusterVault,
  lockCluster,
  node,
  NODES,
  SHARD_OF,
  waitUntil,
} from './support.js';

// `warehouse migrate --cluster` on the local stack's cluster (ch1, ch2 = shard 1; ch3 = shard 2):
// what it creates on every server, idempotence, refusals (exit 2), rows sharded by hash key the
// way TypeScript computes it, satellites beside their hub, marts through the Distributed tables
// equal to the same data on one server, the BI user, `warehouse status` per replica, `vault check`
// on the cluster, and copying a single-server vault into the cluster.

const suffix = uniqueName('clmig');
const dbs = testDatabases(suffix);
const single = testDatabases(uniqueName('clone'));
const changes = makeChanges(3000, 7);
const rows = mapChanges(changes, { piiSalt: SALT, loadTs: new Date(Date.UTC(2026, 10, 21)) });
const env = { SHOPDATA_CLICKHOUSE_URL: clusterUrl() };
let wh: Warehouse;
let one: Warehouse;
let release: () => void;

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCli([...args, '--db-suffix', suffix], { env: { ...env, ...extra }, timeoutMs: 300_000 });

describe('warehouse migrate --cluster', () => {
  beforeAll(async () => {
    release = await lockCluster();
    wh = await openWarehouse(clusterUrl(), { retries: 2 });
    one = await openWarehouse(stack.clickhouseUrl, { retries: 2 });
  }, 1_600_000);

  afterAll(async () => {
    await dropClusterVault(wh, dbs);
    await dropClusterVault(wh, single);
    for (const db of [single.mart, single.vault, single.ops]) await one.exec(`DROP DATABASE IF EXISTS ${db}`);
    await wh.close();
    await one.close();
    release?.();
  }, 180_000);

  it('--dry-run lists ON CLUSTER statements and creates nothing', async () => {
    const r = await cli(['warehouse', 'migrate', '--cluster', CLUSTER, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `CREATE TABLE IF NOT EXISTS ${dbs.vault}.hub_user_local ON CLUSTER ${CLUSTER}`,
    );
    expect(r.stdout).toContain(`ENGINE = Distributed(${CLUSTER}, ${dbs.vault}, hub_user_local`);
    for (const n of NODES) {
      const [row] = await node(n).query<{ n: string }>(
        `SELECT count() AS n FROM system.databases WHERE name IN ('${dbs.vault}', '${dbs.ops}', '${dbs.mart}')`,
      );
      expect(Number(row!.n)).toBe(0);
    }
  });

  it('creates the replicated, sharded vault on every server; a second run changes nothing', async () => {
    const r = await cli(['warehouse', 'migrate', '--cluster', CLUSTER, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cluster: CLUSTER, versionBefore: 0 });
    for (const n of NODES) {
      const tables = await node(n).query<{ database: string; name: string; engine: string }>(
        `SELECT database, name, engine FROM system.tables WHERE database IN ('${dbs.vault}', '${dbs.ops}', '${dbs.mart}')`,
      );
      const engine = (db: string, name: string) =>
        tables.find((t) => t.database === db && t.name === name)?.engine;
      for (const t of VAULT_TABLES) {
        expect(engine(dbs.vault, t.name), `ch${n} ${t.name}`).toBe('Distributed');
        expect(engine(dbs.vault, localTable(t.name)), `ch${n} ${t.name}`).toBe(
          'ReplicatedReplacingMergeTree',
        );
      }
      expect(engine(dbs.ops, 'backfill_leases')).toBe('ReplicatedMergeTree');
      expect(engine(dbs.ops, 'schema_migrations')).toBe('ReplicatedReplacingMergeTree');
      for (const v of Object.keys(MART_VIEWS)) expect(engine(dbs.mart, v)).toBe('View');
    }
    const again = await cli(['warehouse', 'migrate', '--cluster', CLUSTER]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to do');
  });

  it('refuses, with exit 2, a run that does not match how the warehouse was migrated', async () => {
    const without = await cli(['warehouse', 'migrate']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain(`Run with --cluster ${CLUSTER}`);
    const other = await runCli(
      ['warehouse', 'migrate', '--cluster', 'nosuch', '--db-suffix', uniqueName('x')],
      {
        env,
      },
    );
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('has no cluster "nosuch"');
    // A single server's vault is not converted in place.
    await migrate(one, { dbs: single });
    const onSingle = await runCli(
      ['warehouse', 'migrate', '--cluster', CLUSTER, '--db-suffix', single.vault.slice('vault_'.length)],
      { env: { SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl } },
    );
    expect(onSingle.code).toBe(2);
    expect(onSingle.stderr).toContain('single-server warehouse');
  });

  it('shards rows by hash key as TypeScript computes it, satellites beside their hub; marts equal one server', async () => {
    await insertRowSet(wh, rows, dbs);
    await insertRowSet(one, rows, single);
    const topology = await readTopology(wh, CLUSTER);
    for (const t of VAULT_TABLES) {
      const perShard = new Map<number, Set<string>>();
      for (const n of [1, 3] as const) {
        const got = await node(n).query<{ hk: string }>(
          `SELECT DISTINCT toString(${t.hashKey}) AS hk FROM ${dbs.vault}.${localTable(t.name)}`,
        );
        perShard.set(SHARD_OF[n], new Set(got.map((g) => g.hk)));
        for (const g of got)
          expect(shardOfKey(shardKeyOf(g.hk), topology), `${t.name} ${g.hk}`).toBe(SHARD_OF[n]);
      }
      expect(perShard.get(1)!.size + perShard.get(2)!.size).toBeGreaterThan(0);
      if (t.kind === 'satellite') {
        // Every satellite key sits on the shard that holds its parent's row.
        const parent = t.parents[0]!.table;
        for (const n of [1, 3] as const) {
          const [orphans] = await node(n).query<{ n: string }>(
            `SELECT count() AS n FROM ${dbs.vault}.${localTable(t.name)} WHERE ${t.hashKey} NOT IN (SELECT ${t.hashKey} FROM ${dbs.vault}.${localTable(parent)})`,
          );
          expect(Number(orphans!.n), `${t.name} on ch${n}`).toBe(0);
        }
      }
    }
    // What readers see through the Distributed tables equals the same rows on one server.
    expect(await readVault(wh, dbs)).toEqual(await readVault(one, single));
    for (const view of Object.keys(MART_VIEWS)) {
      const sql = (db: string) => `SELECT * FROM ${db}.${view} ORDER BY tuple(*)`;
      const onCluster = await wh.query(sql(dbs.mart));
      expect(onCluster.length, view).toBeGreaterThan(0);
      expect(onCluster, view).toEqual(await one.query(sql(single.mart)));
    }
  });

  it('drops a block it already has, whichever endpoint it comes through (what makes resending a batch safe)', async () => {
    const physical = async () => {
      const out: Record<string, number> = {};
      for (const t of VAULT_TABLES)
        out[t.name] = Number(
          (await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.vault}.${t.name}`))[0]!.n,
        );
      return out;
    };
    const before = await physical();
    // The very row set the previous test inserted, sent again through each server first.
    for (const order of [
      [1, 2, 3],
      [2, 3, 1],
      [3, 1, 2],
    ] as const) {
      const via = await openWarehouse(clusterUrl(order), { retries: 0 });
      try {
        await insertRowSet(via, rows, dbs);
      } finally {
        await via.close();
      }
    }
    // Stored once: not a row more, even without FINAL.
    expect(await physical()).toEqual(before);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('refuses backfill --cluster on 18.16 (no …Cluster table functions) with exit 2, nothing changed', async () => {
    const r = await cli(
      ['backfill', '--date', '2026-11-23', '--cluster', CLUSTER, '--lake', `/tmp/${suffix}-lake`],
      {
        SHOPDATA_PII_SALT: SALT,
      },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('…Cluster table functions');
    expect(r.stderr).toContain('Drop --cluster');
    const [n] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.ops}.backfill_ledger`);
    expect(Number(n!.n)).toBe(0);
  });

  it('the read-only BI user (`warehouse bi-user --format xml`) reads the marts on any server of the cluster and cannot write', async () => {
    // Rendered for this test's databases under its own name, installed on every server (each reloads users.d by itself).
    const user = `bi_${suffix}`;
    const password = 'cluster-bi-password-0123456789';
    const rendered = await cli(['warehouse', 'bi-user', '--format', 'xml', '--user', user, '--json'], {
      SHOPDATA_BI_PASSWORD: password,
      SHOPDATA_BI_ALLOW_FROM: '',
    });
    expect(rendered.code, rendered.stderr).toBe(0);
    const xml = (JSON.parse(rendered.stdout) as { config: string }).config;
    const files = NODES.map((n) => `${STACK_DIR}/clickhouse-cluster/ch${n}/etc/users.d/zz-${suffix}.xml`);
    const view = 'daily_orders';
    const expected = await wh.query(`SELECT * FROM ${dbs.mart}.${view} ORDER BY day`);
    try {
      for (const f of files) {
        writeFileSync(f, xml);
        const owner = statSync(dirname(f));
        chownSync(f, owner.uid, owner.gid);
      }
      for (const n of NODES) {
        const bi = new HttpWarehouse(`http://${user}:${password}@127.0.0.1:${ports[`CHC${n}_HTTP_PORT`]}`, {
          retries: 0,
        });
        try {
          await waitUntil(
            `ch${n} to know ${user}`,
            60_000,
            async () => (await bi.query('SELECT 1')).length === 1,
          );
          // ch1 and ch2 read shard 1 locally with the user's own rights, ch3 reads it remotely.
          expect(await bi.query(`SELECT * FROM ${dbs.mart}.${view} ORDER BY day`), `ch${n}`).toEqual(
            expected,
          );
          await expect(
            bi.exec(
              `INSERT INTO ${dbs.vault}.hub_user (hk_user, user_id) VALUES ('00000000000000000000000000000001', 1)`,
            ),
          ).rejects.toThrow(/readonly/i);
        } finally {
          await bi.close();
        }
      }
    } finally {
      for (const f of files) rmSync(f, { force: true });
    }
  });

  it('warehouse status shows every replica; vault check runs on the cluster and the replicas agree', async () => {
    const r = await cli(['warehouse', 'status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as WarehouseStatus;
    expect(s.cluster).toBe(CLUSTER);
    expect(s.replicas!.map((x) => [x.shard, x.name, x.state])).toEqual([
      [1, 'ch1', 'up'],
      [1, 'ch2', 'up'],
      [2, 'ch3', 'up'],
    ]);
    expect(s.tables.find((t) => t.table === 'hub_user')!.rows).toBe(
      (await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.vault}.hub_user`)).map((x) =>
        Number(x.n),
      )[0],
    );
    expect(s.tables.some((t) => t.table.endsWith('_local'))).toBe(false);
    const text = await cli(['warehouse', 'status']);
    expect(text.stdout).toMatch(/1\s+ch2\s+127\.0\.0\.1:\d+\s+up/);

    const check = await cli(['vault', 'check', '--format', 'json']);
    const report = JSON.parse(check.stdout) as {
      ok: boolean;
      checks: { id: string; status: string; severity: string; message: string }[];
    };
    // Errors only: freshness (a warning) flags the fixed load time of this test's rows.
    const bad = report.checks.filter(
      (c) => c.status === 'error' || (c.status === 'fail' && c.severity === 'error'),
    );
    expect(bad, JSON.stringify(bad)).toEqual([]);
    expect(check.code).toBe(0);
    expect(report.checks.find((c) => c.id === 'replica-agreement')!.status).toBe('pass');
  });

  it('copies a single-server vault into a freshly migrated cluster (--copy-from) with equal rows', async () => {
    const target = single.vault.slice('vault_'.length);
    const r = await runCli(
      [
        'warehouse',
        'migrate',
        '--cluster',
        CLUSTER,
        '--copy-from',
        `127.0.0.1:${ports.CH_TCP_PORT}`,
        '--db-suffix',
        target,
        '--json',
      ],
      { env, timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      copied: { tables: { table: string; source: number; cluster: number }[] };
    };
    expect(out.copied.tables.every((t) => t.source === t.cluster && t.source > 0)).toBe(true);
    expect(await readVault(wh, single)).toEqual(await readVault(one, single));
    // A second copy into the now full vault is refused.
    const again = await runCli(
      [
        'warehouse',
        'migrate',
        '--cluster',
        CLUSTER,
        '--copy-from',
        `127.0.0.1:${ports.CH_TCP_PORT}`,
        '--db-suffix',
        target,
      ],
      { env },
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already holds');
  });
});
