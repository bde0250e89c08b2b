import { describe, expect, it } from 'vitest';
import { KeyCache } from '../../../src/lib/stream/prepare.js';
import type { VaultRowSet } from '../../../src/lib/vault/types.js';

// The stream leaves out hub and link rows whose key ClickHouse already confirmed with a version at
// least as great (the row the table keeps anyway). Unconfirmed or failed batches teach it nothing,
// and an earlier sighting (a greater version) always goes in.

const hub = (hk: string, ver: number | string) => ({ hk_user: hk, user_id: 1, ver, first_seen_us: 0 });
const sat = (hk: string) => ({ hk_user: hk, effective_us: 1 });
const rowsOf = (...hubs: ReturnType<typeof hub>[]): VaultRowSet =>
  new Map<string, Record<string, unknown>[]>([
    ['hub_user', hubs],
    ['sat_user', hubs.map((h) => sat(h.hk_user))],
  ]);

describe('KeyCache', () => {
  it('leaves out confirmed keys, never satellites, and only after confirmation', () => {
    const keys = new KeyCache();
    const first = rowsOf(hub('A', 10), hub('B', 10));
    keys.filter(first, 1);
    expect(first.get('hub_user')).toHaveLength(2);

    // Batch 2 is prepared before batch 1 is confirmed: nothing is left out yet.
    const second = rowsOf(hub('A', 10));
    keys.filter(second, 2);
    expect(second.get('hub_user')).toHaveLength(1);

    keys.confirm(1);
    const third = rowsOf(hub('A', 10), hub('B', 5), hub('C', 10));
    keys.filter(third, 3);
    expect(third.get('hub_user')!.map((r) => r.hk_user)).toEqual(['C']);
    expect(third.get('sat_user')).toHaveLength(3);
  });

  it('keeps an earlier sighting (greater version), also as decimal strings beyond 2^53', () => {
    const keys = new KeyCache();
    keys.filter(rowsOf(hub('A', 10), hub('B', '144115188075855871')), 1);
    keys.confirm(1);
    const next = rowsOf(hub('A', 11), hub('B', '144115188075855872'), hub('B2', '99'));
    keys.filter(next, 2);
    expect(next.get('hub_user')!.map((r) => r.hk_user)).toEqual(['A', 'B', 'B2']);
    keys.confirm(2);
    const again = rowsOf(hub('A', 11), hub('B', '144115188075855871'));
    keys.filter(again, 3);
    expect(again.has('hub_user')).toBe(false);
  });

  it('forgets a dropped batch (failed, or with rows ClickHouse refused)', () => {
    const keys = new KeyCache();
    keys.filter(rowsOf(hub('A', 10)), 1);
    keys.drop(1);
    keys.confirm(1);
    const next = rowsOf(hub('A', 10));
    keys.filter(next, 2);
    expect(next.get('hub_user')).toHaveLength(1);
  });

  it('holds at most its capacity, forgetting the oldest keys first', () => {
    const keys = new KeyCache(2);
    keys.filter(rowsOf(hub('A', 1), hub('B', 1), hub('C', 1)), 1);
    keys.confirm(1);
    const next = rowsOf(hub('A', 1), hub('B', 1), hub('C', 1));
    keys.filter(next, 2);
    expect(next.get('hub_user')!.map((r) => r.hk_user)).toEqual(['A']);
  });
});
