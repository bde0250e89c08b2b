import { trimAscii } from '../vault/hashing.js';
import { META, type VaultTable } from '../vault/tables.js';
import { ZERO, dayFilter, tableName } from './sql.js';
import type { CheckContext, CheckDefinition, ProfileCount } from './types.js';

/**
 * One scan per vault table for the questions several checks ask of it: how many rows break a
 * check's rule (a `countIf` per rule) and, per record source, the rows in the check window and
 * the latest load. A clean vault — the usual case — then passes those checks without scanning
 * again; a check that finds offenders runs its own query for their count and sample. Only the
 * rules of the selected checks are counted.
 */

export interface TableProfile {
  /** Offending rows per rule key (`ProfileCount.key`). */
  counts: Record<string, number>;
  /** Per record source: rows with a non-zero key in the check window, and their latest load. */
  sources: { recordSource: string; rowsInWindow: number; liveRows: number; lastLoadSec: number }[];
  /** The server's clock (unix s). */
  nowSec: number;
}

const PLAN = 'profile-plan';

/** Collects the rules of the selected checks per table (the runner calls it once per run). */
export function planProfiles(ctx: CheckContext, selected: readonly CheckDefinition[]): void {
  const plan = new Map<string, ProfileCount[]>();
  for (const def of selected) {
    for (const c of def.profile?.(ctx) ?? []) {
      let list = plan.get(c.table);
      if (!list) plan.set(c.table, (list = []));
      list.push(c);
    }
  }
  ctx.cache.set(PLAN, Promise.resolve(plan));
}

/** Record-source figures are asked for by checks that need them; this marks them as wanted. */
export const SOURCES_KEY = 'record-sources';

/** The profile of a table, scanned once per run; undefined when no selected check planned one. */
export async function tableProfile(ctx: CheckContext, t: VaultTable): Promise<TableProfile | undefined> {
  const plan = (await ctx.cache.get(PLAN)) as Map<string, ProfileCount[]> | undefined;
  const rules = plan?.get(t.name);
  if (!rules || rules.length === 0) return undefined;
  const key = `profile:${t.name}`;
  let p = ctx.cache.get(key) as Promise<TableProfile> | undefined;
  if (!p) {
    p = scan(ctx, t, rules);
    ctx.cache.set(key, p);
  }
  return p;
}

/** Offending rows of one rule, or undefined when the rule was not planned (the check queries itself). */
export async function profiledCount(
  ctx: CheckContext,
  t: VaultTable,
  key: string,
): Promise<number | undefined> {
  const profile = await tableProfile(ctx, t);
  return profile?.counts[key];
}

/** Rows (non-zero key, in the window) whose record source is blank after trimming. */
export function blankSourceRows(profile: TableProfile): number {
  return profile.sources
    .filter((s) => trimAscii(s.recordSource) === '')
    .reduce((n, s) => n + s.rowsInWindow, 0);
}

async function scan(ctx: CheckContext, t: VaultTable, rules: readonly ProfileCount[]): Promise<TableProfile> {
  const counted = rules.filter((r) => r.key !== SOURCES_KEY);
  const live = `${t.hashKey} != ${ZERO}`;
  const rows = await ctx.wh.query<Record<string, string | number>>(
    `SELECT ${META.recordSource} AS rs, countIf(${live} AND ${dayFilter(t, ctx.window)}) AS in_window,
            countIf(${live}) AS live, toUnixTimestamp(maxIf(${META.loadTs}, ${live})) AS last,
            toUnixTimestamp(now()) AS now${counted.map((r, i) => `,\n            countIf(${r.cond}) AS c${i}`).join('')}
     FROM ${tableName(ctx, t)}
     GROUP BY ${META.recordSource}`,
  );
  const counts: Record<string, number> = {};
  counted.forEach((r, i) => {
    counts[r.key] = rows.reduce((n, row) => n + Number(row[`c${i}`] ?? 0), 0);
  });
  let nowSec = 0;
  const sources: TableProfile['sources'] = [];
  for (const row of rows) {
    nowSec = Math.max(nowSec, Number(row.now));
    sources.push({
      recordSource: String(row.rs),
      rowsInWindow: Number(row.in_window),
      liveRows: Number(row.live),
      lastLoadSec: Number(row.last),
    });
  }
  return { counts, sources, nowSec };
}
