import { ZERO, dayFilter, keyText, tableName, wellFormed, isoSql } from '../sql.js';
import { META } from '../../vault/tables.js';
import type { CheckContext, CheckDefinition } from '../types.js';
import type { VaultTable } from '../../vault/tables.js';
import { profiledCount } from '../profile.js';
import { Findings, LINK_TABLES, SAT_TABLES, plural, vaultTableByName } from './common.js';

/** Per hub key of a link: the condition that its hub lacks it. */
function linkMissing(ctx: CheckContext, link: VaultTable): { hub: string; cond: string }[] {
  return link.parents.map((p) => {
    const hub = vaultTableByName(p.table);
    return {
      hub: p.table,
      cond: `(${p.column} != ${ZERO} AND ${wellFormed(p.column)} AND ${p.column} GLOBAL NOT IN (SELECT ${hub.hashKey} FROM ${tableName(ctx, hub)}))`,
    };
  });
}

function orphanLinkRows(ctx: CheckContext, link: VaultTable): string {
  const missing = linkMissing(ctx, link);
  return `${wellFormed(link.hashKey)} AND (${missing.map((m) => m.cond).join(' OR ')}) AND ${dayFilter(link, ctx.window)}`;
}

function orphanSatRows(ctx: CheckContext, sat: VaultTable): string {
  const parent = vaultTableByName(sat.parents[0]!.table);
  const hk = sat.hashKey;
  return `${hk} != ${ZERO} AND ${wellFormed(hk)} AND ${hk} GLOBAL NOT IN (SELECT ${parent.hashKey} FROM ${tableName(ctx, parent)})
           AND ${dayFilter(sat, ctx.window)}`;
}

/**
 * Orphans: references to hash keys that their hub (or link) does not hold. Malformed and ghost
 * (zero) keys are left to null-keys: a reference to the zero key points at the ghost record.
 */
export const orphanLinks: CheckDefinition = {
  id: 'orphan-links',
  group: 'orphans',
  severity: 'error',
  title: 'Link keys without their hubs',
  explanation:
    'Every hub key a link row references must exist in that hub. A missing hub row means the loader wrote the link before (or without) the hub, so joins through the link silently drop rows.',
  profile: (ctx) =>
    LINK_TABLES.map((t) => ({ table: t.name, key: 'orphan-links', cond: orphanLinkRows(ctx, t) })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const link of LINK_TABLES) {
      if ((await profiledCount(ctx, link, 'orphan-links')) === 0) continue;
      const missing = linkMissing(ctx, link);
      const detail = `arrayStringConcat(arrayFilter(x -> x != '', [${missing
        .map(
          (m, i) => `if(${m.cond}, concat('no ${m.hub} row for ', toString(${link.parents[i]!.column})), '')`,
        )
        .join(', ')}]), '; ')`;
      await f.query(
        ctx,
        link.name,
        `SELECT k, any(x) AS x FROM (
           SELECT concat('${link.hashKey}=', ${keyText(link.hashKey)}) AS k, ${detail} AS x
           FROM ${tableName(ctx, link)}
           WHERE ${orphanLinkRows(ctx, link)}
         ) GROUP BY k`,
      );
    }
    return f.outcome(
      (n) => `${plural(n, 'link key')} ${n === 1 ? 'references' : 'reference'} a missing hub key`,
    );
  },
};

export const orphanSatellites: CheckDefinition = {
  id: 'orphan-satellites',
  group: 'orphans',
  severity: 'error',
  title: 'Satellite keys without their hub or link',
  explanation:
    'Every satellite row must describe a key its parent hub or link holds. A satellite key with no parent is history about nothing: the marts cannot reach it and it points to a loader that skipped or lost the parent row.',
  profile: (ctx) =>
    SAT_TABLES.map((t) => ({ table: t.name, key: 'orphan-satellites', cond: orphanSatRows(ctx, t) })),
  async run(ctx) {
    const f = new Findings(ctx.sampleSize);
    for (const sat of SAT_TABLES) {
      if ((await profiledCount(ctx, sat, 'orphan-satellites')) === 0) continue;
      const parent = vaultTableByName(sat.parents[0]!.table);
      const hk = sat.hashKey;
      await f.query(
        ctx,
        sat.name,
        `SELECT concat('${hk}=', toString(${hk})) AS k,
                concat('no ${parent.name} row; ', toString(count()), ' satellite row(s) from ', ${isoSql(`min(${META.effectiveUs})`)}) AS x
         FROM ${tableName(ctx, sat)}
         WHERE ${orphanSatRows(ctx, sat)}
         GROUP BY ${hk}`,
      );
    }
    return f.outcome((n) => `${plural(n, 'satellite key')} without a parent`);
  },
};
