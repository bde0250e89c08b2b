import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateShop, type GeneratedShop, type ShopOptions } from '../../../src/lib/shop/generator.js';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { insertRowSet } from '../../../src/lib/vault/writer.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { openLake, writeChangelog, type LakeIO } from '../../../src/lib/lake/index.js';
import { SOURCE_TABLES, type SourceChange, type SourceTable } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { runChecks, type CheckReport, type RunChecksOptions } from '../../../src/lib/check/index.js';

export const SALT = '23c172283dda94b0473ae0651cc1ed36dc7587ee623fb055947fb6e4e99887f6';
/** A small shop: a few hundred changes, three days in the past. */
export const SHOP: ShopOptions = {
  seed: 7,
  days: 3,
  start: '2026-11-10',
  sellers: 4,
  users: 25,
  products: 20,
  eventsPerDay: 60,
};

export interface TestShop {
  shop: GeneratedShop;
  /** The shop's changes plus seller 2 renamed and renamed back (A→B→A, same updated_at). */
  changes: SourceChange[];
  /** The change that returns seller 2 to its earlier state. */
  returnChange: SourceChange;
  /** A commit time after every change of the shop. */
  afterUs: number;
}

let memo: TestShop | undefined;

export function testShop(): TestShop {
  if (memo) return memo;
  const shop = generateShop(SHOP);
  const last = shop.changes[shop.changes.length - 1]!.commitTsUs;
  const seller = shop.simulator.sellers.get(2)!;
  const t1 = last + 3_600_000_000;
  const renamed: SourceChange = {
    table: 'sellers',
    op: 'u',
    row: { ...seller, name: `${seller.name} (renamed)` },
    commitTsUs: t1,
  };
  const back: SourceChange = {
    table: 'sellers',
    op: 'u',
    row: { ...seller },
    commitTsUs: t1 + 3_600_000_000,
  };
  memo = { shop, changes: [...shop.changes, renamed, back], returnChange: back, afterUs: t1 + 7_200_000_000 };
  return memo;
}

/** Migrates `dbs` and loads `changes` through the one mapping and the vault writer. */
export async function loadVault(
  wh: Warehouse,
  dbs: VaultDatabases,
  changes: readonly SourceChange[],
  opts: { loadTsFor?: (table: SourceTable) => Date } = {},
): Promise<void> {
  await migrate(wh, { dbs });
  const byLoad = new Map<number, SourceChange[]>();
  for (const c of changes) {
    const t = (opts.loadTsFor?.(c.table) ?? new Date()).getTime();
    let l = byLoad.get(t);
    if (!l) byLoad.set(t, (l = []));
    l.push(c);
  }
  for (const [t, list] of byLoad)
    await insertRowSet(wh, mapChanges(list, { piiSalt: SALT, loadTs: new Date(t) }), dbs);
}

/** A local Parquet lake holding `changes` (one temp dir per call). */
export async function writeLake(changes: readonly SourceChange[]): Promise<{ io: LakeIO; uri: string }> {
  const uri = mkdtempSync(join(tmpdir(), 'shopdata-check-lake-'));
  const io = openLake(uri);
  for (const table of SOURCE_TABLES) {
    const list = changes.filter((c) => c.table === table);
    if (list.length > 0) await writeChangelog(io, table, list, { format: 'parquet' });
  }
  return { io, uri };
}

export async function check(
  opts: Omit<RunChecksOptions, 'piiSalt'> & { piiSalt?: string },
): Promise<CheckReport> {
  const { report } = await runChecks({ piiSalt: SALT, ...opts });
  return report;
}

/** Ids of the checks that did not pass (failed, or could not run), with their status. */
export function notPassing(report: CheckReport): Record<string, string> {
  return Object.fromEntries(
    report.checks
      .filter((c) => c.status === 'fail' || c.status === 'error')
      .map((c) => [c.id, c.status === 'error' ? `error: ${c.message}` : c.status]),
  );
}

export function result(report: CheckReport, id: string) {
  const r = report.checks.find((c) => c.id === id);
  if (!r) throw new Error(`no result for ${id}`);
  return r;
}

export const nowSec = () => Math.floor(Date.now() / 1000);
