import type { CanonicalRow, SourceChange, SourceTable } from '../vault/types.js';
import { SOURCE_TABLES } from '../vault/types.js';
import { HOURLY_WEIGHTS, WEEKDAY_WEIGHTS } from './catalog.js';
import { Rng } from './rng.js';
import { KEY_COLUMN } from './rows.js';
import { ShopSimulator, type ShopAction } from './simulator.js';
import { dayStartUs, US_PER_DAY, US_PER_HOUR, US_PER_MS, utcDay } from './values.js';

export interface ShopOptions {
  /** PRNG seed: the same options give the same shop. Default 42. */
  seed?: number;
  /** Days of history. Default 7. */
  days?: number;
  /** First day (YYYY-MM-DD, UTC). Default: `days` days ending yesterday (UTC). */
  start?: string;
  /** Size of the shop at opening. */
  sellers?: number;
  users?: number;
  products?: number;
  /** Average actions per day (purchases, ratings, logins, price changes...); weekends get more. */
  eventsPerDay?: number;
  /** Only for the default `start`: what "today" is. */
  now?: Date;
}

export interface ResolvedShopOptions {
  seed: number;
  days: number;
  start: string;
  /** Last generated day (inclusive). */
  end: string;
  sellers: number;
  users: number;
  products: number;
  eventsPerDay: number;
}

export const SHOP_DEFAULTS = {
  seed: 42,
  days: 7,
  sellers: 8,
  users: 150,
  products: 120,
  eventsPerDay: 400,
} as const;

/** Time between the steps of the scripted hard cases (ShopSimulator.hardCases). */
const HARD_CASE_STEP_US = 60_000_000;

export interface GeneratedShop {
  options: ResolvedShopOptions;
  /** Every source change in commit order (commitTsUs non-decreasing). */
  changes: SourceChange[];
  /** Shop actions (one purchase, one login, one signup...); each makes 1–2 changes. */
  actions: number;
  actionCounts: Partial<Record<ShopAction, number>>;
  /** The simulator after the last change, e.g. to continue live. */
  simulator: ShopSimulator;
}

export function resolveShopOptions(opts: ShopOptions = {}): ResolvedShopOptions {
  const seed = opts.seed ?? SHOP_DEFAULTS.seed;
  const days = opts.days ?? SHOP_DEFAULTS.days;
  const positiveInt = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  positiveInt('seed', seed, 0);
  positiveInt('days', days, 1);
  const today = utcDay((opts.now ?? new Date()).getTime() * US_PER_MS);
  const start = opts.start ?? utcDay(dayStartUs(today) - days * US_PER_DAY);
  const startUs = dayStartUs(start); // validates the format
  const resolved: ResolvedShopOptions = {
    seed,
    days,
    start,
    end: utcDay(startUs + (days - 1) * US_PER_DAY),
    sellers: opts.sellers ?? SHOP_DEFAULTS.sellers,
    users: opts.users ?? SHOP_DEFAULTS.users,
    products: opts.products ?? SHOP_DEFAULTS.products,
    eventsPerDay: opts.eventsPerDay ?? SHOP_DEFAULTS.eventsPerDay,
  };
  positiveInt('sellers', resolved.sellers, 1);
  positiveInt('users', resolved.users, 1);
  positiveInt('products', resolved.products, 1);
  positiveInt('eventsPerDay', resolved.eventsPerDay, 0);
  return resolved;
}

/**
 * Generates `days` days of a shop: it opens at 00:00 UTC on `start` (sellers, products and users,
 * one per second), then plays the hard cases of the marts (`ShopSimulator.hardCases`), then each
 * day gets about `eventsPerDay` actions (more on weekends), spread over
 * the hours with an evening peak. All timestamps are whole milliseconds (MongoDB dates are ms).
 */
export function generateShop(opts: ShopOptions = {}): GeneratedShop {
  const options = resolveShopOptions(opts);
  const sim = new ShopSimulator(new Rng(options.seed));
  const startUs = dayStartUs(options.start);
  const changes = sim.bootstrap(startUs, options);
  let openedUs = changes.length > 0 ? changes[changes.length - 1]!.commitTsUs + US_PER_MS : startUs;
  // Right after the opening, on day 0 so that a longer run of the same shop still starts with the
  // shorter one: the hard cases of the marts, one step a minute.
  const hard = sim.hardCases(openedUs, HARD_CASE_STEP_US);
  changes.push(...hard);
  if (hard.length > 0) openedUs = hard[hard.length - 1]!.commitTsUs + US_PER_MS;
  const meanWeekday = WEEKDAY_WEIGHTS.reduce((a, b) => a + b, 0) / WEEKDAY_WEIGHTS.length;
  let actions = 0;

  for (let d = 0; d < options.days; d++) {
    const dayUs = startUs + d * US_PER_DAY;
    const weekday = new Date(dayUs / US_PER_MS).getUTCDay();
    const expected = (options.eventsPerDay * WEEKDAY_WEIGHTS[weekday]!) / meanWeekday;
    const count = Math.max(0, Math.round(expected * (1 + 0.06 * sim.rng.gauss())));
    const times: number[] = [];
    while (times.length < count) {
      const hour = sim.rng.weightedIndex(HOURLY_WEIGHTS);
      const ts = dayUs + hour * US_PER_HOUR + sim.rng.int(0, 3_599_999) * US_PER_MS;
      if (ts >= openedUs) times.push(ts); // day 0: nothing random before the opening and hard cases
    }
    times.sort((a, b) => a - b);
    for (const ts of times) {
      for (const c of sim.act(ts)) changes.push(c);
      actions++;
    }
  }
  return { options, changes, actions, actionCounts: { ...sim.actionCounts }, simulator: sim };
}

/** Rows of each source table after applying `changes` in order, keyed by the table's key (as a string). */
export type SourceState = Record<SourceTable, Map<string, CanonicalRow>>;

export function emptySourceState(): SourceState {
  return Object.fromEntries(SOURCE_TABLES.map((t) => [t, new Map<string, CanonicalRow>()])) as SourceState;
}

/** Applies changes (c/r insert or replace, u replace, d delete) to a state: what the sources hold afterwards. */
export function applyChanges(
  changes: Iterable<SourceChange>,
  state: SourceState = emptySourceState(),
): SourceState {
  for (const c of changes) {
    const key = String(c.row[KEY_COLUMN[c.table]]);
    if (c.op === 'd') state[c.table].delete(key);
    else state[c.table].set(key, c.row);
  }
  return state;
}

export type OpCounts = Record<SourceTable, { c: number; u: number; d: number }>;

export function countOps(changes: Iterable<SourceChange>): OpCounts {
  const counts = Object.fromEntries(SOURCE_TABLES.map((t) => [t, { c: 0, u: 0, d: 0 }])) as OpCounts;
  for (const ch of changes) counts[ch.table][ch.op === 'r' ? 'c' : ch.op]++;
  return counts;
}
