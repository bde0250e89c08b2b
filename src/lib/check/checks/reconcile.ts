import { randomBytes } from 'node:crypto';
import type { SourceTable } from '../../vault/types.js';
import { SOURCE_TABLES } from '../../vault/types.js';
import { childKeySql, isoSql, tableName } from '../sql.js';
import type { CheckContext, CheckDefinition, CheckOutcome, SampleItem } from '../types.js';
import { vaultCounts } from '../reconcile/vault.js';
import { mongoCounts, postgresCounts } from '../reconcile/sources.js';
import { KIND_RETURN, expectedSatelliteRows, lakeCounts, loadLake } from '../reconcile/lake.js';
import type { DayCounts } from '../reconcile/spec.js';
import { Findings, plural, vaultTableByName } from './common.js';

interface Cell {
  table: SourceTable;
  day: string;
  other: number;
  vault: number;
}

/** Cells (table, day) whose counts differ by more than the relative tolerance. */
function compare(
  other: DayCounts,
  vault: DayCounts,
  tables: readonly SourceTable[],
  tolerance: number,
): { cells: Cell[]; bad: Cell[] } {
  const cells: Cell[] = [];
  for (const table of tables) {
    const a = other.get(table) ?? new Map<string, number>();
    const v = vault.get(table) ?? new Map<string, number>();
    const days = [...new Set([...a.keys(), ...v.keys()])].sort();
    for (const day of days) cells.push({ table, day, other: a.get(day) ?? 0, vault: v.get(day) ?? 0 });
  }
  const bad = cells.filter((c) => Math.abs(c.other - c.vault) > tolerance * Math.max(c.other, c.vault));
  return { cells, bad };
}

function outcome(
  ctx: CheckContext,
  side: string,
  cells: Cell[],
  bad: Cell[],
  extra: Record<string, unknown>,
): CheckOutcome {
  const details = {
    tolerance: ctx.tolerance,
    ...extra,
    counts: cells.map((c) => ({ table: c.table, day: c.day, [side]: c.other, vault: c.vault })),
  };
  if (bad.length === 0) {
    const tables = new Set(cells.map((c) => c.table)).size;
    return {
      status: 'pass',
      message: `${plural(cells.length, 'table/day cell')} of ${plural(tables, 'table')} match the ${side}`,
      details,
    };
  }
  const counts: Record<string, number> = {};
  for (const c of bad) counts[c.table] = (counts[c.table] ?? 0) + 1;
  const sample: SampleItem[] = bad.slice(0, ctx.sampleSize).map((c) => ({
    table: c.table,
    key: `day=${c.day}`,
    detail: `${side} ${c.other}, vault ${c.vault} (${c.vault - c.other >= 0 ? '+' : ''}${c.vault - c.other})`,
  }));
  const where = [...new Set(bad.map((c) => `${c.table} ${c.day}`))].slice(0, 5).join(', ');
  return {
    status: 'fail',
    message: `${plural(bad.length, 'table/day cell')} differ between the ${side} and the vault beyond tolerance ${ctx.tolerance}: ${where}${bad.length > 5 ? ', …' : ''}`,
    count: bad.length,
    counts,
    sample,
    details,
  };
}

export const reconcileSources: CheckDefinition = {
  id: 'reconcile-sources',
  group: 'reconciliation',
  severity: 'error',
  title: 'Sources against the vault, per table and day',
  explanation:
    'For each source table and UTC day, the rows that exist now in PostgreSQL (by created_at) and MongoDB (by ts) are counted at the source and compared with the keys whose latest satellite row is not a delete, with the relative tolerance checks.reconciliationTolerance (changes still in flight). A shortfall points to changes the pipeline never loaded; a surplus to deletes it missed.',
  async run(ctx) {
    if (!ctx.postgres && !ctx.mongo) {
      return {
        status: 'skip',
        message: 'no source configured (set SHOPDATA_POSTGRES_URL and/or SHOPDATA_MONGO_URL)',
      };
    }
    const counts: DayCounts = new Map();
    const tables: SourceTable[] = [];
    const sides = [
      ctx.postgres ? await postgresCounts(ctx.postgres, ctx) : undefined,
      ctx.mongo ? await mongoCounts(ctx.mongo, ctx) : undefined,
    ];
    for (const side of sides) {
      for (const [t, m] of side ?? []) {
        counts.set(t, m);
        tables.push(t);
      }
    }
    const vault = await vaultCounts(ctx);
    const { cells, bad } = compare(counts, vault, tables, ctx.tolerance);
    const skipped = SOURCE_TABLES.filter((t) => !tables.includes(t));
    return outcome(ctx, 'source', cells, bad, skipped.length ? { notCompared: skipped } : {});
  },
};

export const reconcileLake: CheckDefinition = {
  id: 'reconcile-lake',
  group: 'reconciliation',
  severity: 'error',
  title: 'Lake against the vault, per table and day',
  explanation:
    "For each source table and UTC day, the rows the lake's changelog leaves alive (latest change per key not a delete, by created_at or ts) are compared with the vault's live keys, with the same tolerance. The lake is what backfill rebuilds from: a difference means the vault and the lake disagree about what exists.",
  async run(ctx) {
    if (!ctx.lake)
      return {
        status: 'skip',
        message: ctx.lakeSkipReason ?? 'no lake configured (set SHOPDATA_LAKE or --lake)',
      };
    const data = await loadLake(ctx, ctx.lake);
    if (data.present.length === 0)
      return { status: 'skip', message: `the lake at ${ctx.lake.uri} holds no changelog tables` };
    const vault = await vaultCounts(ctx);
    const { cells, bad } = compare(lakeCounts(data, ctx), vault, data.present, ctx.tolerance);
    return outcome(ctx, 'lake', cells, bad, { lake: ctx.lake.uri, days: `${data.from}..${data.to}` });
  },
};

export const lostChanges: CheckDefinition = {
  id: 'lost-changes',
  group: 'history',
  severity: 'error',
  title: 'Lake changes missing from the satellites (lost A→B→A)',
  explanation:
    "Every change in the lake's changelog maps (by the one mapping) to a satellite row with its key and commit time; each must be in the vault. A loader that skips an incoming row whose hashdiff it has seen before for that key (instead of comparing with the latest row only) loses the return to an earlier state, A→B→A: the vault then shows B as current. That row, and rows missed in batch loads, are reported; returns to an earlier state are marked. The vault alone cannot show such a loss (nothing is left behind), so this needs the lake.",
  async run(ctx) {
    if (!ctx.lake)
      return {
        status: 'skip',
        message: `${ctx.lakeSkipReason ?? 'no lake configured (set SHOPDATA_LAKE or --lake)'}: lost changes can only be seen against the changelog`,
      };
    const data = await loadLake(ctx, ctx.lake);
    if (data.present.length === 0)
      return { status: 'skip', message: `the lake at ${ctx.lake.uri} holds no changelog tables` };
    const withHashdiff = ctx.piiSalt !== undefined;
    // Without the salt hashdiffs are not compared; any salt of full strength maps the keys.
    const expected = expectedSatelliteRows(data, ctx, ctx.piiSalt ?? randomBytes(32).toString('hex'));
    if (expected.length === 0) return { status: 'pass', message: 'the lake holds no changes in range' };
    const scratch = `${ctx.dbs.ops}.check_lake_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await ctx.wh.exec(
      `CREATE TABLE ${scratch} (sat String, hk String, child String, eff UInt64, hashdiff String, del UInt8, kind String, label String, origin String) ENGINE = Memory`,
    );
    try {
      for (let i = 0; i < expected.length; i += 20_000)
        await ctx.wh.insert(scratch, expected.slice(i, i + 20_000));
      const f = new Findings(ctx.sampleSize);
      let returns = 0;
      for (const satName of [...new Set(expected.map((r) => r.sat))]) {
        const sat = vaultTableByName(satName);
        const hk = `toString(${sat.hashKey})`;
        const child = childKeySql(sat);
        const match = withHashdiff ? 'hk, child, eff, del, hashdiff' : 'hk, child, eff, del';
        const vaultCols = withHashdiff
          ? `${hk}, ${child}, effective_us, is_deleted, toString(hashdiff)`
          : `${hk}, ${child}, effective_us, is_deleted`;
        // GLOBAL IN: on a cluster the vault table is Distributed and the scratch table lives on this server only.
        const missing = `FROM ${scratch} WHERE sat = '${satName}' AND (${match}) NOT IN (
            SELECT ${vaultCols} FROM ${tableName(ctx, sat)}
            WHERE (${hk}, ${child}, effective_us) GLOBAL IN (SELECT hk, child, eff FROM ${scratch} WHERE sat = '${satName}'))`;
        await f.query(
          ctx,
          satName,
          `SELECT concat('${sat.hashKey}=', hk, if(child != '', concat(', ', child), ''), ' @', ${isoSql('eff')}, ' (', label, ')') AS k,
                  concat(kind, if(del = 1, ' (delete)', ''), ' not in the vault; lake ', origin) AS x ${missing}`,
        );
        const r = await ctx.wh.query<{ n: string | number }>(
          `SELECT count() AS n ${missing} AND kind = '${KIND_RETURN}'`,
        );
        returns += Number(r[0]?.n ?? 0);
      }
      const note = withHashdiff ? '' : ' (compared without hashdiffs: no PII salt configured)';
      const out = f.outcome(
        (n) =>
          `${plural(n, 'lake change')} missing from the vault, ${returns} of them ${returns === 1 ? 'a return' : 'returns'} to an earlier state${note}`,
        { expectedRows: expected.length, returnsToEarlierState: returns, comparedHashdiffs: withHashdiff },
      );
      if (out.status === 'pass')
        return {
          status: 'pass',
          message: `${plural(expected.length, 'lake change')} all in the vault${note}`,
          details: out.details ?? {},
        };
      return out;
    } finally {
      await ctx.wh.exec(`DROP TABLE IF EXISTS ${scratch}`).catch(() => undefined);
    }
  },
};
