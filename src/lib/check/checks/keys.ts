import { hashKeySql, hashdiffOfSql } from '../../vault/sql.js';
import { META, type VaultColumn, type VaultTable } from '../../vault/tables.js';
import {
  ZERO,
  anyEmptyPartSql,
  columnsOf,
  dayFilter,
  isoSql,
  keyText,
  labelSql,
  labelPairsSql,
  preimageSql,
  tableName,
  wellFormed,
} from '../sql.js';
import type { CheckContext, CheckDefinition } from '../types.js';
import { profiledCount } from '../profile.js';
import { Findings, HUB_TABLES, LINK_TABLES, SAT_TABLES, plural, vaultTableByName } from './common.js';

const parts = (cols: readonly VaultColumn[], alias = '') =>
  cols.map((col) => ({ expr: (alias ? `${alias}.` : '') + col.name, col }));
const typed = (cols: readonly VaultColumn[]) =>
  cols.map((c) => ({ expr: c.name, spec: c.spec ?? { kind: 'string' as const } }));

/** Hub rows a key check looks at: well-formed, not the ghost, with a complete business key. */
function hubKeyed(ctx: CheckContext, hub: VaultTable): string {
  const bk = columnsOf(hub, 'business_key');
  return `${wellFormed(hub.hashKey)} AND ${hub.hashKey} != ${ZERO} AND NOT ${anyEmptyPartSql(parts(bk), ctx.dialect)}`;
}

/** Business keys (normalised as the spec hashes them) that sit under more than one hash key. */
function hubDuplicatePreimages(ctx: CheckContext, hub: VaultTable): string {
  const pre = preimageSql(parts(columnsOf(hub, 'business_key')), ctx.dialect);
  return `SELECT ${pre} FROM ${tableName(ctx, hub)} WHERE ${hubKeyed(ctx, hub)} GROUP BY ${pre} HAVING uniqExact(${hub.hashKey}) > 1`;
}

/** A link's identity besides its hash key: the hub keys it joins plus its child key. */
function linkIdentity(link: VaultTable): string[] {
  return [...link.parents.map((p) => p.column), ...columnsOf(link, 'child_key').map((c) => c.name)];
}

function linkKeyed(link: VaultTable): string {
  return [
    wellFormed(link.hashKey),
    `${link.hashKey} != ${ZERO}`,
    ...link.parents.flatMap((p) => [wellFormed(p.column), `${p.column} != ${ZERO}`]),
  ].join(' AND ');
}

function linkDuplicateIdentities(ctx: CheckContext, link: VaultTable): string {
  const id = linkIdentity(link).join(', ');
  return `SELECT ${id} FROM ${tableName(ctx, link)} WHERE ${linkKeyed(link)} GROUP BY ${id} HAVING uniqExact(${link.hashKey}) > 1`;
}

export const duplicateBusinessKeys: CheckDefinition = {
  id: 'duplicate-business-keys',
  group: 'keys',
  severity: 'error',
  title: 'One business key under two hash keys',
  explanation:
    "A business key (normalised as the hashing spec does: trimmed, upper-cased) must map to exactly one hash key, and a link's hub keys plus child key to one link key. Two hash keys for one key split its history; it happens when two loaders hash differently (e.g. one does not trim or upper-case).",
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const hub of HUB_TABLES) {
      const bk = columnsOf(hub, 'business_key');
      const pre = preimageSql(parts(bk), ctx.dialect);
      const dayCond = ctx.window ? ` AND countIf(${dayFilter(hub, ctx.window)}) > 0` : '';
      // The usual case is none: find that out without building labels for every key.
      const dup = `SELECT ${pre} AS p FROM ${tableName(ctx, hub)} WHERE ${hubKeyed(ctx, hub)} GROUP BY p HAVING uniqExact(${hub.hashKey}) > 1${dayCond}`;
      if (!(await anyRow(ctx, dup))) continue;
      await f.query(
        ctx,
        hub.name,
        `SELECT arrayStringConcat(arraySort(groupUniqArray(${labelSql(bk)})), ' / ') AS k,
                concat(toString(uniqExact(${hub.hashKey})), ' hash keys: ', arrayStringConcat(arraySort(groupUniqArray(toString(${hub.hashKey}))), ', '),
                       '; the spec gives ', any(${hashKeySql(typed(bk), ctx.dialect)})) AS x
         FROM ${tableName(ctx, hub)}
         WHERE ${hubKeyed(ctx, hub)}
         GROUP BY ${pre}
         HAVING uniqExact(${hub.hashKey}) > 1${dayCond}`,
      );
    }
    for (const link of LINK_TABLES) {
      const id = linkIdentity(link);
      const dayCond = ctx.window ? ` AND countIf(${dayFilter(link, ctx.window)}) > 0` : '';
      const dup = `SELECT ${id.join(', ')} FROM ${tableName(ctx, link)} WHERE ${linkKeyed(link)} GROUP BY ${id.join(', ')} HAVING uniqExact(${link.hashKey}) > 1${dayCond}`;
      if (!(await anyRow(ctx, dup))) continue;
      await f.query(
        ctx,
        link.name,
        `SELECT concat(${id.map((c, i) => `'${i > 0 ? ', ' : ''}${c}=', toString(${c})`).join(', ')}) AS k,
                concat(toString(uniqExact(${link.hashKey})), ' link keys: ', arrayStringConcat(arraySort(groupUniqArray(toString(${link.hashKey}))), ', ')) AS x
         FROM ${tableName(ctx, link)}
         WHERE ${linkKeyed(link)}
         GROUP BY ${id.join(', ')}
         HAVING uniqExact(${link.hashKey}) > 1${dayCond}`,
      );
    }
    return f.outcome((n) => `${plural(n, 'business key')} under more than one hash key`);
  },
};

export const hashKeyMismatch: CheckDefinition = {
  id: 'hash-key-mismatch',
  group: 'keys',
  severity: 'error',
  title: 'Stored hash keys that differ from the hashing spec',
  explanation:
    "Each hub key is recomputed in SQL from its business key, and each link key from its hubs' business keys and child key, with the SQL generated from the shared hashing spec (src/lib/vault/sql.ts). A difference means a loader hashed with another spec (delimiter, null token, case) or wrote a key to the wrong row. Keys that are duplicates of a business key are reported by duplicate-business-keys instead.",
  profile: (ctx) =>
    HUB_TABLES.map((t) => ({
      table: t.name,
      key: 'hash-key-mismatch',
      cond: `${hubMismatchScope(ctx, t)} AND toString(${t.hashKey}) != ${hashKeySql(typed(columnsOf(t, 'business_key')), ctx.dialect)}`,
    })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const hub of HUB_TABLES) {
      const bk = columnsOf(hub, 'business_key');
      const pre = preimageSql(parts(bk), ctx.dialect);
      const e = hashKeySql(typed(bk), ctx.dialect);
      // The usual case is no mismatch at all: find that out without building the duplicates set.
      const counted = await profiledCount(ctx, hub, 'hash-key-mismatch');
      if (counted === 0) continue;
      if (
        counted === undefined &&
        !(await anyRow(
          ctx,
          `SELECT ${hub.hashKey} FROM ${tableName(ctx, hub)} WHERE ${hubMismatchScope(ctx, hub)} AND toString(${hub.hashKey}) != ${e}`,
        ))
      )
        continue;
      const candidates = `SELECT DISTINCT ${labelSql(bk)} AS k, toString(${hub.hashKey}) AS stored, ${e} AS e, ${pre} AS p
           FROM ${tableName(ctx, hub)}
           WHERE ${hubMismatchScope(ctx, hub)}`;
      await f.query(
        ctx,
        hub.name,
        `SELECT k, concat('stored ', stored, ', the spec gives ', e) AS x FROM (${candidates}) AS h
         WHERE stored != e AND p GLOBAL NOT IN (${hubDuplicatePreimages(ctx, hub)})`,
      );
    }
    for (const link of LINK_TABLES) {
      const { candidates, offenders } = linkMismatchSql(ctx, link);
      if (await anyRow(ctx, candidates)) await f.query(ctx, link.name, offenders);
    }
    return f.outcome((n) => `${plural(n, 'hash key')} ${n === 1 ? 'differs' : 'differ'} from the spec`);
  },
};

/** Hub rows whose key hash-key-mismatch recomputes: well-formed, complete business key, in the window. */
function hubMismatchScope(ctx: CheckContext, hub: VaultTable): string {
  const bk = columnsOf(hub, 'business_key');
  return `${wellFormed(hub.hashKey)} AND NOT ${anyEmptyPartSql(parts(bk), ctx.dialect)} AND ${dayFilter(hub, ctx.window)}`;
}

/** Link keys recomputed from the hubs' business keys: one JOIN per SELECT (18.16), hub by hub. */
function linkMismatchSql(ctx: CheckContext, link: VaultTable): { candidates: string; offenders: string } {
  const child = columnsOf(link, 'child_key');
  const own = [link.hashKey, ...link.parents.map((p) => p.column), ...child.map((c) => c.name)];
  const hubs = link.parents.map((p) => vaultTableByName(p.table));
  if (new Set(link.parents.map((p) => p.column)).size !== link.parents.length) {
    throw new Error(`${link.name} references one hub twice; the check needs distinct hub key columns`);
  }
  let from = `(SELECT DISTINCT ${own.join(', ')} FROM ${tableName(ctx, link)} WHERE ${linkKeyed(link)} AND ${dayFilter(link, ctx.window)}) AS l`;
  const carried = [...own];
  const keyParts: { expr: string; spec: Pick<NonNullable<VaultColumn['spec']>, 'kind' | 'scale'> }[] = [];
  hubs.forEach((hub, i) => {
    const bk = columnsOf(hub, 'business_key');
    const names = bk.map((_, j) => `b${i}_${j}`);
    const p = link.parents[i]!.column;
    from = `(SELECT ${[...carried, ...names].join(', ')} FROM ${from}
      ALL INNER JOIN (SELECT ${hub.hashKey} AS ${p}, ${bk.map((c, j) => `any(${c.name}) AS ${names[j]}`).join(', ')} FROM ${tableName(ctx, hub)} GROUP BY ${hub.hashKey}) AS h${i} USING (${p})) AS j${i}`;
    carried.push(...names);
    bk.forEach((c, j) => keyParts.push({ expr: names[j]!, spec: c.spec ?? { kind: 'string' } }));
  });
  for (const c of child) keyParts.push({ expr: c.name, spec: c.spec ?? { kind: 'string' } });
  const id = linkIdentity(link);
  const recomputed = `SELECT ${carried.join(', ')}, ${hashKeySql(keyParts, ctx.dialect)} AS e FROM ${from}`;
  const candidates = `SELECT ${link.hashKey} FROM (${recomputed}) AS r WHERE toString(${link.hashKey}) != e`;
  const offenders = `SELECT concat('${link.hashKey}=', toString(${link.hashKey})) AS k,
                 concat('stored ', toString(${link.hashKey}), ', the spec gives ', e, ' from ', ${labelPairsSql(
                   [
                     ...hubs.flatMap((h, i) =>
                       columnsOf(h, 'business_key').map((c, j) => ({ label: c.name, expr: `b${i}_${j}` })),
                     ),
                     ...child.map((c) => ({ label: c.name, expr: c.name })),
                   ],
                 )}) AS x
          FROM (${recomputed}) AS r
          WHERE toString(${link.hashKey}) != e AND (${id.join(', ')}) GLOBAL NOT IN (${linkDuplicateIdentities(ctx, link)})`;
  return { candidates, offenders };
}

async function anyRow(ctx: CheckContext, sql: string): Promise<boolean> {
  return (await ctx.wh.query(`SELECT 1 AS one FROM (${sql}) AS q LIMIT 1`)).length > 0;
}

function hashdiffOffends(ctx: CheckContext, sat: VaultTable): string {
  const attrs = columnsOf(sat, 'attribute');
  return `${sat.hashKey} != ${ZERO} AND ${dayFilter(sat, ctx.window)} AND toString(${META.hashdiff}) != ${hashdiffOfSql(typed(attrs), ctx.dialect)}`;
}

export const hashdiffMismatch: CheckDefinition = {
  id: 'hashdiff-mismatch',
  group: 'keys',
  severity: 'error',
  title: 'Stored hashdiffs that differ from the hashing spec',
  explanation:
    "Each satellite row's hashdiff is recomputed in SQL from its attribute columns with the shared spec. A stored hashdiff that differs makes change detection wrong: real changes look like repeats (and are dropped) or repeats look like changes.",
  profile: (ctx) =>
    SAT_TABLES.map((t) => ({ table: t.name, key: 'hashdiff-mismatch', cond: hashdiffOffends(ctx, t) })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const sat of SAT_TABLES) {
      const child = columnsOf(sat, 'child_key');
      const attrs = columnsOf(sat, 'attribute');
      const hk = sat.hashKey;
      // The usual case is none, found without a DISTINCT over every row.
      const counted = await profiledCount(ctx, sat, 'hashdiff-mismatch');
      if (counted === 0) continue;
      if (
        counted === undefined &&
        !(await anyRow(ctx, `SELECT ${hk} FROM ${tableName(ctx, sat)} WHERE ${hashdiffOffends(ctx, sat)}`))
      )
        continue;
      await f.query(
        ctx,
        sat.name,
        `SELECT concat('${hk}=', toString(${hk}), ${child.length ? `', ', ${labelSql(child)}, ` : ''}' @', ${isoSql(META.effectiveUs)}) AS k,
                concat('stored ', stored, ', the spec gives ', e) AS x
         FROM (
           SELECT DISTINCT ${[hk, ...child.map((c) => c.name), META.effectiveUs].join(', ')}, toString(${META.hashdiff}) AS stored,
                  ${hashdiffOfSql(typed(attrs), ctx.dialect)} AS e
           FROM ${tableName(ctx, sat)}
           WHERE ${hk} != ${ZERO} AND ${dayFilter(sat, ctx.window)}
         ) AS s
         WHERE stored != e`,
      );
    }
    return f.outcome((n) => `${plural(n, 'satellite row')} with a hashdiff that differs from the spec`);
  },
};

/** [condition, why] pairs of a malformed or empty key in a table's row. */
function nullKeyReasons(ctx: CheckContext, t: VaultTable): Array<[string, string]> {
  const reasons: Array<[string, string]> = [[`NOT ${wellFormed(t.hashKey)}`, `malformed ${t.hashKey}`]];
  const keyCols = t.kind === 'hub' ? columnsOf(t, 'business_key') : columnsOf(t, 'child_key');
  if (t.kind === 'link')
    for (const p of t.parents) reasons.push([`NOT ${wellFormed(p.column)}`, `malformed ${p.column}`]);
  if (keyCols.length > 0) {
    reasons.push([
      `${t.hashKey} != ${ZERO} AND ${anyEmptyPartSql(parts(keyCols), ctx.dialect)}`,
      `empty ${t.kind === 'hub' ? 'business' : 'child'} key outside the ghost record`,
    ]);
  }
  return reasons;
}

export const nullKeys: CheckDefinition = {
  id: 'null-keys',
  group: 'keys',
  severity: 'error',
  title: 'Null, empty or malformed keys outside ghost records',
  explanation:
    "Hash keys must be 32 upper-case hex digits; only ghost records (the zero key) may have an empty business key, and child keys must not be empty. An empty key (zero bytes, '') is what a loader writes when it lost the key of a change; such rows join to nothing or to the wrong thing.",
  profile: (ctx) =>
    [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES].map((t) => ({
      table: t.name,
      key: 'null-keys',
      cond: `(${nullKeyReasons(ctx, t)
        .map(([c]) => `(${c})`)
        .join(' OR ')}) AND ${dayFilter(t, ctx.window)}`,
    })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const t of [...HUB_TABLES, ...LINK_TABLES, ...SAT_TABLES]) {
      if ((await profiledCount(ctx, t, 'null-keys')) === 0) continue;
      const reasons = nullKeyReasons(ctx, t);
      const keyCols = t.kind === 'hub' ? columnsOf(t, 'business_key') : columnsOf(t, 'child_key');
      const cond = reasons.map(([c]) => `(${c})`).join(' OR ');
      const detail = `multiIf(${reasons.map(([c, why]) => `${c}, '${why}'`).join(', ')}, '')`;
      const label = keyCols.length > 0 ? `, ' (', ${labelSql(keyCols)}, ')'` : '';
      const at = t.kind === 'satellite' ? `, ' @', ${isoSql(META.effectiveUs)}` : '';
      await f.query(
        ctx,
        t.name,
        `SELECT DISTINCT concat('${t.hashKey}=', ${keyText(t.hashKey)}${label}${at}) AS k, ${detail} AS x
         FROM ${tableName(ctx, t)}
         WHERE (${cond}) AND ${dayFilter(t, ctx.window)}`,
      );
    }
    return f.outcome((n) => `${plural(n, 'row')} with a null, empty or malformed key`);
  },
};
