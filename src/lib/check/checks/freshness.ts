import { FEEDS } from '../../vault/model.js';
import { trimSql } from '../../vault/sql.js';
import { trimAscii } from '../../vault/hashing.js';
import { SOURCES_KEY, tableProfile } from '../profile.js';
import { META } from '../../vault/tables.js';
import { ZERO, tableName } from '../sql.js';
import type { CheckDefinition, SampleItem } from '../types.js';
import { SAT_TABLES, plural } from './common.js';

export const freshness: CheckDefinition = {
  id: 'freshness',
  group: 'freshness',
  severity: 'warn',
  title: 'Latest load per source within the freshness threshold',
  explanation:
    'For every record source of the model, the newest satellite load (load_ts) must be younger than checks.freshnessMaxSeconds (server clock). A stale source means its loader stopped or its connector is stuck; a quiet source with no changes looks the same, hence a warning, not an error. Not narrowed by --date.',
  profile: () => SAT_TABLES.map((t) => ({ table: t.name, key: SOURCES_KEY, cond: '1' })),
  async run(ctx) {
    const latest = new Map<string, number>();
    let now = 0;
    for (const sat of SAT_TABLES) {
      const profile = await tableProfile(ctx, sat);
      const rows = profile
        ? profile.sources
            .filter((s) => s.liveRows > 0 && trimAscii(s.recordSource) !== '')
            .map((s) => ({ rs: s.recordSource, last: s.lastLoadSec, now: profile.nowSec }))
        : await ctx.wh.query<{ rs: string; last: string | number; now: string | number }>(
            `SELECT ${META.recordSource} AS rs, toUnixTimestamp(max(${META.loadTs})) AS last, toUnixTimestamp(now()) AS now
             FROM ${tableName(ctx, sat)}
             WHERE ${sat.hashKey} != ${ZERO} AND ${trimSql(META.recordSource)} != ''
             GROUP BY ${META.recordSource}`,
          );
      for (const r of rows) {
        latest.set(r.rs, Math.max(latest.get(r.rs) ?? 0, Number(r.last)));
        now = Math.max(now, Number(r.now));
      }
    }
    if (now === 0)
      now = Number(
        (await ctx.wh.query<{ now: string | number }>('SELECT toUnixTimestamp(now()) AS now'))[0]?.now ??
          Date.now() / 1000,
      );
    const sources = [...new Set(Object.values(FEEDS).map((f) => f.recordSource))].sort();
    const perSource: Record<string, { lastLoad: string | null; ageSeconds: number | null; fresh: boolean }> =
      {};
    const sample: SampleItem[] = [];
    const counts: Record<string, number> = {};
    for (const rs of sources) {
      const last = latest.get(rs);
      const age = last === undefined ? null : now - last;
      const fresh = age !== null && age <= ctx.freshnessMaxSeconds;
      perSource[rs] = {
        lastLoad: last === undefined ? null : new Date(last * 1000).toISOString(),
        ageSeconds: age,
        fresh,
      };
      if (!fresh) {
        counts[rs] = 1;
        if (sample.length < ctx.sampleSize) {
          sample.push({
            table: rs,
            key: rs,
            detail:
              age === null
                ? 'never loaded'
                : `last load ${new Date(last! * 1000).toISOString()} is ${age} s old (limit ${ctx.freshnessMaxSeconds} s)`,
          });
        }
      }
    }
    const stale = Object.keys(counts).length;
    const details = { maxSeconds: ctx.freshnessMaxSeconds, sources: perSource };
    if (stale === 0)
      return {
        status: 'pass',
        message: `${sources.length} sources loaded within ${ctx.freshnessMaxSeconds} s`,
        details,
      };
    return {
      status: 'fail',
      message: `${plural(stale, 'source')} stale or never loaded (limit ${ctx.freshnessMaxSeconds} s): ${Object.keys(counts).join(', ')}`,
      count: stale,
      counts,
      sample,
      details,
    };
  },
};
