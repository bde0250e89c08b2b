import type { SourceChange } from '../vault/types.js';
import { InterruptedError, UsageError } from '../errors/index.js';
import { maskUrl } from '../config/index.js';
import {
  countOps,
  generateShop,
  resolveShopOptions,
  type OpCounts,
  type ResolvedShopOptions,
  type ShopOptions,
} from './generator.js';
import {
  MongoSourceWriter,
  mongoDatabaseFromUrl,
  fromMongoDocument,
  type DecimalMode,
} from './mongo-writer.js';
import { PostgresSourceWriter, validateSchemaName } from './postgres-writer.js';
import { ShopSimulator } from './simulator.js';
import { Rng } from './rng.js';
import { isPgTable, type PurchaseRow } from './rows.js';
import { US_PER_DAY, US_PER_MS } from './values.js';

export interface SeedTarget {
  postgresUrl: string;
  /** PostgreSQL schema holding the shop tables (default public). */
  pgSchema?: string;
  mongoUrl: string;
  /** Default: the database in the URL path, else shop_events. */
  mongoDatabase?: string;
}

export interface SeedProgress {
  mode: 'history' | 'live';
  /** Source changes written by this run so far. */
  written: number;
  /** Changes this run will write (history), or undefined (live). */
  total: number | undefined;
  elapsedMs: number;
}

export interface SeedCommon {
  target: SeedTarget;
  /** Start from empty shop tables and collections (and forget earlier seed runs). */
  truncate?: boolean;
  /** Source changes per PostgreSQL transaction / MongoDB insert. Default 2000. */
  batchSize?: number;
  /** Stops cleanly after the batch in flight (SIGINT); the run then throws InterruptedError. */
  signal?: AbortSignal;
  onProgress?: (p: SeedProgress) => void;
}

/**
 * What `seed` did. An "event" is one source change (one row inserted, updated or deleted, one
 * MongoDB document): what Debezium turns into one Kafka message.
 */
export interface SeedResult {
  mode: 'history' | 'live';
  dryRun: boolean;
  seed: number;
  /** History: the generated days (UTC). */
  start: string | undefined;
  end: string | undefined;
  days: number | undefined;
  target: {
    postgres: string;
    schema: string;
    mongo: string;
    database: string;
    mongoServer?: string;
    mongoDecimal?: DecimalMode;
  };
  /** Changes of this run already written by an earlier, interrupted run. */
  resumedFrom: number;
  /** Changes of the whole run (history) or generated so far (live). */
  total: number;
  /** Changes written by this invocation. */
  written: number;
  tables: OpCounts;
  durationMs: number;
  eventsPerSecond: number;
  /** History: every change of the run is in both sources. */
  complete: boolean;
  /** Where the time went (ms): generating the shop, PostgreSQL statements, MongoDB inserts. */
  timings: { generateMs: number; postgresMs: number; mongoMs: number };
}

const DEFAULT_BATCH = 2000;

/** The identity of a history run. Days are left out: a longer run of the same shop extends a shorter one. */
export function historyRunKey(o: ResolvedShopOptions): string {
  return `history:${JSON.stringify({ seed: o.seed, start: o.start, sellers: o.sellers, users: o.users, products: o.products, eventsPerDay: o.eventsPerDay })}`;
}
const LIVE_RUN_KEY = 'live';

function targetInfo(t: SeedTarget) {
  return {
    postgres: maskUrl(t.postgresUrl),
    schema: t.pgSchema ?? 'public',
    mongo: maskUrl(t.mongoUrl),
    database: t.mongoDatabase ?? mongoDatabaseFromUrl(t.mongoUrl),
  };
}

/** `seed --dry-run`: what a history run would write, without connecting anywhere. */
export function planHistory(shop: ShopOptions, target: SeedTarget): SeedResult {
  const t0 = performance.now();
  const g = generateShop(shop);
  return {
    mode: 'history',
    dryRun: true,
    seed: g.options.seed,
    start: g.options.start,
    end: g.options.end,
    days: g.options.days,
    target: targetInfo(target),
    resumedFrom: 0,
    total: g.changes.length,
    written: 0,
    tables: countOps(g.changes),
    durationMs: Math.round(performance.now() - t0),
    eventsPerSecond: 0,
    complete: false,
    timings: { generateMs: Math.round(performance.now() - t0), postgresMs: 0, mongoMs: 0 },
  };
}

async function openTargets(
  target: SeedTarget,
  signal: AbortSignal | undefined,
): Promise<{ pg: PostgresSourceWriter; mongo: MongoSourceWriter }> {
  const schema = validateSchemaName(target.pgSchema ?? 'public');
  const pg = await PostgresSourceWriter.connect(target.postgresUrl, schema, signal ? { signal } : {});
  try {
    await pg.checkTables();
    const mongo = await MongoSourceWriter.connect(target.mongoUrl, target.mongoDatabase);
    return { pg, mongo };
  } catch (err) {
    await pg.close();
    throw err;
  }
}

/**
 * Writes `days` of generated history into the sources, in commit order, batch by batch. Progress is
 * committed with each PostgreSQL batch (exactly once) and MongoDB inserts skip existing `_id`s, so a
 * rerun with the same options continues where an interrupted one stopped, without duplicates.
 */
export async function seedHistory(opts: SeedCommon & { shop: ShopOptions }): Promise<SeedResult> {
  const t0 = performance.now();
  const options = resolveShopOptions(opts.shop);
  const generated = generateShop(options);
  const generateMs = performance.now() - t0;
  const changes = generated.changes;
  let postgresMs = 0;
  let mongoMs = 0;
  const runKey = historyRunKey(options);
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  const { pg, mongo } = await openTargets(opts.target, opts.signal);
  try {
    if (opts.truncate) {
      await pg.truncate();
      await mongo.truncate();
    }
    await pg.ensureStateTable();
    const states = await pg.readStates();
    const mine = states.find((s) => s.runKey === runKey);
    const others = states.filter((s) => s.runKey !== runKey);
    if (!mine) {
      const pgRows = Object.values(await pg.rowCounts()).reduce((a, b) => a + b, 0);
      const mongoDocs = Object.values(await mongo.counts()).reduce((a, b) => a + b, 0);
      if (others.length > 0 || pgRows > 0 || mongoDocs > 0) {
        throw new UsageError(
          `The target already holds shop data (${pgRows} PostgreSQL rows, ${mongoDocs} MongoDB documents${others.length > 0 ? `, from seed runs ${others.map((o) => o.runKey).join('; ')}` : ''}) that this run did not write; its ids would collide.`,
          {
            hint: 'Add --truncate to start from empty tables, or rerun with the same --seed/--start/sizes to continue that run.',
          },
        );
      }
    } else if (
      others.some((o) => o.runKey === LIVE_RUN_KEY) &&
      Math.min(mine.pgPosition, mine.mongoPosition) < changes.length
    ) {
      throw new UsageError(
        'A live seed (--rate) wrote on top of this unfinished history run; continuing it would collide with the live rows.',
        {
          hint: 'Add --truncate to start over.',
        },
      );
    }
    const pgPos = Math.min(mine?.pgPosition ?? 0, changes.length);
    const mongoPos = Math.min(mine?.mongoPosition ?? 0, changes.length);
    const from = Math.min(pgPos, mongoPos);
    await pg.startRun(runKey, { ...options }, Math.max(changes.length, mine?.total ?? 0));

    const written = emptyCounts();
    let writtenChanges = 0;
    for (let i = from; i < changes.length; i += batchSize) {
      if (opts.signal?.aborted) {
        throw new InterruptedError(
          `seed stopped after ${i} of ${changes.length} changes; rerun the same command to continue.`,
          {
            details: { position: i, total: changes.length },
          },
        );
      }
      const end = Math.min(i + batchSize, changes.length);
      const batch = changes.slice(i, end);
      const pgPart = i >= pgPos ? batch : batch.filter((_, k) => i + k >= pgPos);
      const mongoPart = i >= mongoPos ? batch : batch.filter((_, k) => i + k >= mongoPos);
      // PostgreSQL first: a MongoDB event never refers to a user or product PostgreSQL lacks.
      const tPg = performance.now();
      if (end > pgPos) await pg.applyBatch(pgPart, { runKey, position: end });
      const tMongo = performance.now();
      postgresMs += tMongo - tPg;
      if (end > mongoPos) {
        await mongo.insert(mongoPart);
        await pg.setMongoPosition(runKey, end);
      }
      mongoMs += performance.now() - tMongo;
      const fresh = batch.filter((c, k) => i + k >= (isPgTable(c.table) ? pgPos : mongoPos));
      addCounts(written, fresh);
      writtenChanges += fresh.length;
      opts.onProgress?.({
        mode: 'history',
        written: writtenChanges,
        total: changes.length - from,
        elapsedMs: performance.now() - t0,
      });
    }
    const durationMs = performance.now() - t0;
    return {
      mode: 'history',
      dryRun: false,
      seed: options.seed,
      start: options.start,
      end: options.end,
      days: options.days,
      target: { ...targetInfo(opts.target), mongoServer: mongo.server, mongoDecimal: mongo.decimals },
      resumedFrom: from,
      total: changes.length,
      written: writtenChanges,
      tables: written,
      durationMs: Math.round(durationMs),
      eventsPerSecond: durationMs > 0 ? Math.round((writtenChanges * 1000) / durationMs) : 0,
      complete: true,
      timings: {
        generateMs: Math.round(generateMs),
        postgresMs: Math.round(postgresMs),
        mongoMs: Math.round(mongoMs),
      },
    };
  } finally {
    await Promise.all([pg.close(), mongo.close()]);
  }
}

export interface LiveOptions extends SeedCommon {
  /** Target source changes per second. */
  rate: number;
  durationMs: number;
  seed?: number;
  /** Shop size when the target is empty (it is opened first). */
  sizes?: Pick<ShopOptions, 'sellers' | 'users' | 'products'>;
  /** How often a batch is written. Default 250 ms. */
  tickMs?: number;
}

/**
 * Live traffic: continues the shop the sources hold (or opens one when they are empty) at about
 * `rate` changes per second, stamped with the current time, until `durationMs` or the signal.
 * Every batch commits on its own; a rerun continues from whatever the sources hold, so stopping and
 * starting again never duplicates anything.
 */
export async function seedLive(opts: LiveOptions): Promise<SeedResult> {
  if (!(opts.rate > 0))
    throw new UsageError(`--rate must be a positive number of events per second, got ${opts.rate}.`);
  const t0 = performance.now();
  const seed = opts.seed ?? 42;
  const { pg, mongo } = await openTargets(opts.target, opts.signal);
  try {
    if (opts.truncate) {
      await pg.truncate();
      await mongo.truncate();
    }
    await pg.ensureStateTable();
    // Live data is stamped with wall time, so mix the start time into the seed: two runs of the
    // same seed must not produce the same MongoDB _ids.
    const sim = new ShopSimulator(new Rng((seed ^ (Date.now() & 0x7fffffff)) >>> 0));
    await loadSimulator(sim, pg, mongo);
    await pg.startRun(LIVE_RUN_KEY, { seed, rate: opts.rate }, 0);

    const written = emptyCounts();
    let writtenChanges = 0;
    let lastTs = 0;
    const nowUs = () => {
      lastTs = Math.max(lastTs, Date.now() * US_PER_MS);
      return lastTs;
    };
    let postgresMs = 0;
    let mongoMs = 0;
    const write = async (batch: SourceChange[]) => {
      if (batch.length === 0) return;
      const tPg = performance.now();
      await pg.applyBatch(batch);
      const tMongo = performance.now();
      await mongo.insert(batch);
      postgresMs += tMongo - tPg;
      mongoMs += performance.now() - tMongo;
      addCounts(written, batch);
      writtenChanges += batch.length;
      opts.onProgress?.({
        mode: 'live',
        written: writtenChanges,
        total: undefined,
        elapsedMs: performance.now() - t0,
      });
    };
    if (sim.isEmpty) {
      const sizes = resolveShopOptions({ ...opts.sizes, start: '2000-01-01' });
      // The opening (1 ms apart) is not paced: it is the shop that live traffic happens in.
      const opening = sim.bootstrap(nowUs(), sizes, US_PER_MS);
      lastTs = Math.max(lastTs, opening.at(-1)?.commitTsUs ?? 0);
      for (let i = 0; i < opening.length; i += opts.batchSize ?? DEFAULT_BATCH) {
        await write(opening.slice(i, i + (opts.batchSize ?? DEFAULT_BATCH)));
      }
    }
    const tickMs = opts.tickMs ?? 250;
    const paceStart = performance.now();
    let generated = 0;
    while (!opts.signal?.aborted) {
      const elapsed = performance.now() - paceStart;
      const due = Math.floor((opts.rate * Math.min(elapsed, opts.durationMs)) / 1000);
      const batch: SourceChange[] = [];
      while (generated < due && batch.length < (opts.batchSize ?? DEFAULT_BATCH)) {
        const changes = sim.act(nowUs());
        batch.push(...changes);
        generated += changes.length;
      }
      await write(batch);
      if (elapsed >= opts.durationMs && generated >= due) break;
      if (batch.length < (opts.batchSize ?? DEFAULT_BATCH)) await sleep(tickMs, opts.signal);
    }
    await pg.query(
      `UPDATE "${pg.schema}".shopdata_seed_state SET pg_position = pg_position + $1, mongo_position = mongo_position + $1, updated_at = now() WHERE run_key = $2`,
      [writtenChanges, LIVE_RUN_KEY],
    );
    const durationMs = performance.now() - t0;
    if (opts.signal?.aborted) {
      throw new InterruptedError(
        `live seed stopped after ${writtenChanges} changes; every written batch is committed.`,
        {
          details: { written: writtenChanges },
        },
      );
    }
    return {
      mode: 'live',
      dryRun: false,
      seed,
      start: undefined,
      end: undefined,
      days: undefined,
      target: { ...targetInfo(opts.target), mongoServer: mongo.server, mongoDecimal: mongo.decimals },
      resumedFrom: 0,
      total: writtenChanges,
      written: writtenChanges,
      tables: written,
      durationMs: Math.round(durationMs),
      eventsPerSecond:
        durationMs > 0 ? Math.round((writtenChanges * 1000) / (performance.now() - paceStart)) : 0,
      complete: true,
      timings: { generateMs: 0, postgresMs: Math.round(postgresMs), mongoMs: Math.round(mongoMs) },
    };
  } finally {
    await Promise.all([pg.close(), mongo.close()]);
  }
}

/** Puts what the sources hold into the simulator: rows, the last order number, recent orders. */
async function loadSimulator(
  sim: ShopSimulator,
  pg: PostgresSourceWriter,
  mongo: MongoSourceWriter,
): Promise<void> {
  for (const s of await pg.readSellers()) sim.loadSeller(s);
  const auth = new Map((await pg.readAuth()).map((a) => [a.user_id, a]));
  for (const u of await pg.readUsers()) sim.loadUser(u, auth.get(u.id));
  for (const p of await pg.readProducts()) sim.loadProduct(p);
  const purchases = mongo.db.collection('purchases');
  const last = await purchases
    .find({}, { projection: { order_id: 1 } })
    .sort({ order_id: -1 })
    .limit(1)
    .toArray();
  const lastSeq = /^ORD-(\d+)$/.exec(String(last[0]?.order_id ?? ''));
  if (lastSeq) sim.nextOrderSeq = Number(lastSeq[1]) + 1;
  const since = new Date(Date.now() - (3 * US_PER_DAY) / US_PER_MS);
  const recent = (
    await purchases
      .find({ ts: { $gte: since } })
      .sort({ ts: 1 })
      .toArray()
  ).map((d) => fromMongoDocument('purchases', d) as PurchaseRow);
  const cancelled = new Set(
    (
      await mongo.db
        .collection('cancellations')
        .find({ ts: { $gte: since } }, { projection: { order_id: 1 } })
        .toArray()
    ).map((d) => String(d.order_id)),
  );
  for (const p of recent) {
    if (!sim.users.has(p.user_id)) continue;
    sim.loadOrder(
      { order_id: p.order_id, user_id: p.user_id, ts: p.ts },
      p.items.map((i) => i.product_id),
      cancelled.has(p.order_id),
    );
  }
}

function emptyCounts(): OpCounts {
  return countOps([]);
}

function addCounts(into: OpCounts, changes: readonly SourceChange[]): void {
  for (const c of changes) into[c.table][c.op === 'r' ? 'c' : c.op]++;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
