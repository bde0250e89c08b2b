import { describe, it, expect, afterAll } from 'vitest';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT } from '../../helpers/stack.js';
import { generateShop, computeMarts } from '../../../src/lib/shop/index.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { readMarts, compareMarts } from '../../../src/lib/demo/marts.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { loadTableMetadata } from '../../../src/lib/lake/iceberg/metadata.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { ArchiveResult } from '../../../src/lib/archive/index.js';
import { repoTmpDir, removeTmpDirs } from '../lake/helpers.js';
import { PASSWORD_HASH, eventStream, replayLine, writeReplay } from './helpers.js';

// The held-out check of issue 14: a Debezium replay through `archive --from-file --until-idle` into
// <lake>/iceberg/<table> gives exact row counts per table as ClickHouse's own Iceberg reader
// (chDB icebergLocal) counts them, no password hash, nothing added by a second run of the same
// file (or a copy of it), and exact marts after `backfill --format iceberg`.
const START = '2026-11-10';
const DAYS = 3;
const SALT = '513d634fc153bf2989e86408cd81d5c86ce642950ad5ac0830c8e2a7128415e3';
let wh: Warehouse | undefined;
afterAll(async () => {
  await wh?.close();
  removeTmpDirs();
});

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('archive --from-file --until-idle (held-out replay)', () => {
  it('exact counts in ClickHouse, no password hash, idempotent re-runs, exact marts after backfill', async () => {
    const changes = generateShop({ seed: 11, days: DAYS, start: START }).changes;
    const { lines, expected } = eventStream(changes);
    const text = lines.map(replayLine);
    // Poison: a line that is not JSON, and a purchases event whose user_id is an object.
    const purchase = lines.find((l) => l.topic.endsWith('purchases'))!;
    const bad = JSON.parse(purchase.value!) as { payload: { after: string } };
    const after = JSON.parse(bad.payload.after) as Record<string, unknown>;
    after.user_id = { nested: true };
    bad.payload.after = JSON.stringify(after);
    const lastPurchaseOffset = Math.max(
      ...lines.filter((l) => l.topic === purchase.topic).map((l) => l.offset),
    );
    text.splice(40, 0, '{"topic": "shop.public.users", "partition": 0, "offset": 99999, "key": tru');
    text.push(
      JSON.stringify({
        topic: purchase.topic,
        partition: 0,
        offset: lastPurchaseOffset + 1,
        key: purchase.key,
        value: JSON.stringify(bad),
      }),
    );
    const dir = repoTmpDir('archive-replay');
    const lake = join(dir, 'lake');
    const replay = join(dir, 'events.jsonl');
    writeReplay(replay, text, false);
    const env = {
      SHOPDATA_LAKE: lake,
      SHOPDATA_ICEBERG_CATALOG_URI: undefined,
      SHOPDATA_CLICKHOUSE_URL: `chdb:${join(dir, 'wh')}`,
      SHOPDATA_PII_SALT: SALT,
    };

    // --dry-run first: the same counts, and nothing is written (not even the lake folder).
    const dry = await runCli(['archive', '--from-file', replay, '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr.slice(-2000)).toBe(0);
    const d = JSON.parse(dry.stdout) as ArchiveResult;
    expect(d.dryRun).toBe(true);
    for (const t of SOURCE_TABLES) expect(d.tables[t]?.rows ?? 0, t).toBe(expected[t] ?? 0);
    expect(d.dlq.count).toBe(2);
    expect(existsSync(lake)).toBe(false);
    expect(existsSync(`${replay}.archive-rejects.jsonl`)).toBe(false);

    const first = await runCli(['archive', '--from-file', replay, '--until-idle', '--json'], { env });
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const r1 = JSON.parse(first.stdout) as ArchiveResult;
    for (const t of SOURCE_TABLES) expect(r1.tables[t]?.rows ?? 0, t).toBe(expected[t] ?? 0);
    expect(r1.dlq.count).toBe(2);
    const rejects = readFileSync(`${replay}.archive-rejects.jsonl`, 'utf8').trim().split('\n');
    expect(rejects).toHaveLength(2);
    expect(r1.file?.position).toBe(statSync(replay).size);

    // No password hash anywhere in the lake, in no file.
    for (const f of files(lake)) expect(readFileSync(f).includes(PASSWORD_HASH), f).toBe(false);

    // The same file again, then a copy of it elsewhere: nothing new.
    const io = openLake(lake);
    const snapshotsBefore = await Promise.all(
      SOURCE_TABLES.map(
        async (t) => (await loadTableMetadata(io, io.url('iceberg', t)))?.metadata.snapshots?.length,
      ),
    );
    const second = await runCli(['archive', '--from-file', replay, '--until-idle', '--json'], { env });
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    const r2 = JSON.parse(second.stdout) as ArchiveResult;
    expect(r2.tables).toEqual({});
    expect(r2.file?.startedAt).toBe(statSync(replay).size);
    const copy = join(dir, 'copy.jsonl');
    copyFileSync(replay, copy);
    const third = await runCli(['archive', '--from-file', copy, '--until-idle', '--json'], { env });
    expect(third.code, third.stderr.slice(-2000)).toBe(0);
    const r3 = JSON.parse(third.stdout) as ArchiveResult;
    expect(r3.tables).toEqual({});
    const dups = Object.values(r3.topics).reduce((n, c) => n + c.duplicates, 0);
    expect(dups).toBe(lines.length + 1); // every event of the file, the poison purchase included
    const snapshotsAfter = await Promise.all(
      SOURCE_TABLES.map(
        async (t) => (await loadTableMetadata(io, io.url('iceberg', t)))?.metadata.snapshots?.length,
      ),
    );
    expect(snapshotsAfter).toEqual(snapshotsBefore);
    io.close();

    // backfill --format iceberg into embedded ClickHouse: the marts equal the generator's truth.
    const migrate = await runCli(['warehouse', 'migrate'], { env });
    expect(migrate.code, migrate.stderr.slice(-2000)).toBe(0);
    const end = new Date(Date.parse(`${START}T00:00:00Z`) + (DAYS - 1) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    const bf = await runCli(['backfill', '--date', START, '--to', end, '--format', 'iceberg', '--json'], {
      env,
      timeoutMs: 170_000,
    });
    expect(bf.code, bf.stderr.slice(-2000)).toBe(0);

    // ClickHouse's own Iceberg reader counts exactly the archived changes per table.
    wh = await openWarehouse(`chdb:${join(dir, 'wh')}`);
    for (const t of SOURCE_TABLES) {
      const path = relative(process.cwd(), join(lake, 'iceberg', t));
      const [row] = await wh.query<{ n: string }>(`SELECT count() AS n FROM icebergLocal('${path}')`);
      expect(Number(row!.n), t).toBe(expected[t] ?? 0);
      const cols = await wh.query<{ name: string }>(`DESCRIBE icebergLocal('${path}')`);
      expect(cols.map((c) => c.name)).not.toContain('password_hash');
    }
    const marts = await readMarts(wh, 'mart');
    expect(compareMarts(marts, computeMarts(changes))).toEqual([]);
    expect(marts.daily_orders.length).toBe(DAYS);
    expect(process.cwd()).toBe(REPO_ROOT.replace(/\/$/, ''));
  });
});
