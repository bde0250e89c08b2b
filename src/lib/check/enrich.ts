import { VAULT_TABLES } from '../vault/tables.js';
import { columnsOf, labelSql } from './sql.js';
import { sqlStringList } from '../warehouse/quote.js';
import type { CheckContext, SampleItem } from './types.js';

const HK_IN_KEY = /^(hk_[a-z_]+)=([0-9A-F]{32})\b/;
const HUB_BY_HK = new Map(VAULT_TABLES.filter((t) => t.kind === 'hub').map((t) => [t.hashKey, t]));
const LINK_BY_HK = new Map(VAULT_TABLES.filter((t) => t.kind === 'link').map((t) => [t.hashKey, t]));

/**
 * Adds the business key behind a sample's hash key ("hk_user=3F… [user_id=17]"), looked up in the
 * hubs for the few sampled keys only. Keys a hub does not hold (orphans) stay as they are.
 */
export async function withBusinessKeys(ctx: CheckContext, sample: SampleItem[]): Promise<SampleItem[]> {
  const wanted = new Map<string, Set<string>>(); // hub hk column → hash keys
  const linkKeys = new Map<string, Set<string>>(); // link hk column → link keys
  for (const s of sample) {
    const m = HK_IN_KEY.exec(s.key);
    if (!m) continue;
    if (HUB_BY_HK.has(m[1]!)) add(wanted, m[1]!, m[2]!);
    else if (LINK_BY_HK.has(m[1]!)) add(linkKeys, m[1]!, m[2]!);
  }
  // Links: their hub keys first, then those hubs' business keys.
  const linkParents = new Map<string, Array<[string, string]>>(); // link key → [hub hk column, hub key]
  for (const [col, keys] of linkKeys) {
    const link = LINK_BY_HK.get(col)!;
    const rows = await ctx.wh.query<Record<string, string>>(
      `SELECT DISTINCT toString(${col}) AS k, ${link.parents.map((p) => `toString(${p.column}) AS ${p.column}`).join(', ')}
       FROM ${ctx.dbs.vault}.${link.name} WHERE ${col} IN (${sqlStringList(keys)})`,
    );
    for (const r of rows) {
      linkParents.set(
        r.k!,
        link.parents.map((p) => [p.column, r[p.column]!]),
      );
      for (const p of link.parents) add(wanted, p.column, r[p.column]!);
    }
  }
  // Keyed by hub and key: user 1 and product 1 share a hash key (MD5 of "1").
  const labels = new Map<string, string>(); // `${hub hk column} ${key}` → label
  for (const [col, keys] of wanted) {
    const hub = HUB_BY_HK.get(col)!;
    const rows = await ctx.wh.query<{ k: string; l: string }>(
      `SELECT toString(${col}) AS k, any(${labelSql(columnsOf(hub, 'business_key'))}) AS l
       FROM ${ctx.dbs.vault}.${hub.name} WHERE ${col} IN (${sqlStringList(keys)}) GROUP BY ${col}`,
    );
    for (const r of rows) labels.set(`${col} ${r.k}`, r.l);
  }
  return sample.map((s) => {
    const m = HK_IN_KEY.exec(s.key);
    if (!m) return s;
    let label: string | undefined;
    if (HUB_BY_HK.has(m[1]!)) label = labels.get(`${m[1]!} ${m[2]!}`);
    else {
      const parents = linkParents.get(m[2]!);
      const parts = parents
        ?.map(([col, k]) => labels.get(`${col} ${k}`))
        .filter((x): x is string => x !== undefined);
      if (parts && parts.length === parents!.length) label = parts.join(', ');
    }
    return label && !s.key.includes(`[${label}]`)
      ? { ...s, key: `${m[0]} [${label}]${s.key.slice(m[0].length)}` }
      : s;
  });
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
