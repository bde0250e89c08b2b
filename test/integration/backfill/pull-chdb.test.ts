import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog, lakeTableUri } from '../../../src/lib/lake/index.js';
import { icebergDeletePositions } from '../../../src/lib/lake/iceberg/writer.js';
import { LAKE_SCHEMAS, icebergSchemaOf } from '../../../src/lib/lake/schema.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { SOURCE_TABLES, type SourceChange } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { s3Lake, repoTmpDir, pyTool, expectedRow, removeTmpDirs } from '../lake/helpers.js';
import { SALT, createVault, loadLikeStream, vaultSnapshot, marts } from './helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

let wh: Warehouse;
const ios: LakeIO[] = [];
const changes = sampleChanges(30, 9);
const all = SOURCE_TABLES.flatMap((t) => changes[t]);
// chDB signs S3 requests with this process's AWS_* variables: no credentials in the options.
const s3 = { endpoint: stack.s3Endpoint };

beforeAll(async () => {
  wh = await openWarehouse(`chdb:${repoTmpDir('chdb_bf')}`);
});
afterAll(async () => {
  ios.forEach((io) => io.close());
  await wh?.close();
  removeTmpDirs();
});

async function lakeWith(
  kind: 's3' | 'local',
  format: 'iceberg' | 'parquet',
  codec: 'ZSTD' | 'SNAPPY' | 'GZIP' = 'ZSTD',
): Promise<LakeIO> {
  const io =
    kind === 's3'
      ? openLake(s3Lake('bfpull'), { s3Endpoint: stack.s3Endpoint })
      : openLake(repoTmpDir('bfpull'));
  ios.push(io);
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format, codec });
  return io;
}

describe('push and pull give identical vault rows (chDB, ClickHouse 26)', () => {
  for (const [kind, format] of [
    ['s3', 'iceberg'],
    ['local', 'iceberg'],
    ['s3', 'parquet'],
    ['local', 'parquet'],
  ] as const) {
    it(`${format} lake on ${kind}`, async () => {
      const io = await lakeWith(kind, format, format === 'parquet' ? 'GZIP' : 'ZSTD');
      const pushDbs = await createVault(wh, 'push');
      const pullDbs = await createVault(wh, 'pull');
      const push = await runBackfill({
        wh,
        io,
        dbs: pushDbs,
        days: [DAY1],
        format,
        mode: 'push',
        piiSalt: SALT,
      });
      const pull = await runBackfill({
        wh,
        io,
        dbs: pullDbs,
        days: [DAY1],
        format,
        mode: 'pull',
        piiSalt: SALT,
        s3,
      });
      expect(push.days[0]!.mode).toBe('push');
      expect(pull.days[0]!.mode).toBe('pull');
      const a = await vaultSnapshot(wh, pushDbs);
      const b = await vaultSnapshot(wh, pullDbs);
      expect(Object.values(a).reduce((n, rows) => n + rows.length, 0)).toBeGreaterThan(50);
      expect(b).toEqual(a);
      expect(pull.days[0]!.vault).toEqual(push.days[0]!.vault);
      // And both equal the stream's rows for the same changes.
      const expDbs = await createVault(wh, 'exp');
      await loadLikeStream(wh, expDbs, onDay(all, DAY1));
      expect(a).toEqual(await vaultSnapshot(wh, expDbs));
      expect(await marts(wh, pullDbs)).toEqual(await marts(wh, expDbs));
    });
  }

  it('pyiceberg tables with a renamed and an added column and a copy-on-write delete: pull = push', async () => {
    const lakeUri = s3Lake('bfpy');
    const io = openLake(lakeUri, { s3Endpoint: stack.s3Endpoint });
    ios.push(io);
    const doomed = onDay(changes.ratings, DAY1)[1]!;
    for (const table of SOURCE_TABLES) {
      const cs = changes[table];
      const schema = icebergSchemaOf(LAKE_SCHEMAS[table]) as unknown as { fields: { name: string }[] };
      if (table === 'products') {
        const initial = {
          ...schema,
          fields: schema.fields.map((f) => (f.name === 'category' ? { ...f, name: 'cat' } : f)),
        };
        const asInitial = (c: SourceChange) => {
          const { category, ...rest } = expectedRow(c);
          return { ...rest, cat: category };
        };
        await pyTool('scenario', {
          lake: lakeUri,
          table,
          schema: initial,
          steps: [
            { append: cs.slice(0, 12).map(asInitial) },
            { rename: ['cat', 'category'] },
            { add_column: ['badge', 'string'] },
            { append: cs.slice(12).map((c) => ({ ...expectedRow(c), badge: 'new' })) },
          ],
        });
      } else if (table === 'ratings') {
        await pyTool('scenario', {
          lake: lakeUri,
          table,
          schema,
          steps: [
            { append: cs.map(expectedRow) },
            { delete: `_id == '${doomed.row._id as string}' and __ts == ${doomed.commitTsUs}` },
          ],
        });
      } else {
        await pyTool('scenario', { lake: lakeUri, table, schema, steps: [{ append: cs.map(expectedRow) }] });
      }
    }
    const pushDbs = await createVault(wh, 'pypush');
    const pullDbs = await createVault(wh, 'pypull');
    await runBackfill({ wh, io, dbs: pushDbs, days: [DAY1], format: 'iceberg', mode: 'push', piiSalt: SALT });
    await runBackfill({
      wh,
      io,
      dbs: pullDbs,
      days: [DAY1],
      format: 'iceberg',
      mode: 'pull',
      piiSalt: SALT,
      s3,
    });
    const a = await vaultSnapshot(wh, pushDbs);
    expect(await vaultSnapshot(wh, pullDbs)).toEqual(a);
    const expDbs = await createVault(wh, 'pyexp');
    await loadLikeStream(
      wh,
      expDbs,
      onDay(all, DAY1).filter((c) => c !== doomed),
    );
    expect(a).toEqual(await vaultSnapshot(wh, expDbs));
  });

  it('pull errors never show the salt', async () => {
    const io = await lakeWith('s3', 'parquet');
    const dbs = await createVault(wh, 'redact');
    const err = await runBackfill({
      wh,
      io,
      dbs,
      days: [DAY1],
      format: 'parquet',
      mode: 'pull',
      piiSalt: SALT,
      s3: { endpoint: `${stack.s3Endpoint}/no-such-bucket` },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const shown = JSON.stringify({
      message: (err as Error).message,
      stack: (err as Error).stack,
      details: (err as { details?: unknown }).details,
      json: (err as { toJSON?: () => unknown }).toJSON?.(),
    });
    expect(shown).not.toContain(SALT);
  });

  it('auto picks pull on chDB, honours Iceberg position deletes, keeps streamed rows past the snapshot', async () => {
    const io = openLake(repoTmpDir('bfauto'));
    ios.push(io);
    // The lake holds DAY1 only up to its first 2/3 (the export lags); the stream has all of DAY1.
    const day1 = onDay(all, DAY1).sort((x, y) => x.commitTsUs - y.commitTsUs);
    const cut = day1[Math.floor((day1.length * 2) / 3)]!.commitTsUs;
    for (const t of SOURCE_TABLES) {
      const lakePart = changes[t].filter((c) => c.commitTsUs < cut);
      await writeChangelog(io, t, lakePart, { format: 'iceberg' });
    }
    const dbs = await createVault(wh, 'auto');
    await loadLikeStream(wh, dbs, day1);
    const res = await runBackfill({
      wh,
      io,
      dbs,
      days: [DAY1],
      format: 'auto',
      mode: 'auto',
      piiSalt: SALT,
      cwd: process.cwd(),
    });
    expect(res.days[0]!.mode).toBe('pull');
    const expDbs = await createVault(wh, 'exp');
    await loadLikeStream(wh, expDbs, day1);
    expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, expDbs));
    const removed = Object.values(res.days[0]!.corrections).reduce((s, c) => s + c.removed, 0);
    expect(removed).toBe(0);

    // A position delete in the lake removes that change from the rebuilt day (push and pull alike).
    const ratings = await writeChangelog(
      io,
      'ratings',
      changes.ratings.filter((c) => c.commitTsUs >= cut && onDay([c], DAY2).length > 0),
      { format: 'iceberg' },
    );
    void ratings;
    const file = (await import('../../../src/lib/lake/index.js')).planTableDays;
    const plan = await file(io, 'products', { format: 'iceberg', from: DAY1, to: DAY1 });
    const f = plan!.format === 'iceberg' ? plan!.dataFiles[0]! : undefined;
    await icebergDeletePositions(io, lakeTableUri(io, 'iceberg', 'products'), LAKE_SCHEMAS.products, [
      { dataFile: f!.uri, day: DAY1, positions: [0] },
    ]);
    const p1 = await createVault(wh, 'pd1');
    const p2 = await createVault(wh, 'pd2');
    await runBackfill({ wh, io, dbs: p1, days: [DAY1], format: 'iceberg', mode: 'push', piiSalt: SALT });
    await runBackfill({ wh, io, dbs: p2, days: [DAY1], format: 'iceberg', mode: 'pull', piiSalt: SALT });
    const v1 = await vaultSnapshot(wh, p1);
    expect(await vaultSnapshot(wh, p2)).toEqual(v1);
    const lakeProducts = onDay(changes.products, DAY1).filter((c) => c.commitTsUs < cut);
    expect(v1.sat_product).toHaveLength(lakeProducts.length - 1);
  });
});

void ({} as VaultDatabases);
