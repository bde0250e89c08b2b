import bcrypt from 'bcryptjs';
import type { SourceChange } from '../vault/types.js';
import { Rng } from './rng.js';
import {
  ADJECTIVES,
  CANCEL_REASONS,
  CATEGORIES,
  CATEGORY_PRICE_CENTS,
  CITIES,
  COUNTRIES,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  PRODUCT_NOUNS,
  RATING_COMMENTS,
  SELLER_SUFFIXES,
  SELLER_WORDS,
} from './catalog.js';
import { centsToDecimal, decimalToCents, US_PER_DAY } from './values.js';
import type {
  AuthCredentialRow,
  CancellationRow,
  ProductRow,
  PurchaseItem,
  PurchaseRow,
  RatingRow,
  SellerRow,
  UserRow,
} from './rows.js';

/** bcrypt cost 4 (the minimum): real hashes, ~1 ms each, so a generated shop stays fast. */
export const BCRYPT_COST = 4;
const BCRYPT_SALT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Hashes are a pure function of (password, salt): cached across generator runs in one process. */
const hashCache = new Map<string, string>();

function bcryptHash(password: string, salt: string): string {
  const key = `${password}\u0000${salt}`;
  let hash = hashCache.get(key);
  if (hash === undefined) {
    hash = bcrypt.hashSync(password, salt);
    hashCache.set(key, hash);
  }
  return hash;
}

/** Things that can happen in the shop at one instant, with their relative frequency. */
const ACTIONS = [
  ['purchase', 50],
  ['rating', 17],
  ['cancellation', 5],
  ['login', 10],
  ['failed_login', 2],
  ['signup', 4],
  ['user_moved', 1.5],
  ['password_change', 0.5],
  ['price_change', 3],
  ['category_change', 0.6],
  ['new_product', 1.5],
  ['deactivate_product', 0.5],
  ['reactivate_product', 0.2],
  ['delete_product', 0.3],
  ['delete_user', 0.3],
  ['seller_renamed', 0.1],
  ['new_seller', 0.1],
] as const;
export type ShopAction = (typeof ACTIONS)[number][0];
const ACTION_WEIGHTS = ACTIONS.map(([, w]) => w);

const ITEM_COUNT_WEIGHTS = [45, 30, 15, 10]; // 1..4 distinct products per order
const QTY_WEIGHTS = [72, 19, 9]; // 1..3 units per item
/** Orders older than this are no longer cancelled. */
const CANCEL_WINDOW_US = 3 * US_PER_DAY;

export interface RecentOrder {
  order_id: string;
  user_id: number;
  ts: number;
}

/**
 * The shop's current state and the rules of what may happen next. Every action returns the source
 * changes it causes (1–2 rows, same commit time), already applied to the state. The state can be
 * built up by `bootstrap` or loaded from the live sources (`seed --rate` continues a seeded shop).
 */
export class ShopSimulator {
  readonly sellers = new Map<number, SellerRow>();
  readonly users = new Map<number, UserRow>();
  readonly auth = new Map<number, AuthCredentialRow>();
  readonly products = new Map<number, ProductRow>();
  /** Users that exist (for picking); products that are active and not deleted (for baskets). */
  private userIds: number[] = [];
  private sellableIds: number[] = [];
  private sellerIds: number[] = [];
  /** Latent quality per product (drives its stars), deterministic per product id and seed. */
  private readonly quality = new Map<number, number>();
  private readonly recentOrders: RecentOrder[] = [];
  private readonly cancelled = new Set<string>();
  /** What each user bought (product ids, the last 20), for ratings. */
  private readonly bought = new Map<number, number[]>();
  private buyers: number[] = [];
  private readonly stars = new Map<string, number>();

  nextSellerId = 1;
  nextUserId = 1;
  nextProductId = 1;
  nextOrderSeq = 1;
  private objectIdCounter = 0;
  readonly actionCounts: Partial<Record<ShopAction, number>> = {};

  constructor(readonly rng: Rng) {}

  // ---------------------------------------------------------------- state loading (seed --rate)

  /** Adds an existing row (e.g. read back from PostgreSQL) to the state without emitting a change. */
  loadSeller(row: SellerRow): void {
    this.sellers.set(row.id, row);
    this.sellerIds.push(row.id);
    this.nextSellerId = Math.max(this.nextSellerId, row.id + 1);
  }
  loadUser(row: UserRow, auth: AuthCredentialRow | undefined): void {
    this.users.set(row.id, row);
    if (auth) this.auth.set(row.id, auth);
    this.userIds.push(row.id);
    this.nextUserId = Math.max(this.nextUserId, row.id + 1);
  }
  loadProduct(row: ProductRow): void {
    this.products.set(row.id, row);
    if (row.active) this.sellableIds.push(row.id);
    this.nextProductId = Math.max(this.nextProductId, row.id + 1);
  }
  loadOrder(order: RecentOrder, productIds: number[], cancelled: boolean): void {
    this.nextOrderSeq = Math.max(this.nextOrderSeq, orderSeq(order.order_id) + 1);
    if (cancelled) this.cancelled.add(order.order_id);
    this.recentOrders.push(order);
    this.rememberPurchase(order.user_id, productIds);
  }

  get isEmpty(): boolean {
    return this.sellers.size === 0 && this.products.size === 0 && this.users.size === 0;
  }

  // ---------------------------------------------------------------- bootstrap

  /** The shop opening: sellers, products and users, one every `spacingUs` (default a second) from `startUs`. */
  bootstrap(
    startUs: number,
    sizes: { sellers: number; products: number; users: number },
    spacingUs = 1_000_000,
  ): SourceChange[] {
    const out: SourceChange[] = [];
    let ts = startUs;
    for (let i = 0; i < sizes.sellers; i++) {
      out.push(...this.newSeller(ts));
      ts += spacingUs;
    }
    // Interleave products and users so both exist early.
    const total = sizes.products + sizes.users;
    let p = 0;
    let u = 0;
    for (let i = 0; i < total; i++) {
      const wantProduct = u >= sizes.users || (p < sizes.products && p * sizes.users <= u * sizes.products);
      if (wantProduct) {
        out.push(...this.newProduct(ts));
        p++;
      } else {
        out.push(...this.signup(ts));
        u++;
      }
      ts += spacingUs;
    }
    return out;
  }

  // ---------------------------------------------------------------- the hard cases, on purpose

  /**
   * The cases the marts must get right, made on purpose so that every shop has them whatever its
   * seed, size and dates (random actions alone leave them to luck): an order of a product that is
   * then rated, re-categorised and deleted (the category mart must take the delete's old row), and
   * a second order that is cancelled. One step every `stepUs` from `ts`; returns the changes.
   */
  hardCases(ts: number, stepUs: number): SourceChange[] {
    if (this.sellableIds.length < 2 || this.userIds.length === 0) return [];
    const productId = this.rng.pick(this.sellableIds);
    const userId = this.pickUser()!;
    const out: SourceChange[] = [];
    const steps: Array<[ShopAction, (at: number) => SourceChange[]]> = [
      ['purchase', (at) => this.purchase(at, { userId, productId })],
      ['purchase', (at) => this.purchase(at)],
      ['cancellation', (at) => this.cancellation(at, this.recentOrders.at(-1))],
      ['rating', (at) => this.rating(at, { userId, productId })],
      ['category_change', (at) => this.categoryChange(at, productId)],
      ['deactivate_product', (at) => this.setActive(at, false, productId)],
      ['delete_product', (at) => this.deleteProduct(at, productId)],
    ];
    for (const [action, run] of steps) {
      out.push(...run(ts));
      this.actionCounts[action] = (this.actionCounts[action] ?? 0) + 1;
      ts += stepUs;
    }
    return out;
  }

  // ---------------------------------------------------------------- one action

  /** One thing happening in the shop at `tsUs` (whole milliseconds). Falls back to a purchase or signup when the chosen action has no candidate. */
  act(tsUs: number): SourceChange[] {
    const action = ACTIONS[this.rng.weightedIndex(ACTION_WEIGHTS)]![0];
    let changes = this.run(action, tsUs);
    let done: ShopAction = action;
    if (changes.length === 0) {
      done = this.sellableIds.length > 0 && this.userIds.length > 0 ? 'purchase' : 'signup';
      changes = this.run(done, tsUs);
      if (changes.length === 0) {
        done = 'new_product';
        changes = this.run(done, tsUs);
      }
    }
    this.actionCounts[done] = (this.actionCounts[done] ?? 0) + 1;
    return changes;
  }

  run(action: ShopAction, ts: number): SourceChange[] {
    switch (action) {
      case 'purchase':
        return this.purchase(ts);
      case 'rating':
        return this.rating(ts);
      case 'cancellation':
        return this.cancellation(ts);
      case 'login':
        return this.login(ts, true);
      case 'failed_login':
        return this.login(ts, false);
      case 'signup':
        return this.signup(ts);
      case 'user_moved':
        return this.userMoved(ts);
      case 'password_change':
        return this.passwordChange(ts);
      case 'price_change':
        return this.priceChange(ts);
      case 'category_change':
        return this.categoryChange(ts);
      case 'new_product':
        return this.sellerIds.length > 0 ? this.newProduct(ts) : this.newSeller(ts);
      case 'deactivate_product':
        return this.setActive(ts, false);
      case 'reactivate_product':
        return this.setActive(ts, true);
      case 'delete_product':
        return this.deleteProduct(ts);
      case 'delete_user':
        return this.deleteUser(ts);
      case 'seller_renamed':
        return this.sellerRenamed(ts);
      case 'new_seller':
        return this.newSeller(ts);
    }
  }

  // ---------------------------------------------------------------- PostgreSQL side

  private newSeller(ts: number): SourceChange[] {
    const row: SellerRow = {
      id: this.nextSellerId++,
      name: `${this.rng.pick(SELLER_WORDS)} ${this.rng.pick(SELLER_SUFFIXES)}`,
      country: this.rng.pick(COUNTRIES),
      created_at: ts,
      updated_at: ts,
    };
    this.sellers.set(row.id, row);
    this.sellerIds.push(row.id);
    return [change('sellers', 'c', row, ts)];
  }

  private sellerRenamed(ts: number): SourceChange[] {
    if (this.sellerIds.length === 0) return [];
    const old = this.sellers.get(this.rng.pick(this.sellerIds))!;
    const row: SellerRow = {
      ...old,
      name: `${old.name.split(' ')[0]} ${this.rng.pick(SELLER_SUFFIXES)} & Co`,
      updated_at: ts,
    };
    this.sellers.set(row.id, row);
    return [change('sellers', 'u', row, ts)];
  }

  private newProduct(ts: number): SourceChange[] {
    if (this.sellerIds.length === 0) return [];
    const id = this.nextProductId++;
    const category = this.rng.pick(CATEGORIES);
    const [lo, hi] = CATEGORY_PRICE_CENTS[category]!;
    // Skewed towards the cheap end, and most prices end in .99 or .49.
    const base = lo + Math.floor((hi - lo) * this.rng.next() ** 2);
    const cents = Math.max(99, Math.floor(base / 100) * 100 + (this.rng.chance(0.7) ? 99 : 49));
    const row: ProductRow = {
      id,
      seller_id: this.rng.pick(this.sellerIds),
      sku: `SKU-${String(id).padStart(6, '0')}`,
      name: `${this.rng.pick(ADJECTIVES)} ${this.rng.pick(PRODUCT_NOUNS[category]!)}`,
      category,
      price: centsToDecimal(cents),
      active: true,
      created_at: ts,
      updated_at: ts,
    };
    this.products.set(id, row);
    this.sellableIds.push(id);
    return [change('products', 'c', row, ts)];
  }

  private priceChange(ts: number): SourceChange[] {
    if (this.sellableIds.length === 0) return [];
    const old = this.products.get(this.rng.pick(this.sellableIds))!;
    const cents = Number(decimalToCents(old.price));
    // A sale (-10..-30 %) or a rise (+3..+12 %), kept on .99/.49 endings when possible.
    const factor = this.rng.chance(0.45) ? 1 - this.rng.int(10, 30) / 100 : 1 + this.rng.int(3, 12) / 100;
    let next = Math.max(99, Math.round((cents * factor) / 50) * 50 - 1);
    if (next === cents) next += 100;
    const row: ProductRow = { ...old, price: centsToDecimal(next), updated_at: ts };
    this.products.set(row.id, row);
    return [change('products', 'u', row, ts)];
  }

  private categoryChange(ts: number, productId?: number): SourceChange[] {
    if (this.products.size === 0) return [];
    const old = this.products.get(productId ?? this.rng.pick([...this.products.keys()]))!;
    const category = this.rng.pick(CATEGORIES.filter((c) => c !== old.category));
    const row: ProductRow = { ...old, category, updated_at: ts };
    this.products.set(row.id, row);
    return [change('products', 'u', row, ts)];
  }

  private setActive(ts: number, active: boolean, productId?: number): SourceChange[] {
    const candidates =
      productId !== undefined
        ? [productId]
        : active
          ? [...this.products.values()].filter((p) => !p.active).map((p) => p.id)
          : this.sellableIds.length > 10
            ? this.sellableIds
            : [];
    if (candidates.length === 0) return [];
    const old = this.products.get(this.rng.pick(candidates))!;
    const row: ProductRow = { ...old, active, updated_at: ts };
    this.products.set(row.id, row);
    if (active) this.sellableIds.push(row.id);
    else removeFrom(this.sellableIds, row.id);
    return [change('products', 'u', row, ts)];
  }

  private deleteProduct(ts: number, productId?: number): SourceChange[] {
    // Mostly products that were taken off sale first; keep enough on sale.
    const inactive = [...this.products.values()].filter((p) => !p.active).map((p) => p.id);
    const candidates =
      productId !== undefined
        ? [productId]
        : inactive.length > 0 && this.rng.chance(0.8)
          ? inactive
          : this.sellableIds.length > 10
            ? this.sellableIds
            : inactive;
    if (candidates.length === 0) return [];
    const row = this.products.get(this.rng.pick(candidates))!;
    this.products.delete(row.id);
    removeFrom(this.sellableIds, row.id);
    // REPLICA IDENTITY FULL: the delete carries the whole old row.
    return [change('products', 'd', { ...row }, ts)];
  }

  private signup(ts: number): SourceChange[] {
    const id = this.nextUserId++;
    const first = this.rng.pick(FIRST_NAMES);
    const last = this.rng.pick(LAST_NAMES);
    const user: UserRow = {
      id,
      email: `${first}.${last.replace(/[^A-Za-z]/g, '')}.${id}@${this.rng.pick(EMAIL_DOMAINS)}`.toLowerCase(),
      full_name: `${first} ${last}`,
      city: this.rng.pick(CITIES),
      created_at: ts,
      updated_at: ts,
    };
    const auth: AuthCredentialRow = {
      user_id: id,
      password_hash: this.newPasswordHash(),
      last_login_at: null,
      failed_logins: 0,
      updated_at: ts,
    };
    this.users.set(id, user);
    this.auth.set(id, auth);
    this.userIds.push(id);
    return [change('users', 'c', user, ts), change('auth_credentials', 'c', auth, ts)];
  }

  private newPasswordHash(): string {
    let password = '';
    for (let i = 0; i < 12; i++) password += BCRYPT_SALT_ALPHABET[this.rng.int(2, 63)];
    let salt = '';
    for (let i = 0; i < 22; i++) salt += BCRYPT_SALT_ALPHABET[this.rng.int(0, 63)];
    return bcryptHash(password, `$2b$0${BCRYPT_COST}$${salt}`);
  }

  private userMoved(ts: number): SourceChange[] {
    if (this.userIds.length === 0) return [];
    const old = this.users.get(this.rng.pick(this.userIds))!;
    const row: UserRow = {
      ...old,
      city: this.rng.pick(CITIES.filter((c) => c !== old.city)),
      updated_at: ts,
    };
    this.users.set(row.id, row);
    return [change('users', 'u', row, ts)];
  }

  private login(ts: number, ok: boolean): SourceChange[] {
    const userId = this.pickUser();
    if (userId === undefined) return [];
    const old = this.auth.get(userId);
    if (!old) return [];
    const row: AuthCredentialRow = ok
      ? { ...old, last_login_at: ts, failed_logins: 0, updated_at: ts }
      : { ...old, failed_logins: old.failed_logins + 1, updated_at: ts };
    this.auth.set(userId, row);
    return [change('auth_credentials', 'u', row, ts)];
  }

  private passwordChange(ts: number): SourceChange[] {
    const userId = this.pickUser();
    const old = userId === undefined ? undefined : this.auth.get(userId);
    if (!old) return [];
    const row: AuthCredentialRow = {
      ...old,
      password_hash: this.newPasswordHash(),
      failed_logins: 0,
      updated_at: ts,
    };
    this.auth.set(row.user_id, row);
    return [change('auth_credentials', 'u', row, ts)];
  }

  private deleteUser(ts: number): SourceChange[] {
    if (this.userIds.length <= 10) return [];
    const id = this.rng.pick(this.userIds);
    const user = this.users.get(id)!;
    const out: SourceChange[] = [];
    if (this.auth.has(id)) {
      // auth_credentials keeps REPLICA IDENTITY DEFAULT: Debezium's delete carries the key, with the
      // other columns null and NOT NULL ones at their default (failed_logins 0). Same here, so the
      // lake and the stream describe the delete identically.
      out.push(
        change(
          'auth_credentials',
          'd',
          { user_id: id, last_login_at: null, failed_logins: 0, updated_at: null },
          ts,
        ),
      );
      this.auth.delete(id);
    }
    out.push(change('users', 'd', { ...user }, ts));
    this.users.delete(id);
    removeFrom(this.userIds, id);
    removeFrom(this.buyers, id);
    this.bought.delete(id);
    return out;
  }

  // ---------------------------------------------------------------- MongoDB side

  /** A purchase by a random user of random products, or by `must.userId` including `must.productId`. */
  private purchase(ts: number, must?: { userId: number; productId: number }): SourceChange[] {
    const userId = must?.userId ?? this.pickUser();
    if (userId === undefined || this.sellableIds.length === 0) return [];
    const n = Math.min(this.sellableIds.length, 1 + this.rng.weightedIndex(ITEM_COUNT_WEIGHTS));
    const chosen = new Set<number>(must ? [must.productId] : []);
    while (chosen.size < n) chosen.add(this.pickSkewed(this.sellableIds, 1.4));
    const items: PurchaseItem[] = [...chosen].map((productId) => ({
      product_id: productId,
      qty: 1 + this.rng.weightedIndex(QTY_WEIGHTS),
      unit_price: this.products.get(productId)!.price,
    }));
    const order_id = formatOrderId(this.nextOrderSeq++);
    const row: PurchaseRow = { _id: this.objectId(ts), order_id, user_id: userId, items, ts };
    this.recentOrders.push({ order_id, user_id: userId, ts });
    this.rememberPurchase(userId, [...chosen]);
    return [change('purchases', 'c', row, ts)];
  }

  /** Cancels one of the recent orders (mostly among the newest), or `given`. */
  private cancellation(ts: number, given?: RecentOrder): SourceChange[] {
    while (this.recentOrders.length > 0 && this.recentOrders[0]!.ts < ts - CANCEL_WINDOW_US)
      this.recentOrders.shift();
    for (let attempt = 0; attempt < 5 && this.recentOrders.length > 0; attempt++) {
      const idx = this.recentOrders.length - 1 - Math.floor(this.recentOrders.length * this.rng.next() ** 2);
      const order = given ?? this.recentOrders[idx]!;
      if (this.cancelled.has(order.order_id) || !this.users.has(order.user_id)) continue;
      this.cancelled.add(order.order_id);
      const row: CancellationRow = {
        _id: this.objectId(ts),
        order_id: order.order_id,
        user_id: order.user_id,
        reason: this.rng.pick(CANCEL_REASONS),
        ts,
      };
      return [change('cancellations', 'c', row, ts)];
    }
    return [];
  }

  /** A rating by a random buyer of something they bought, or `given.userId` rating `given.productId`. */
  private rating(ts: number, given?: { userId: number; productId: number }): SourceChange[] {
    if (this.buyers.length === 0) return [];
    const userId = given?.userId ?? this.rng.pick(this.buyers);
    const productIds = (this.bought.get(userId) ?? []).filter((p) => this.products.has(p));
    if (productIds.length === 0) return [];
    const productId = given?.productId ?? this.rng.pick(productIds);
    const key = `${userId}:${productId}`;
    const previous = this.stars.get(key);
    let stars: number;
    if (previous !== undefined) {
      // A re-rating: the user changed their mind by a star or two.
      stars = clampStars(previous + (this.rng.chance(0.5) ? 1 : -1) * this.rng.int(1, 2));
    } else {
      stars = clampStars(Math.round(this.qualityOf(productId) + this.rng.gauss() * 0.9));
    }
    this.stars.set(key, stars);
    const row: RatingRow = {
      _id: this.objectId(ts),
      user_id: userId,
      product_id: productId,
      stars,
      comment: this.rng.chance(0.4) ? this.rng.pick(RATING_COMMENTS[stars]!) : null,
      ts,
    };
    return [change('ratings', 'c', row, ts)];
  }

  // ---------------------------------------------------------------- helpers

  private rememberPurchase(userId: number, productIds: number[]): void {
    let list = this.bought.get(userId);
    if (!list) {
      list = [];
      this.bought.set(userId, list);
      this.buyers.push(userId);
    }
    for (const p of productIds) if (!list.includes(p)) list.push(p);
    if (list.length > 20) list.splice(0, list.length - 20);
  }

  private qualityOf(productId: number): number {
    let q = this.quality.get(productId);
    if (q === undefined) {
      q = 2.2 + 2.6 * this.rng.next();
      this.quality.set(productId, q);
    }
    return q;
  }

  /** Some users shop much more often than others. */
  private pickUser(): number | undefined {
    return this.userIds.length === 0 ? undefined : this.pickSkewed(this.userIds, 1.6);
  }

  private pickSkewed(ids: readonly number[], skew: number): number {
    return ids[Math.floor(ids.length * this.rng.next() ** skew)]!;
  }

  /** A 24-hex ObjectId: 4 bytes of seconds, 5 seeded random bytes, a 3-byte counter. */
  private objectId(ts: number): string {
    const seconds = Math.floor(ts / 1_000_000);
    const counter = this.objectIdCounter++ & 0xffffff;
    return seconds.toString(16).padStart(8, '0') + this.rng.hex(5) + counter.toString(16).padStart(6, '0');
  }
}

function change<T extends SourceChange['row']>(
  table: SourceChange['table'],
  op: SourceChange['op'],
  row: T,
  ts: number,
): SourceChange {
  return { table, op, row, commitTsUs: ts };
}

function removeFrom(list: number[], id: number): void {
  const i = list.indexOf(id);
  if (i >= 0) list.splice(i, 1);
}

function clampStars(s: number): number {
  return Math.min(5, Math.max(1, s));
}

export function formatOrderId(seq: number): string {
  return `ORD-${String(seq).padStart(8, '0')}`;
}

export function orderSeq(orderId: string): number {
  const m = /^ORD-(\d+)$/.exec(orderId);
  return m ? Number(m[1]) : 0;
}
