/**
 * Backfill throughput: one day of N lake changes (default 2,000,000) in a local Iceberg lake,
 * rebuilt into embedded ClickHouse (chDB 26) by `backfill --mode push` and `--mode pull`, each
 * next to ClickHouse's own INSERT … SELECT of the same files into plain MergeTree tables, in the
 * same run. Prints rows/s and ratios (mode ÷ native) and one JSON line.
 *
 *   bash bench/backfill.sh [changes] [--format iceberg|parquet] [--keep]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { relative, resolve } from 'node:path';
import { openWarehouse } from '../src/lib/warehouse/index.js';
import { openLake } from '../src/lib/lake/io.js';
import { writeChangelog, lakeTableUri, planTableDays, readPlanChanges } from '../src/lib/lake/index.js';
import { mapChanges } from '../src/lib/vault/mapping.js';
import { encodeRowBinary, rowBinaryColumns } from '../src/lib/vault/rowbinary.js';
import { LAKE_SCHEMAS } from '../src/lib/lake/schema.js';
import { runBackfill } from '../src/lib/backfill/run.js';
import { VAULT_TABLES, testDatabases } from '../src/lib/vault/tables.js';
import { migrate } from '../src/lib/warehouse/migrations/index.js';
import { SOURCE_TABLES, type SourceChange, type SourceTable } from '../src/lib/vault/types.js';

const args = process.argv.slice(2);
const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 2_000_000);
const format = (args[args.indexOf('--format') + 1] === 'parquet' ? 'parquet' : 'iceberg') as
  'iceberg' | 'parquet';
const keep = args.includes('--keep');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
/** Also push into a ClickHouse server (e.g. the stack's 18.16), which cannot read the lake itself. */
const server = args.includes('--server') ? args[args.indexOf('--server') + 1] : undefined;
const DAY = '2026-11-24';
const D0 = Date.parse(`${DAY}T00:00:00Z`) * 1000;
const SALT = '18d0891671ea58638cdcc49016ee394b3f399d91ab56dcd9ff24fb890f14187d';

/** Deterministic mix: 40 % purchases (1–3 items), 25 % ratings, 5 % cancellations, 30 % entity updates. */
function* generate(n: number): Generator<SourceChange> {
  let s = 42;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
  const money = () => `${Math.floor(r() * 900) + 1}.${String(Math.floor(r() * 100)).padStart(2, '0')}`;
  for (let i = 0; i < n; i++) {
    const ts = D0 + Math.floor((i / n) * 86_399_000_000);
    const x = r();
    const user = 1 + Math.floor(r() * 200_000);
    const product = 1 + Math.floor(r() * 20_000);
    if (x < 0.4) {
      const items = Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({
        product_id: 1 + Math.floor(r() * 20_000),
        qty: 1 + Math.floor(r() * 4),
        unit_price: money(),
      }));
      yield {
        table: 'purchases',
        op: 'c',
        commitTsUs: ts,
        row: { _id: i.toString(16).padStart(24, '0'), order_id: `o-${i}`, user_id: user, items, ts },
      };
    } else if (x < 0.65) {
      yield {
        table: 'ratings',
        op: 'c',
        commitTsUs: ts,
        row: {
          _id: `r${i}`,
          user_id: user,
          product_id: product,
          stars: 1 + Math.floor(r() * 5),
          comment: r() < 0.3 ? 'ok' : null,
          ts,
        },
      };
    } else if (x < 0.7) {
      yield {
        table: 'cancellations',
        op: 'c',
        commitTsUs: ts,
        row: { _id: `c${i}`, order_id: `o-${Math.max(0, i - 100)}`, user_id: user, reason: 'late', ts },
      };
    } else if (x < 0.82) {
      yield {
        table: 'users',
        op: 'u',
        commitTsUs: ts,
        row: {
          id: user,
          email: `u${user}@example.com`,
          full_name: `User ${user}`,
          city: 'Berlin',
          created_at: D0 - 1,
          updated_at: ts,
        },
      };
    } else if (x < 0.9) {
      yield {
        table: 'auth_credentials',
        op: 'u',
        commitTsUs: ts,
        row: { user_id: user, last_login_at: ts, failed_logins: Math.floor(r() * 3), updated_at: ts },
      };
    } else if (x < 0.98) {
      yield {
        table: 'products',
        op: 'u',
        commitTsUs: ts,
        row: {
          id: product,
          seller_id: 1 + (product % 500),
          sku: `SKU-${product}`,
          name: `Product ${product}`,
          category: ['books', 'toys', 'garden'][product % 3]!,
          price: money(),
          active: true,
          created_at: D0 - 1,
          updated_at: ts,
        },
      };
    } else {
      yield {
        table: 'sellers',
        op: 'u',
        commitTsUs: ts,
        row: {
          id: 1 + (i % 500),
          name: `Seller ${i % 500}`,
          country: 'DE',
          created_at: D0 - 1,
          updated_at: ts,
        },
      };
    }
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const root = resolve('.stack/tmp', `bench-backfill-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const lakeDir = `${root}/lake`;
  const io = openLake(lakeDir);
  const wh = await openWarehouse(`chdb:${root}/warehouse`);
  const traceMs = Number(process.env.BENCH_TRACE) > 1 ? Number(process.env.BENCH_TRACE) : 200;
  const traceTotals: Record<string, { n: number; ms: number; cpuMs: number }> = {};
  const cpuMs = (since?: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };
  if (process.env.BENCH_TRACE) {
    // Statement timings (slow ones, BENCH_TRACE=ms sets the threshold) for profiling.
    for (const m of ['exec', 'query', 'insert'] as const) {
      const orig = wh[m].bind(wh) as (sql: string, s?: unknown) => Promise<unknown>;
      (wh as unknown as Record<string, unknown>)[m] = async (sql: string, arg?: unknown) => {
        const t = Date.now();
        const c = process.cpuUsage();
        const r = await orig(sql, arg);
        const cpu = cpuMs(c);
        const kind = /^\s*(\w+(?:\s+\w+)?)/.exec(sql)?.[1]?.toUpperCase() ?? m;
        const e = (traceTotals[`${m} ${kind}`] ??= { n: 0, ms: 0, cpuMs: 0 });
        e.n++;
        e.ms += Date.now() - t;
        e.cpuMs += cpu;
        if (Date.now() - t > traceMs)
          process.stderr.write(
            `    ${((Date.now() - t) / 1000).toFixed(2)} s (cpu ${(cpu / 1000).toFixed(2)} s)  ${m === 'insert' ? `insert ${(arg as unknown[]).length} rows into ` : ''}${sql.replace(/\s+/g, ' ').slice(0, 140)}\n`,
          );
        return r;
      };
    }
  }
  try {
    // 1. The lake (not timed): commits of 250k changes, one data file per table and commit.
    const t0 = Date.now();
    const buffers = new Map<SourceTable, SourceChange[]>(SOURCE_TABLES.map((t) => [t, []]));
    let pending = 0;
    const flush = async () => {
      for (const [t, list] of buffers)
        if (list.length) await writeChangelog(io, t, list.splice(0), { format, codec: 'ZSTD' });
      pending = 0;
    };
    for (const c of generate(total)) {
      buffers.get(c.table)!.push(c);
      if (++pending >= 250_000) await flush();
    }
    await flush();
    for (const t of SOURCE_TABLES) await writeChangelog(io, t, [], { format });
    process.stderr.write(
      `lake: ${fmt(total)} changes written in ${((Date.now() - t0) / 1000).toFixed(1)} s (${format}, zstd)\n`,
    );

    // 2. Native: ClickHouse copies the same files into MergeTree tables with the lake's columns.
    await wh.exec('CREATE DATABASE IF NOT EXISTS bench_native');
    const loadBefore = loadavg();
    const nativeStart = Date.now();
    const nativeCpu = process.cpuUsage();
    let nativeRows = 0;
    for (const t of SOURCE_TABLES) {
      const rel = relative(process.cwd(), lakeTableUri(io, format, t));
      const src = format === 'iceberg' ? `icebergLocal('${rel}')` : `file('${rel}/*/*.parquet', 'Parquet')`;
      await wh.exec(`DROP TABLE IF EXISTS bench_native.${t}`);
      await wh.exec(
        `CREATE TABLE bench_native.${t} ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM ${src} LIMIT 0`,
      );
      await wh.exec(`INSERT INTO bench_native.${t} SELECT * FROM ${src}`);
      const [c] = await wh.query<{ n: string }>(`SELECT count() AS n FROM bench_native.${t}`);
      nativeRows += Number(c?.n ?? 0);
    }
    const nativeSec = (Date.now() - nativeStart) / 1000;
    const nativeCpuSec = cpuMs(nativeCpu) / 1000;
    if (nativeRows !== total) throw new Error(`native copy read ${nativeRows} rows, expected ${total}`);

    // 3. push and pull into fresh vaults.
    const results: Record<
      string,
      { seconds: number; rowsPerSec: number; vaultRows: number; stageSeconds: number; cpuSeconds: number }
    > = {};
    for (const mode of ['pull', 'push'] as const) {
      if (only && only !== mode) {
        results[mode] = { seconds: NaN, rowsPerSec: NaN, vaultRows: 0, stageSeconds: NaN, cpuSeconds: NaN };
        continue;
      }
      const dbs = testDatabases(`bench_${mode}`);
      for (const db of [dbs.vault, dbs.mart, dbs.ops]) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
      await migrate(wh, { dbs }); // vault, marts and ops (the backfill ledger, ops.loads) as in production
      const start = Date.now();
      const startCpu = process.cpuUsage();
      let last = Date.now();
      let lastCpu = process.cpuUsage();
      const trace = process.env.BENCH_TRACE
        ? (e: { step: string; message: string }) => {
            process.stderr.write(
              `  [${mode}] +${((Date.now() - last) / 1000).toFixed(2)} s (cpu ${(cpuMs(lastCpu) / 1000).toFixed(2)} s) → ${e.message}\n`,
            );
            last = Date.now();
            lastCpu = process.cpuUsage();
          }
        : undefined;
      const res = await runBackfill({
        wh,
        io,
        dbs,
        days: [DAY],
        format,
        mode,
        piiSalt: SALT,
        cwd: process.cwd(),
        batchRows: 100_000,
        ...(trace ? { onProgress: trace } : {}),
      });
      const seconds = (Date.now() - start) / 1000;
      const lakeRows = res.days[0]!.tables.reduce((s, t) => s + (t.rows ?? 0), 0);
      if (lakeRows !== total) throw new Error(`${mode} read ${lakeRows} lake rows, expected ${total}`);
      const vaultRows = Object.values(res.days[0]!.vault).reduce((s, v) => s + v.rows, 0);
      results[mode] = {
        seconds,
        rowsPerSec: total / seconds,
        vaultRows,
        stageSeconds: (res.days[0]!.timings.stageMs ?? 0) / 1000,
        cpuSeconds: cpuMs(startCpu) / 1000,
      };
      process.stderr.write(`  [${mode}] timings ${JSON.stringify(res.days[0]!.timings)}\n`);
      if (process.env.BENCH_TRACE) {
        for (const [k, v] of Object.entries(traceTotals).sort((a, b) => b[1].ms - a[1].ms))
          process.stderr.write(
            `    ${String(v.ms).padStart(6)} ms (cpu ${v.cpuMs.toFixed(0).padStart(6)} ms)  ${String(v.n).padStart(4)}×  ${k}\n`,
          );
        for (const k of Object.keys(traceTotals)) delete traceTotals[k];
      }
    }
    const nativeRate = total / nativeSec;
    const out = {
      bench: 'backfill',
      engine: `chDB ${(await wh.version()).raw}`,
      format,
      changes: total,
      native: { seconds: nativeSec, rowsPerSec: nativeRate, cpuSeconds: nativeCpuSec },
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
      pull: { ...results.pull!, ratio: results.pull!.rowsPerSec / nativeRate },
      push: { ...results.push!, ratio: results.push!.rowsPerSec / nativeRate },
    };
    console.log(
      `one day, ${fmt(total)} lake changes (${format}), chDB ${(await wh.version()).raw}; load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `  native INSERT … SELECT  ${fmt(nativeRate).padStart(10)} rows/s  (${nativeSec.toFixed(1)} s, cpu ${nativeCpuSec.toFixed(1)} s)`,
    );
    for (const m of ['pull', 'push'] as const) {
      console.log(
        `  backfill --mode ${m}   ${fmt(results[m]!.rowsPerSec).padStart(10)} rows/s  (${results[m]!.seconds.toFixed(1)} s, cpu ${results[m]!.cpuSeconds.toFixed(1)} s, ${fmt(results[m]!.vaultRows)} satellite rows)  ratio ${out[m].ratio.toFixed(3)}× native`,
      );
    }
    let serverPush:
      | {
          url: string;
          version: string;
          seconds: number;
          rowsPerSec: number;
          ratio: number;
          rawIngestSeconds: number;
          ratioToRawIngest: number;
          timings: Record<string, number>;
        }
      | undefined;
    if (server) {
      const srv = await openWarehouse(server);
      const dbs = testDatabases(`bench_srv_${process.pid}`);
      try {
        await migrate(srv, { dbs });
        const start = Date.now();
        const res = await runBackfill({
          wh: srv,
          io,
          dbs,
          days: [DAY],
          format,
          mode: 'push',
          piiSalt: SALT,
          batchRows: 100_000,
        });
        const seconds = (Date.now() - start) / 1000;
        // The server's raw ingest of the same rows: mapped and encoded before the clock starts,
        // then inserted as RowBinary into tables of the vault's structure, 100,000 changes a batch.
        const rawDbs = testDatabases(`bench_srv_raw_${process.pid}`);
        await migrate(srv, { dbs: rawDbs });
        const encoded: { table: string; columns: string[]; data: Uint8Array }[] = [];
        for (const table of SOURCE_TABLES) {
          const plan = await planTableDays(io, table, { format, from: DAY, to: DAY });
          if (!plan) continue;
          for await (const batch of readPlanChanges(io, table, plan)) {
            for (let i = 0; i < batch.changes.length; i += 100_000) {
              const rows = mapChanges(batch.changes.slice(i, i + 100_000), {
                piiSalt: SALT,
                loadTs: new Date(),
              });
              for (const t of VAULT_TABLES) {
                const list = rows.get(t.name);
                if (list?.length)
                  encoded.push({
                    table: `${rawDbs.vault}.${t.name}`,
                    columns: rowBinaryColumns(t),
                    data: encodeRowBinary(t, list),
                  });
              }
            }
          }
        }
        const rawStart = Date.now();
        for (const e of encoded) await srv.insertEncoded!(e.table, e.columns, 'RowBinary', e.data);
        const rawSeconds = (Date.now() - rawStart) / 1000;
        for (const db of [rawDbs.mart, rawDbs.vault, rawDbs.ops])
          await srv.exec(`DROP DATABASE IF EXISTS ${db}`);
        serverPush = {
          url: srv.displayUrl,
          version: (await srv.version()).raw,
          seconds,
          rowsPerSec: total / seconds,
          ratio: total / seconds / (total / nativeSec),
          rawIngestSeconds: rawSeconds,
          ratioToRawIngest: rawSeconds / seconds,
          timings: res.days[0]!.timings,
        };
      } finally {
        for (const db of [dbs.mart, dbs.vault, dbs.ops])
          await srv.exec(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
        await srv.close();
      }
      console.log(
        `  push into ClickHouse ${serverPush.version} ${fmt(serverPush.rowsPerSec).padStart(8)} rows/s  (${serverPush.seconds.toFixed(1)} s)  ratio ${serverPush.ratio.toFixed(3)}× chDB native; the same rows inserted alone (raw ingest) ${serverPush.rawIngestSeconds.toFixed(1)} s: push ${serverPush.ratioToRawIngest.toFixed(2)}× raw ingest (aim ≥ 0.7)  ${JSON.stringify(serverPush.timings)}`,
      );
    }
    // The same generated vault SQL without staging checks, report and swap: what orchestration costs.
    const sqlOnly = results.pull!.stageSeconds;
    console.log(
      `  pull's vault SQL alone ${fmt(total / sqlOnly).padStart(10)} rows/s  (${sqlOnly.toFixed(1)} s; pull ÷ this ${(sqlOnly / results.pull!.seconds).toFixed(2)}×)`,
    );
    console.log(
      JSON.stringify({
        ...out,
        pullVaultSqlOnly: {
          seconds: sqlOnly,
          rowsPerSec: total / sqlOnly,
          pullRatio: sqlOnly / results.pull!.seconds,
        },
      }),
    );
  } finally {
    io.close();
    await wh.close();
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

void LAKE_SCHEMAS;
