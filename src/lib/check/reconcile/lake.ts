import { planTableDays, readPlanChanges } from '../../lake/index.js';
import { mapChanges } from '../../vault/mapping.js';
import { MS_PER_DAY } from '../../values/index.js';
import { SATELLITES } from '../../vault/model.js';
import { META, satelliteParent } from '../../vault/tables.js';
import { SOURCE_TABLES, type SourceChange, type SourceTable } from '../../vault/types.js';
import type { CheckContext, LakeInput } from '../types.js';
import { RECONCILE_SPECS, addCount, dayOfUs, type DayCounts } from './spec.js';

export interface LakeData {
  /** Changes per table, in the lake's order, for the days read. */
  changes: Map<SourceTable, SourceChange[]>;
  /** Tables that exist in the lake (in any format). */
  present: SourceTable[];
  from: string;
  to: string;
}

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The lake's changelogs, read once per run. With --date D: days D-1 … today+1 (a row created on D
 * may be updated or deleted later; events are committed a moment after their `ts` at most);
 * without: everything from 2000-01-01.
 */
export function loadLake(ctx: CheckContext, lake: LakeInput): Promise<LakeData> {
  const key = 'lake';
  let p = ctx.cache.get(key) as Promise<LakeData> | undefined;
  if (!p) {
    p = (async () => {
      const w = ctx.window;
      const from = w ? dayText((w.startSec - 86_400) * 1000) : '2000-01-01';
      const to = dayText(Math.max(Date.now(), w ? w.endSec * 1000 : 0) + 2 * MS_PER_DAY);
      const changes = new Map<SourceTable, SourceChange[]>();
      const present: SourceTable[] = [];
      for (const table of SOURCE_TABLES) {
        const plan = await planTableDays(lake.io, table, { format: 'auto', from, to });
        if (!plan) continue;
        present.push(table);
        const list: SourceChange[] = [];
        for await (const batch of readPlanChanges(lake.io, table, plan))
          for (const c of batch.changes) list.push(c);
        changes.set(table, list);
        ctx.logger?.debug({ table, changes: list.length, format: plan.format }, 'read lake changelog');
      }
      return { changes, present, from, to };
    })();
    ctx.cache.set(key, p);
  }
  return p;
}

function keyOf(row: SourceChange['row'], cols: readonly string[]): string {
  return cols.map((c) => String(row[c] ?? '')).join('\u0000');
}

/** Latest change per key: greatest commit time, a delete winning a tie, then the later one read. */
function latestByKey(changes: readonly SourceChange[], cols: readonly string[]): Map<string, SourceChange> {
  const out = new Map<string, SourceChange>();
  for (const c of changes) {
    const k = keyOf(c.row, cols);
    const prev = out.get(k);
    if (
      !prev ||
      c.commitTsUs > prev.commitTsUs ||
      (c.commitTsUs === prev.commitTsUs && (c.op === 'd' || prev.op !== 'd'))
    )
      out.set(k, c);
  }
  return out;
}

/** Live rows per day in the lake, by the same rules as the sources and the vault (spec.ts). */
export function lakeCounts(data: LakeData, ctx: CheckContext): DayCounts {
  const out: DayCounts = new Map();
  // A user's day from its latest row that carries created_at (a delete may carry only the key).
  const userDay = new Map<string, number>();
  for (const c of data.changes.get('users') ?? []) {
    const v = c.row.created_at;
    if (typeof v === 'number') userDay.set(String(c.row.id), v);
  }
  for (const spec of RECONCILE_SPECS) {
    if (!data.present.includes(spec.table)) continue;
    out.set(spec.table, new Map());
    const latest = latestByKey(data.changes.get(spec.table) ?? [], spec.key);
    for (const c of latest.values()) {
      if (c.op === 'd') continue;
      let us: unknown;
      if ('column' in spec.day) us = c.row[spec.day.column];
      else us = userDay.get(String(c.row[spec.day.viaUsers.userKey]));
      const day = dayOfUs(typeof us === 'number' ? us : null);
      if (ctx.window && day !== ctx.window.day) continue;
      addCount(out, spec.table, day, 1);
    }
  }
  return out;
}

/** One satellite row the lake says the vault must hold. */
export interface ExpectedRow {
  sat: string;
  hk: string;
  child: string;
  eff: number;
  hashdiff: string;
  del: number;
  kind: string;
  label: string;
  origin: string;
}

export const KIND_RETURN = 'return to an earlier state (A→B→A)';
export const KIND_CHANGE = 'change';

/**
 * The satellite rows the lake's changes map to (the one mapping of vault/mapping.ts), one per key
 * and commit time as the table keeps them, each marked when it returns its key to a state it had
 * before (the A→B→A a loader that deduplicates by hashdiff loses).
 */
export function expectedSatelliteRows(data: LakeData, ctx: CheckContext, salt: string): ExpectedRow[] {
  const out: ExpectedRow[] = [];
  const w = ctx.window;
  for (const table of data.present) {
    const changes = (data.changes.get(table) ?? []).filter(
      (c) => !w || (c.commitTsUs >= w.startUs && c.commitTsUs < w.endUs),
    );
    if (changes.length === 0) continue;
    // Map change by change to keep each row's origin and business key for the report.
    const perKey = new Map<string, ExpectedRow>();
    for (const c of changes) {
      const rows = mapChanges([c], { piiSalt: salt, loadTs: new Date(0) });
      for (const [sat, list] of rows) {
        if (!(sat in SATELLITES)) continue;
        const satDef = SATELLITES[sat as keyof typeof SATELLITES];
        const hkCol = satelliteParent(sat as keyof typeof SATELLITES).hk;
        for (const r of list) {
          const child = satDef.childKey.map((k) => String(r[k.name] ?? '')).join('|');
          const row: ExpectedRow = {
            sat,
            hk: String(r[hkCol]),
            child,
            eff: Number(r[META.effectiveUs]),
            hashdiff: String(r[META.hashdiff]),
            del: Number(r[META.isDeleted]),
            kind: KIND_CHANGE,
            label: `${table} ${keyOf(c.row, RECONCILE_SPECS.find((s) => s.table === table)!.key)
              .split('\u0000')
              .join('/')}`,
            origin: c.origin ?? 'lake',
          };
          const k = `${sat}\u0000${row.hk}\u0000${child}\u0000${row.eff}`;
          const prev = perKey.get(k);
          // Two changes of one key at one commit time collapse in the table (a delete wins).
          if (!prev || row.del >= prev.del) perKey.set(k, row);
        }
      }
    }
    const byKey = new Map<string, ExpectedRow[]>();
    for (const r of perKey.values()) {
      const k = `${r.sat}\u0000${r.hk}\u0000${r.child}`;
      let l = byKey.get(k);
      if (!l) byKey.set(k, (l = []));
      l.push(r);
    }
    for (const list of byKey.values()) {
      list.sort((a, b) => a.eff - b.eff);
      const seen = new Set<string>();
      list.forEach((r, i) => {
        const prev = list[i - 1];
        if (seen.has(r.hashdiff) && prev && prev.hashdiff !== r.hashdiff && r.del === 0) r.kind = KIND_RETURN;
        seen.add(r.hashdiff);
        out.push(r);
      });
    }
  }
  return out;
}
