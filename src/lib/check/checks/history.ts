import { trimSql } from '../../vault/sql.js';
import { META, type VaultTable } from '../../vault/tables.js';
import { ZERO, childKeySql, columnsOf, dayFilter, isoSql, labelSql, rowLabelSql, tableName } from '../sql.js';
import type { CheckContext, CheckDefinition } from '../types.js';
import { SOURCES_KEY, blankSourceRows, profiledCount, tableProfile } from '../profile.js';
import { Findings, HUB_TABLES, LINK_TABLES, SAT_TABLES, plural } from './common.js';

/** Seconds a load or commit time may lie ahead of the server clock (clock skew between hosts). */
export const FUTURE_SKEW_SECONDS = 300;

export const duplicateSatelliteRows: CheckDefinition = {
  id: 'duplicate-satellite-rows',
  group: 'history',
  severity: 'error',
  title: 'Consecutive duplicate satellite rows',
  explanation:
    'A satellite row must differ from the row before it for the same key (by hashdiff or by being a delete). Back-to-back rows with the same hashdiff are what a loader leaves when it inserts without comparing against the latest state (re-snapshots, replays with new commit times); they inflate history and break "number of changes" counts. Unmerged copies of one row (same key and commit time) are not counted.',
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const sat of SAT_TABLES) {
      await f.query(
        ctx,
        sat.name,
        ctx.checkDialect.windowFunctions ? duplicatesByWindow(ctx, sat) : duplicatesByArrays(ctx, sat),
      );
    }
    return f.outcome(
      (n) => `${plural(n, 'satellite row')} ${n === 1 ? 'repeats' : 'repeat'} the previous row of its key`,
    );
  },
};

/** Rows in scope: with --date, the keys that changed that day, and their history up to its end. */
function historyScope(ctx: CheckContext, sat: VaultTable): string {
  const w = ctx.window;
  const base = `${sat.hashKey} != ${ZERO}`;
  if (!w) return base;
  const key = `(${sat.hashKey}, ${childKeySql(sat)})`;
  return `${base} AND ${META.effectiveTs} < toDateTime(${w.endSec}, 'UTC')
    AND ${key} GLOBAL IN (SELECT ${sat.hashKey}, ${childKeySql(sat)} FROM ${tableName(ctx, sat)} WHERE ${dayFilter(sat, w)})`;
}

function keyLabel(sat: VaultTable): string {
  const child = columnsOf(sat, 'child_key');
  return `concat('${sat.hashKey}=', toString(${sat.hashKey})${child.length ? `, ', ', ${labelSql(child)}` : ''})`;
}

/** ClickHouse ≥ 21.9: a lag over (key, commit time), streamed in the table's sort order. */
function duplicatesByWindow(ctx: CheckContext, sat: VaultTable): string {
  const child = columnsOf(sat, 'child_key').map((c) => c.name);
  const partition = [sat.hashKey, ...child].join(', ');
  const since = ctx.window ? ` AND e >= ${ctx.window.startUs}` : '';
  return `SELECT concat(${keyLabel(sat)}, ' @', ${isoSql('e')}) AS k,
                 concat('same hashdiff ', hd, if(del = 1, ' (delete)', ''), ' as the row @', ${isoSql('pe')}) AS x
          FROM (
            SELECT ${partition}, e, hd, del,
                   lagInFrame(e, 1, toUInt64(0)) OVER w AS pe,
                   lagInFrame(hd, 1, '') OVER w AS ph,
                   lagInFrame(del, 1, toUInt8(2)) OVER w AS pd
            FROM (
              SELECT ${partition}, ${META.effectiveUs} AS e, toString(${META.hashdiff}) AS hd, ${META.isDeleted} AS del
              FROM ${tableName(ctx, sat)}
              WHERE ${historyScope(ctx, sat)}
            ) AS r
            WINDOW w AS (PARTITION BY ${partition} ORDER BY e ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
          ) AS l
          WHERE hd = ph AND del = pd AND e != pe${since}`;
}

/** ClickHouse 18.16 (no window functions): each key's history as a sorted array. */
function duplicatesByArrays(ctx: CheckContext, sat: VaultTable): string {
  const child = columnsOf(sat, 'child_key').map((c) => c.name);
  const group = [sat.hashKey, ...child].join(', ');
  const since = ctx.window ? ` AND e >= ${ctx.window.startUs}` : '';
  return `SELECT concat(${keyLabel(sat)}, ' @', ${isoSql('es[i]')}) AS k,
                 concat('same hashdiff ', hs[i], if(ds[i] = 1, ' (delete)', ''), ' as the row @', ${isoSql('pes[i]')}) AS x
          FROM (
            SELECT ${group},
                   arraySort(t -> t.1, groupArray((${META.effectiveUs}, toString(${META.hashdiff}), ${META.isDeleted}))) AS h,
                   arrayMap(t -> t.1, h) AS es, arrayMap(t -> t.2, h) AS hs, arrayMap(t -> t.3, h) AS ds,
                   arrayPushFront(arrayPopBack(es), toUInt64(0)) AS pes,
                   arrayPushFront(arrayPopBack(hs), '') AS phs,
                   arrayPushFront(arrayPopBack(ds), toUInt8(2)) AS pds,
                   arrayFilter((j, e, pe, hd, ph, del, pd) -> hd = ph AND del = pd AND e != pe${since}, arrayEnumerate(h), es, pes, hs, phs, ds, pds) AS dup
            FROM ${tableName(ctx, sat)}
            WHERE ${historyScope(ctx, sat)}
            GROUP BY ${group}
            HAVING length(dup) > 0
          ) AS g
          ARRAY JOIN dup AS i`;
}

const FUTURE_LIMIT_SEC = `(toUnixTimestamp(now()) + ${FUTURE_SKEW_SECONDS})`;

function futureRows(ctx: CheckContext, t: VaultTable): string {
  const source = t.kind === 'satellite' ? META.effectiveUs : META.firstSeenUs;
  const loadFuture = `toUnixTimestamp(${META.loadTs}) > ${FUTURE_LIMIT_SEC}`;
  const sourceFuture = `${source} > ${FUTURE_LIMIT_SEC} * 1000000`;
  return `(${loadFuture} OR ${sourceFuture}) AND ${t.hashKey} != ${ZERO} AND ${dayFilter(t, ctx.window)}`;
}

export const futureLoadTimes: CheckDefinition = {
  id: 'future-load-times',
  group: 'history',
  severity: 'error',
  title: 'Load or commit times in the future',
  explanation: `No row can have been loaded (load_ts) or committed at the source (effective or first-seen time) after now (server clock, ${FUTURE_SKEW_SECONDS} s of skew allowed). Future times come from a wrong clock or a unit bug (ms read as s, µs as ms) and make "latest state" queries pick the wrong row.`,
  profile: (ctx) =>
    [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES].map((t) => ({
      table: t.name,
      key: 'future-load-times',
      cond: futureRows(ctx, t),
    })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const t of [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES]) {
      if ((await profiledCount(ctx, t, 'future-load-times')) === 0) continue;
      const source = t.kind === 'satellite' ? META.effectiveUs : META.firstSeenUs;
      const loadFuture = `toUnixTimestamp(${META.loadTs}) > ${FUTURE_LIMIT_SEC}`;
      await f.query(
        ctx,
        t.name,
        `SELECT DISTINCT ${rowLabelSql(t)} AS k,
                if(${loadFuture}, concat('load_ts ', toString(${META.loadTs}), ' is after now (', toString(now()), ')'),
                   concat('${source} ', ${isoSql(source)}, ' is after now (', toString(now()), ')')) AS x
         FROM ${tableName(ctx, t)}
         WHERE ${futureRows(ctx, t)}`,
      );
    }
    return f.outcome((n) => `${plural(n, 'row')} with a load or commit time in the future`);
  },
};

export const missingRecordSource: CheckDefinition = {
  id: 'missing-record-source',
  group: 'history',
  severity: 'error',
  title: 'Rows without a record source',
  explanation:
    'Every hub, link and satellite row must say which source it came from (record_source). Without it lineage is lost and per-source reconciliation and freshness cannot attribute the row.',
  // Blank sources are found among the few distinct sources of the shared scan, not row by row.
  profile: () =>
    [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES].map((t) => ({
      table: t.name,
      key: SOURCES_KEY,
      cond: '1',
    })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const t of [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES]) {
      const profile = await tableProfile(ctx, t);
      if (profile && blankSourceRows(profile) === 0) continue;
      await f.query(
        ctx,
        t.name,
        `SELECT DISTINCT ${rowLabelSql(t)} AS k, 'empty record_source' AS x
         FROM ${tableName(ctx, t)}
         WHERE ${trimSql(META.recordSource)} = '' AND ${t.hashKey} != ${ZERO} AND ${dayFilter(t, ctx.window)}`,
      );
    }
    return f.outcome((n) => `${plural(n, 'row')} without a record source`);
  },
};
