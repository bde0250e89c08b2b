/**
 * `vault check` at scale: a clean vault of at least 10,000,000 satellite rows generated inside the
 * warehouse (INSERT … SELECT from numbers(), keys and hashdiffs from the vault core's SQL
 * generators, so the vault is clean), then every check, next to plain count() scans of the same
 * tables in the same run, printed as ratios.
 *
 * Run: bash bench/check.sh [satellite rows, default 10000000] [warehouse URL, default chdb:<temp dir>]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWarehouse, type Warehouse } from '../src/lib/warehouse/index.js';
import { dialectFor, type Dialect } from '../src/lib/warehouse/dialect.js';
import { migrate } from '../src/lib/warehouse/migrations/index.js';
import { testDatabases, VAULT_TABLES, type VaultDatabases } from '../src/lib/vault/tables.js';
import { hashKeySql, satelliteHashdiffSql } from '../src/lib/vault/sql.js';
import { runChecks } from '../src/lib/check/index.js';
import { US_PER_DAY as DAY } from '../src/lib/values/index.js';

const satRows = Number(process.argv[2] ?? 10_000_000);
const tempDir = process.argv[3] ? undefined : mkdtempSync(join(tmpdir(), 'shopdata-bench-check-'));
const url = process.argv[3] ?? `chdb:${tempDir}`;
/** Users; satellite rows = 6 per user (sat_user) + 3 (sat_user_auth) + 1 order each (sat_order). */
const users = Math.ceil(satRows / 10);
const T0 = Date.UTC(2026, 10, 1) * 1000; // µs

const int = { kind: 'int' as const };
const str = { kind: 'string' as const };

/** CPU of this process in the last timed() call (chDB runs in it; a server's CPU is not counted). */
let lastCpuMs = 0;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const r = await fn();
  const u = process.cpuUsage(c);
  lastCpuMs = (u.user + u.system) / 1000;
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

async function generate(wh: Warehouse, dbs: VaultDatabases, d: Dialect): Promise<void> {
  const v = dbs.vault;
  const now = 'now()';
  const userHk = (e: string) => hashKeySql([{ expr: e, spec: int }], d);
  const orderHk = (e: string) => hashKeySql([{ expr: e, spec: str }], d);
  const steps: Array<[string, string]> = [
    [
      `hub_user (${users})`,
      `INSERT INTO ${v}.hub_user (hk_user, user_id, first_seen_us, ver, load_ts, record_source)
       SELECT ${userHk('u')}, u, ${T0} + u * 1000, ${Number.MAX_SAFE_INTEGER} - (${T0} + u * 1000), ${now}, 'shop.public.users'
       FROM (SELECT number + 1 AS u FROM numbers(${users}))`,
    ],
    [
      `sat_user (${users * 6})`,
      `INSERT INTO ${v}.sat_user (hk_user, effective_us, effective_ts, hashdiff, is_deleted, email_sha256, full_name_sha256, city, created_at_us, updated_at_us, load_ts, record_source)
       SELECT hk_user, effective_us, toDateTime(intDiv(effective_us, 1000000), 'UTC'), ${satelliteHashdiffSql('sat_user', d)}, 0,
              email_sha256, full_name_sha256, city, created_at_us, updated_at_us, ${now}, 'shop.public.users'
       FROM (
         SELECT ${userHk('u')} AS hk_user, toUInt64(${T0} + v * ${DAY} + u * 1000) AS effective_us,
                toNullable(toFixedString(hex(SHA256(concat('bench||user', toString(u), '@example.com'))), 64)) AS email_sha256,
                toNullable(toFixedString(hex(SHA256(concat('bench||Name ', toString(u)))), 64)) AS full_name_sha256,
                toNullable(['Berlin', 'Paris', 'Rome'][v % 3 + 1]) AS city,
                toNullable(toInt64(${T0} + u * 1000)) AS created_at_us,
                toNullable(toInt64(${T0} + v * ${DAY} + u * 1000)) AS updated_at_us
         FROM (SELECT intDiv(number, 6) + 1 AS u, number % 6 AS v FROM numbers(${users * 6}))
       )`,
    ],
    [
      `sat_user_auth (${users * 3})`,
      `INSERT INTO ${v}.sat_user_auth (hk_user, effective_us, effective_ts, hashdiff, is_deleted, last_login_at_us, failed_logins, updated_at_us, load_ts, record_source)
       SELECT hk_user, effective_us, toDateTime(intDiv(effective_us, 1000000), 'UTC'), ${satelliteHashdiffSql('sat_user_auth', d)}, 0,
              last_login_at_us, failed_logins, updated_at_us, ${now}, 'shop.public.auth_credentials'
       FROM (
         SELECT ${userHk('u')} AS hk_user, toUInt64(${T0} + v * 2 * ${DAY} + u * 1000 + 1) AS effective_us,
                if(v = 0, CAST(NULL AS Nullable(Int64)), toNullable(toInt64(${T0} + v * 2 * ${DAY} + u * 1000 + 1))) AS last_login_at_us,
                toNullable(toInt32(v % 2)) AS failed_logins,
                toNullable(toInt64(${T0} + v * 2 * ${DAY} + u * 1000 + 1)) AS updated_at_us
         FROM (SELECT intDiv(number, 3) + 1 AS u, number % 3 AS v FROM numbers(${users * 3}))
       )`,
    ],
    [
      `hub_order (${users})`,
      `INSERT INTO ${v}.hub_order (hk_order, order_id, first_seen_us, ver, load_ts, record_source)
       SELECT ${orderHk('order_id')}, order_id, t, ${Number.MAX_SAFE_INTEGER} - t, ${now}, 'shop_events.purchases'
       FROM (SELECT concat('ORD-', toString(number + 1)) AS order_id, toUInt64(${T0} + 6 * ${DAY} + number * 1000) AS t FROM numbers(${users}))`,
    ],
    [
      `link_order_user (${users})`,
      `INSERT INTO ${v}.link_order_user (hk_order_user, hk_order, hk_user, first_seen_us, ver, load_ts, record_source)
       SELECT ${hashKeySql(
         [
           { expr: 'order_id', spec: str },
           { expr: 'u', spec: int },
         ],
         d,
       )}, ${orderHk('order_id')}, ${userHk('u')}, t, ${Number.MAX_SAFE_INTEGER} - t, ${now}, 'shop_events.purchases'
       FROM (SELECT concat('ORD-', toString(number + 1)) AS order_id, number % ${users} + 1 AS u, toUInt64(${T0} + 6 * ${DAY} + number * 1000) AS t FROM numbers(${users}))`,
    ],
    [
      `sat_order (${users})`,
      `INSERT INTO ${v}.sat_order (hk_order, status, effective_us, effective_ts, hashdiff, is_deleted, event_ts_us, lines, units, total_amount, reason, source_id, load_ts, record_source)
       SELECT hk_order, 'placed', effective_us, toDateTime(intDiv(effective_us, 1000000), 'UTC'), ${satelliteHashdiffSql('sat_order', d)}, 0,
              event_ts_us, lines, units, total_amount, reason, source_id, ${now}, 'shop_events.purchases'
       FROM (
         SELECT ${orderHk("concat('ORD-', toString(number + 1))")} AS hk_order, toUInt64(${T0} + 6 * ${DAY} + number * 1000) AS effective_us,
                toNullable(toInt64(${T0} + 6 * ${DAY} + number * 1000)) AS event_ts_us, toNullable(toUInt32(number % 4 + 1)) AS lines,
                toNullable(toUInt64(number % 7 + 1)) AS units, toNullable(toDecimal64(number % 50000, 2) / 100) AS total_amount,
                CAST(NULL AS Nullable(String)) AS reason, toNullable(hex(MD5(toString(number)))) AS source_id
         FROM numbers(${users})
       )`,
    ],
  ];
  for (const [what, sql] of steps) {
    const [, ms] = await timed(() => wh.exec(sql));
    console.log(`  generated ${what.padEnd(28)} ${(ms / 1000).toFixed(1)} s`);
  }
}

async function main(): Promise<void> {
  const wh = await openWarehouse(url, { requestTimeoutMs: 3_600_000, retries: 1 });
  const version = await wh.version();
  const d = dialectFor(version);
  const dbs = testDatabases(`bench_${Date.now().toString(36)}`);
  console.log(
    `vault check bench on ${wh.displayUrl} (${wh.engine} ${version.raw}), ${satRows.toLocaleString('en')} satellite rows requested`,
  );
  try {
    await migrate(wh, { dbs });
    await generate(wh, dbs, d);
    const counts = await wh.query<{ name: string; rows: string }>(
      `SELECT table AS name, toString(sum(rows)) AS rows FROM system.parts WHERE database = '${dbs.vault}' AND active GROUP BY table ORDER BY table`,
    );
    const satTotal = counts.filter((c) => c.name.startsWith('sat_')).reduce((a, c) => a + Number(c.rows), 0);
    console.log(
      `  vault: ${counts.map((c) => `${c.name} ${Number(c.rows).toLocaleString('en')}`).join(', ')}`,
    );
    console.log(`  satellite rows: ${satTotal.toLocaleString('en')}`);

    // Baselines over every vault table, in the same run: a plain count() scan that reads the key
    // column of every row (a bare count() is answered from part metadata, ~1 ms), and count()
    // reading every column of every row.
    const loadBefore = loadavg();
    const tables = VAULT_TABLES.map((t) => ({ name: `${dbs.vault}.${t.name}`, key: t.hashKey }));
    const [, countMs] = await timed(async () => {
      for (const t of tables) await wh.query(`SELECT count() AS n FROM ${t.name} WHERE NOT ignore(${t.key})`);
    });
    const countCpuMs = lastCpuMs;
    const [, scanMs] = await timed(async () => {
      for (const t of tables) await wh.query(`SELECT count() AS n FROM ${t.name} WHERE NOT ignore(*)`);
    });
    const scanCpuMs = lastCpuMs;

    const [{ report }, checkMs] = await timed(() => runChecks({ wh, dbs, freshnessMaxSeconds: 3600 }));
    const checkCpuMs = lastCpuMs;
    console.log('');
    console.log('check                      status   ms        × count()  × full scan');
    for (const c of report.checks) {
      console.log(
        `${c.id.padEnd(26)} ${c.status.padEnd(8)} ${String(c.durationMs).padStart(8)}  ${(c.durationMs / countMs).toFixed(1).padStart(9)}  ${(c.durationMs / scanMs).toFixed(2).padStart(10)}`,
      );
    }
    console.log('');
    const cpu = (ms: number) => (wh.engine === 'chdb' ? `  (cpu ${ms.toFixed(0)} ms)` : '');
    console.log(
      `SELECT count() of all ${tables.length} vault tables (one column read)  ${countMs.toFixed(0)} ms${cpu(countCpuMs)}`,
    );
    console.log(
      `SELECT count() … WHERE NOT ignore(*) (every column)         ${scanMs.toFixed(0)} ms${cpu(scanCpuMs)}`,
    );
    console.log(
      `all checks                                                  ${checkMs.toFixed(0)} ms${cpu(checkCpuMs)}`,
    );
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(`load average before ${fmtLoad(loadBefore)}, after ${fmtLoad(loadavg())} (1, 5, 15 min)`);
    console.log(
      `ratio all checks / count() scan: ${(checkMs / countMs).toFixed(1)}x; / full-column scan: ${(checkMs / scanMs).toFixed(2)}x`,
    );
    console.log(
      JSON.stringify({
        bench: 'vault-check',
        engine: wh.engine,
        version: version.raw,
        satelliteRows: satTotal,
        countScanMs: Math.round(countMs),
        fullScanMs: Math.round(scanMs),
        checksMs: Math.round(checkMs),
        ratioToCount: Number((checkMs / countMs).toFixed(2)),
        ratioToFullScan: Number((checkMs / scanMs).toFixed(2)),
        ...(wh.engine === 'chdb'
          ? { cpuMs: { countScan: countCpuMs, fullScan: scanCpuMs, checks: checkCpuMs } }
          : {}),
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadavg(),
        statuses: Object.fromEntries(report.checks.map((c) => [c.id, c.status])),
        perCheckMs: Object.fromEntries(report.checks.map((c) => [c.id, c.durationMs])),
      }),
    );
  } finally {
    for (const db of [dbs.mart, dbs.vault, dbs.ops])
      await wh.exec(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await wh.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
