import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { LAKE_SCHEMAS, icebergSchemaOf } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack, s3Env, uniqueName } from '../../helpers/stack.js';
import { runCli } from '../../helpers/cli.js';
import { sampleChanges, onDay, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { pyTool, s3Lake, expectedRow } from '../lake/helpers.js';
import { SALT, createVault, dropVault, loadLikeStream, vaultSnapshot, marts, openServer } from './helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

let wh: Warehouse;
const dbsList: VaultDatabases[] = [];
const ios: LakeIO[] = [];
beforeAll(async () => {
  wh = await openServer();
});
afterAll(async () => {
  for (const d of dbsList) await dropVault(wh, d);
  ios.forEach((io) => io.close());
  await wh?.close();
});

async function vault(prefix: string): Promise<{ dbs: VaultDatabases; suffix: string }> {
  const suffix = uniqueName(prefix);
  const dbs = await createVault(wh, prefix, suffix);
  dbsList.push(dbs);
  return { dbs, suffix };
}

function env(lake: string, extra: Record<string, string> = {}) {
  return {
    ...s3Env,
    SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
    SHOPDATA_LAKE: lake,
    SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
    SHOPDATA_PII_SALT: SALT,
    SHOPDATA_LOG_LEVEL: 'warn',
    ...extra,
  };
}

const changes = sampleChanges(28, 3);

describe('shopdata backfill (CLI, ClickHouse 18.16, S3)', () => {
  it('loads changelog tables pyiceberg wrote (a delete, a renamed and an added column): vault and marts equal the ground truth', async () => {
    const lake = s3Lake('clipy');
    const doomed = onDay(changes.purchases, DAY1)[2]!;
    for (const table of SOURCE_TABLES) {
      const cs = changes[table];
      const schema = icebergSchemaOf(LAKE_SCHEMAS[table]) as unknown as { fields: { name: string }[] };
      if (table === 'users') {
        const initial = {
          ...schema,
          fields: schema.fields.map((f) => (f.name === 'city' ? { ...f, name: 'town' } : f)),
        };
        const asInitial = (c: SourceChange) => {
          const { city, ...rest } = expectedRow(c);
          return { ...rest, town: city };
        };
        await pyTool('scenario', {
          lake,
          table,
          schema: initial,
          steps: [
            { append: cs.slice(0, 10).map(asInitial) },
            { rename: ['town', 'city'] },
            { add_column: ['segment', 'string'] },
            { append: cs.slice(10).map((c) => ({ ...expectedRow(c), segment: 'b2c' })) },
          ],
        });
      } else if (table === 'purchases') {
        await pyTool('scenario', {
          lake,
          table,
          schema,
          steps: [{ append: cs.map(expectedRow) }, { delete: `_id == '${doomed.row._id as string}'` }],
        });
      } else {
        await pyTool('scenario', { lake, table, schema, steps: [{ append: cs.map(expectedRow) }] });
      }
    }
    const truth = SOURCE_TABLES.flatMap((t) => changes[t]).filter((c) => c !== doomed);

    const { dbs, suffix } = await vault('cli');
    const res = await runCli(['backfill', '--date', DAY1, '--json', '--db-suffix', suffix], {
      env: env(lake),
    });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      days: { status: string; mode: string; tables: { table: string; snapshotId: string; rows: number }[] }[];
    };
    expect(out.days[0]!.status).toBe('done');
    expect(out.days[0]!.mode).toBe('push');
    expect(out.days[0]!.tables.find((t) => t.table === 'purchases')!.rows).toBe(
      onDay(changes.purchases, DAY1).length - 1,
    );

    const { dbs: exp } = await vault('cliexp');
    await loadLikeStream(wh, exp, onDay(truth, DAY1));
    expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, exp));
    const m = await marts(wh, dbs);
    expect(m).toEqual(await marts(wh, exp));

    // daily_orders, computed independently from the source events of the day.
    const purchases = onDay(truth, DAY1).filter((c) => c.table === 'purchases');
    const items = purchases.flatMap((p) => p.row.items as { qty: number; unit_price: string }[]);
    const cents = items.reduce((s, it) => s + BigInt(it.qty) * BigInt(it.unit_price.replace('.', '')), 0n);
    const cancels = onDay(truth, DAY1).filter((c) => c.table === 'cancellations');
    const row = (m.daily_orders as Record<string, unknown>[]).find((r) => r.day === DAY1)!;
    expect({
      orders: Number(row.orders),
      buyers: Number(row.buyers),
      units: Number(row.units),
      gross: Number(row.gross_revenue).toFixed(2),
      cancellations: Number(row.cancellations),
    }).toEqual({
      orders: purchases.length,
      buyers: new Set(purchases.map((p) => p.row.user_id)).size,
      units: items.reduce((s, it) => s + it.qty, 0),
      gross: `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`,
      cancellations: cancels.length,
    });
  });

  it('--dry-run --json shows the plan and changes nothing', async () => {
    const lake = s3Lake('clidry');
    const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
    ios.push(io);
    for (const t of SOURCE_TABLES)
      await writeChangelog(io, t, changes[t], { format: 'parquet', codec: 'SNAPPY' });
    const { dbs, suffix } = await vault('clidry');
    const res = await runCli(
      ['backfill', '--date', DAY1, '--to', DAY2, '--dry-run', '--json', '--db-suffix', suffix],
      { env: env(lake) },
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      dryRun: boolean;
      days: {
        day: string;
        status: string;
        partitions: string[];
        tables: { format: string; files: unknown[]; bytes: number }[];
      }[];
    };
    expect(out.dryRun).toBe(true);
    expect(out.days.map((d) => d.day)).toEqual([DAY1, DAY2]);
    expect(out.days[0]!.status).toBe('planned');
    // One file per table and day folder (cancellations happen on DAY2 only in this fixture).
    const withData = SOURCE_TABLES.filter((t) => onDay(changes[t], DAY1).length > 0);
    expect(out.days[0]!.tables.filter((t) => t.files.length === 1 && t.bytes > 0)).toHaveLength(
      withData.length,
    );
    expect(out.days[0]!.tables.every((t) => t.format === 'parquet')).toBe(true);
    expect(out.days[0]!.partitions).toContain(`${dbs.vault}.sat_user:20261123`);
    const [n] = await wh.query<{ n: string }>(`SELECT count() AS n FROM ${dbs.vault}.sat_user`);
    expect(n!.n).toBe('0');
  });

  it('exit codes: bad --date 2, missing day or table 1, S3 unreachable 3 with nothing changed', async () => {
    const lake = s3Lake('clierr');
    const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
    ios.push(io);
    for (const t of SOURCE_TABLES.filter((t) => t !== 'ratings'))
      await writeChangelog(io, t, changes[t], { format: 'iceberg' });
    const { dbs, suffix } = await vault('clierr');
    await loadLikeStream(
      wh,
      dbs,
      onDay(
        SOURCE_TABLES.flatMap((t) => changes[t]),
        DAY1,
      ),
    );
    const before = await vaultSnapshot(wh, dbs);

    const bad = await runCli(['backfill', '--date', '2026-02-30', '--db-suffix', suffix], { env: env(lake) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--date "2026-02-30" is not a calendar day/);

    const missingTable = await runCli(['backfill', '--date', DAY1, '--db-suffix', suffix], {
      env: env(lake),
    });
    expect(missingTable.code).toBe(1);
    expect(missingTable.stderr).toMatch(/no changelog table for ratings; nothing was changed/);

    await writeChangelog(io, 'ratings', changes.ratings, { format: 'iceberg' });

    const unmigrated = await runCli(['backfill', '--date', DAY1, '--db-suffix', uniqueName('nodb')], {
      env: env(lake),
    });
    expect(unmigrated.code).toBe(2);
    expect(unmigrated.stderr).toMatch(/lacks vault tables .*Run `shopdata warehouse migrate` first/s);

    const missingDay = await runCli(['backfill', '--date', '2026-12-24', '--db-suffix', suffix], {
      env: env(lake),
    });
    expect(missingDay.code).toBe(1);
    expect(missingDay.stderr).toMatch(/no data for 2026-12-24 in any table; nothing was changed/);
    expect(missingDay.stderr).toMatch(/latest day in the lake is 2026-11-24/);

    const down = await runCli(['backfill', '--date', DAY1, '--db-suffix', suffix], {
      env: env(lake, { SHOPDATA_S3_ENDPOINT: 'http://127.0.0.1:1' }),
      timeoutMs: 120_000,
    });
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toMatch(/S3 is unreachable/);
    expect(await vaultSnapshot(wh, dbs)).toEqual(before);
  });
});
