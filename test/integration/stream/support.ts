import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { encodeChange, encodeTombstone, type EncodeOptions } from '../../helpers/debezium.js';
import { TOAST_PLACEHOLDER } from '../../../src/lib/debezium/decode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { parsePrometheusText } from '../../../src/lib/top/metrics-source.js';
import { mapChanges } from '../../../src/lib/vault/mapping.js';
import { VAULT_TABLES, testDatabases, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { CanonicalRow, SourceChange, SourceTable } from '../../../src/lib/vault/types.js';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { createTopicsReady } from '../../helpers/kafka.js';

export const SALT = 'fca974855fce873e510fea119a3cac5dd9c9e90a458d3768ea29b999385fbdc6';

/** A private namespace per test: topic prefixes, group, DLQ topic and vault databases. */
export interface TestNamespace {
  id: string;
  router: TopicRouter;
  group: string;
  dlqTopic: string;
  dbs: VaultDatabases;
  suffix: string;
}

export function namespace(prefix: string): TestNamespace {
  const id = uniqueName(prefix);
  return {
    id,
    router: new TopicRouter({ postgres: `${id}.shop.public.`, mongo: `${id}.shopev.shop_events.` }),
    group: `${id}-group`,
    dlqTopic: `${id}.dlq`,
    dbs: testDatabases(id),
    suffix: id,
  };
}

// ------------------------------------------------------------------------ changes

const T0 = Date.UTC(2026, 10, 20, 8, 0, 0) * 1000; // 2026-11-20T08:00:00Z in µs

function oid(n: number): string {
  return (0x6745a1b2).toString(16) + n.toString(16).padStart(16, '0');
}

/**
 * A deterministic shop history of `n` changes over every table and op (c, r, u, d), with strictly
 * increasing commit times (so no two changes of one entity share a satellite key).
 */
export function makeChanges(n: number, seed = 1): SourceChange[] {
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const out: SourceChange[] = [];
  const state: Record<SourceTable, Map<string, CanonicalRow>> = {
    sellers: new Map(),
    users: new Map(),
    auth_credentials: new Map(),
    products: new Map(),
    purchases: new Map(),
    cancellations: new Map(),
    ratings: new Map(),
  };
  let ts = T0;
  let ids = 0;
  const next = () => (ts += 1000 + Math.floor(rnd() * 999)); // µs, never ms-aligned by accident only
  const cities = ['Lyon', 'Paris', 'Oslo', 'Graz', 'Porto', 'Turku'];
  const cats = ['kitchen', 'garden', 'toys', 'books', 'home'];
  const emit = (table: SourceTable, op: SourceChange['op'], row: CanonicalRow) => {
    const commitTsUs = next();
    out.push({ table, op, row, commitTsUs });
    const key = table === 'auth_credentials' ? String(row.user_id) : String(row.id ?? row._id);
    const keys = order[table];
    if (op === 'd') {
      if (state[table].delete(key)) {
        // swap-remove keeps picking O(1)
        const i = slot.get(`${table}/${key}`)!;
        const last = keys.pop()!;
        if (i < keys.length) {
          keys[i] = last;
          slot.set(`${table}/${last}`, i);
        }
        slot.delete(`${table}/${key}`);
      }
    } else {
      if (!state[table].has(key)) {
        slot.set(`${table}/${key}`, keys.length);
        keys.push(key);
      }
      state[table].set(key, row);
    }
  };
  const order = Object.fromEntries(Object.keys(state).map((t) => [t, [] as string[]])) as unknown as Record<
    SourceTable,
    string[]
  >;
  const slot = new Map<string, number>();
  /** A random live row of the table. */
  const existing = (t: SourceTable): CanonicalRow[] => [state[t].get(pick(order[t]))!];
  while (out.length < n) {
    const r = rnd();
    const snapshot = out.length < Math.min(50, n / 10);
    if (r < 0.06 || state.sellers.size === 0) {
      const id = ++ids;
      emit('sellers', snapshot ? 'r' : 'c', {
        id,
        name: `Seller ${id} “Ltd”`,
        country: pick(['DE', 'FR', 'NO', null]),
        created_at: ts,
        updated_at: ts,
      });
    } else if (r < 0.18 || state.users.size < 3) {
      const id = ++ids;
      emit('users', snapshot ? 'r' : 'c', {
        id,
        email: `user${id}@example.org`,
        full_name: `User Number ${id}`,
        city: pick(cities),
        created_at: ts - 5_000_000,
        updated_at: ts,
      });
    } else if (r < 0.24) {
      const u = pick(existing('users'));
      if (state.auth_credentials.has(String(u.id))) {
        const prev = state.auth_credentials.get(String(u.id))!;
        emit('auth_credentials', 'u', {
          ...prev,
          failed_logins: (prev.failed_logins as number) + 1,
          last_login_at: ts,
          updated_at: ts,
        });
      } else {
        emit('auth_credentials', 'c', {
          user_id: u.id!,
          last_login_at: null,
          failed_logins: 0,
          updated_at: ts,
        });
      }
    } else if (r < 0.34 || state.products.size < 3) {
      const id = ++ids;
      const s = pick(existing('sellers'));
      const cents = Math.floor(rnd() * 500000);
      emit('products', snapshot ? 'r' : 'c', {
        id,
        seller_id: rnd() < 0.1 ? null : s.id!,
        sku: `SKU-${id}`,
        name: rnd() < 0.05 ? null : `Product ${id}`,
        category: pick(cats),
        price: (cents / 100).toFixed(2),
        active: rnd() < 0.9,
        created_at: ts,
        updated_at: ts,
      });
    } else if (r < 0.42) {
      const u = pick(existing('users'));
      emit('users', 'u', { ...u, city: pick(cities), updated_at: ts + 1000 });
    } else if (r < 0.47) {
      const p = pick(existing('products'));
      emit('products', 'u', {
        ...p,
        price: (Math.floor(rnd() * 500000) / 100).toFixed(2),
        category: pick(cats),
        updated_at: ts + 1000,
      });
    } else if (r < 0.72) {
      const id = ++ids;
      const u = pick(existing('users'));
      const items = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
        const p = pick(existing('products'));
        return { product_id: p.id!, qty: 1 + Math.floor(rnd() * 4), unit_price: p.price! };
      });
      // MongoDB dates hold milliseconds.
      emit('purchases', 'c', {
        _id: oid(id),
        order_id: `O-${id}`,
        user_id: u.id!,
        items,
        ts: Math.floor(ts / 1000) * 1000,
      });
    } else if (r < 0.78 && state.purchases.size > 0) {
      const p = pick(existing('purchases'));
      emit('cancellations', 'c', {
        _id: oid(++ids),
        order_id: p.order_id!,
        user_id: p.user_id!,
        reason: pick(['late', 'changed my mind', 'damaged']),
        ts: Math.floor(ts / 1000) * 1000,
      });
    } else if (r < 0.9) {
      const u = pick(existing('users'));
      const p = pick(existing('products'));
      emit('ratings', 'c', {
        _id: oid(++ids),
        user_id: u.id!,
        product_id: p.id!,
        stars: 1 + Math.floor(rnd() * 5),
        comment: rnd() < 0.5 ? null : 'fine',
        ts: Math.floor(ts / 1000) * 1000,
      });
    } else if (r < 0.93 && state.ratings.size > 0) {
      const rt = pick(existing('ratings'));
      emit('ratings', 'u', { ...rt, stars: 1 + Math.floor(rnd() * 5), ts: Math.floor(ts / 1000) * 1000 });
    } else if (r < 0.95 && state.purchases.size > 2) {
      emit('purchases', 'd', pick(existing('purchases')));
    } else if (r < 0.97 && state.products.size > 5) {
      emit('products', 'd', pick(existing('products')));
    } else if (state.users.size > 5) {
      const u = pick(existing('users'));
      if (!state.auth_credentials.has(String(u.id))) emit('users', 'd', u);
    }
  }
  return out.slice(0, n);
}

// ------------------------------------------------------------------------ messages

export interface TestMessage {
  topic: string;
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}

/**
 * Encodes changes the way Debezium does, cycling through every flavour the decoder must read:
 * with and without the schema wrapper; numerics precise (only with schema), string and double;
 * timestamptz as ZonedTimestamp and epoch micros/millis (millis only where exact); MongoDB
 * canonical and relaxed extended JSON; updates with a full `before`, some with an unchanged-TOAST
 * placeholder; a tombstone after every delete.
 */
export function encodeAll(
  changes: SourceChange[],
  router: TopicRouter,
  opts: { light?: boolean } = {},
): TestMessage[] {
  const out: TestMessage[] = [];
  const prior = new Map<string, CanonicalRow>();
  changes.forEach((c, i) => {
    const withSchema = opts.light ? i % 10 === 0 : i % 2 === 0;
    const decimalMode = withSchema
      ? (['precise', 'string', 'double'] as const)[i % 3]!
      : (['string', 'double'] as const)[i % 2]!;
    const msAligned = Object.entries(c.row).every(
      ([k, v]) => !/_at$/.test(k) || v === null || (v as number) % 1000 === 0,
    );
    const timestampMode = (
      i % 5 === 4 && msAligned ? 'millis' : i % 5 === 3 ? 'micros' : 'zoned'
    ) as EncodeOptions['timestampMode'];
    const entity = `${c.table}/${String(c.row.id ?? c.row.user_id ?? c.row._id)}`;
    const before = c.op === 'u' ? (prior.get(entity) ?? null) : null;
    const ev = encodeChange(c, {
      router,
      withSchema,
      decimalMode,
      timestampMode,
      extendedJson: i % 2 ? 'canonical' : 'relaxed',
      before,
    });
    let value = ev.value;
    if (
      c.table === 'users' &&
      c.op === 'u' &&
      before &&
      before.full_name === c.row.full_name &&
      i % 3 === 0
    ) {
      // REPLICA IDENTITY FULL + unchanged TOASTed column: the placeholder in `after`, the value in `before`.
      const v = JSON.parse(value!) as { payload?: { after: CanonicalRow }; after?: CanonicalRow };
      (v.payload ?? v).after!.full_name = TOAST_PLACEHOLDER;
      value = JSON.stringify(v);
    }
    out.push({
      topic: ev.topic,
      key: ev.key,
      value,
      headers:
        i % 7 === 0
          ? {
              traceparent: `00-${(i + 1).toString(16).padStart(32, 'a')}-${(i + 1).toString(16).padStart(16, 'b')}-01`,
            }
          : undefined,
    });
    if (c.op === 'd') {
      const t = encodeTombstone(c, { router, withSchema });
      out.push({ topic: t.topic, key: t.key, value: null });
      prior.delete(entity);
    } else {
      prior.set(entity, c.row);
    }
  });
  return out;
}

/** Messages that must land in the DLQ, with the reason each must carry. */
export function poisonMessages(
  router: TopicRouter,
  unknownTopic: string,
): Array<TestMessage & { reason: string }> {
  const users = router.topicFor('users');
  const products = router.topicFor('products');
  const ratings = router.topicFor('ratings');
  const good: SourceChange = {
    table: 'products',
    op: 'c',
    row: {
      id: 999_001,
      seller_id: null,
      sku: 'P',
      name: 'n',
      category: 'c',
      price: '1.00',
      active: true,
      created_at: null,
      updated_at: null,
    },
    commitTsUs: T0,
  };
  const ok = encodeChange(good, { router, withSchema: false, decimalMode: 'string' });
  const wrongTypes = JSON.parse(ok.value!) as { after: Record<string, unknown> };
  wrongTypes.after.price = true;
  wrongTypes.after.id = 'nine';
  const precise = encodeChange(good, { router, withSchema: false, decimalMode: 'precise' });
  const user: SourceChange = {
    table: 'users',
    op: 'u',
    row: {
      id: 999_002,
      email: 'p@example.org',
      full_name: 'P',
      city: 'X',
      created_at: null,
      updated_at: null,
    },
    commitTsUs: T0,
  };
  const toast = JSON.parse(encodeChange(user, { router, withSchema: false }).value!) as {
    after: Record<string, unknown>;
  };
  toast.after.full_name = TOAST_PLACEHOLDER;
  const rating: SourceChange = {
    table: 'ratings',
    op: 'u',
    row: { _id: oid(999_003), user_id: 1, product_id: 1, stars: 2, comment: null, ts: T0 },
    commitTsUs: T0,
  };
  const noAfter = JSON.parse(encodeChange(rating, { router, withSchema: false }).value!) as Record<
    string,
    unknown
  >;
  delete noAfter.after;
  return [
    {
      topic: users,
      key: '{"id":1}',
      value: '{"before": null, "after": {"id": 1, "email": ',
      reason: 'malformed-json',
    },
    {
      topic: unknownTopic,
      key: '{"id":1}',
      value: JSON.stringify({
        before: null,
        after: { id: 1, code: 'X' },
        source: { ts_ms: 1, table: 'coupons' },
        op: 'c',
      }),
      reason: 'unknown-table',
    },
    { topic: products, key: ok.key, value: JSON.stringify(wrongTypes), reason: 'type-mismatch' },
    { topic: products, key: precise.key, value: precise.value, reason: 'precise-decimal-without-schema' },
    { topic: users, key: '{"id":999002}', value: JSON.stringify(toast), reason: 'toast-unavailable' },
    {
      topic: ratings,
      key: JSON.stringify({ id: JSON.stringify({ $oid: oid(999_003) }) }),
      value: JSON.stringify(noAfter),
      reason: 'mongo-update-without-after',
    },
    { topic: users, key: null, value: '{"hello":"world"}', reason: 'not-an-envelope' },
  ];
}

// ------------------------------------------------------------------------ Kafka

export function testKafka(brokers: readonly string[] = stack.kafkaBrokers): Kafka {
  return new Kafka({
    clientId: 'stream-test',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

export async function createTopics(kafka: Kafka, topics: string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsReady(
      admin,
      topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    );
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
    // Consumer groups of the test go with their topics' offsets; nothing else to clean.
  } catch {
    // best effort
  } finally {
    await admin.disconnect();
  }
}

/** Produces messages in order (per key → one partition, so per-entity order holds). */
export async function produce(kafka: Kafka, messages: TestMessage[], chunk = 2000): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      const byTopic = new Map<string, Message[]>();
      for (const m of messages.slice(i, i + chunk)) {
        let list = byTopic.get(m.topic);
        if (!list) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value, headers: m.headers });
      }
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
        acks: -1,
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Reads a whole topic (e.g. the DLQ) from the beginning. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<Array<{ key: string | null; value: string | null; headers: Record<string, string> }>> {
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}` });
  const out: Array<{ key: string | null; value: string | null; headers: Record<string, string> }> = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    const check = () => out.length >= expected && resolve();
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
        check();
      },
    });
  });
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  await new Promise((r) => setTimeout(r, 500)); // anything beyond `expected` shows up too
  await consumer.disconnect();
  return out;
}

// ------------------------------------------------------------------------ vault

export async function createVault(ns: TestNamespace): Promise<Warehouse> {
  const wh = await openWarehouse(stack.clickhouseUrl, { retries: 2 });
  await migrate(wh, { dbs: ns.dbs });
  return wh;
}

export async function dropVault(wh: Warehouse, ns: TestNamespace): Promise<void> {
  for (const db of [ns.dbs.mart, ns.dbs.vault, ns.dbs.ops]) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
}

type Normalized = Record<string, string | null>;

function norm(row: Record<string, unknown>, columns: string[]): Normalized {
  const out: Normalized = {};
  for (const c of columns) {
    const v = row[c];
    out[c] =
      v === null || v === undefined
        ? null
        : typeof v === 'number' || /^-?\d+(\.\d+)?$/.test(String(v))
          ? String(Number(v))
          : String(v);
  }
  return out;
}

const key = (r: Normalized) => JSON.stringify(r);

/** Columns compared: everything but load_ts (the only column that depends on when a row was loaded). */
function comparedColumns(table: (typeof VAULT_TABLES)[number]): string[] {
  return table.columns.map((c) => c.name).filter((c) => c !== 'load_ts');
}

/**
 * What the vault must contain after loading `changes` any number of times, in any batching: the
 * shared mapping's rows, collapsed like the tables collapse them (hubs/links: one row per hash key,
 * the earliest sighting; satellites: one row per key and effective time).
 */
export function expectedVault(changes: SourceChange[]): Map<string, Normalized[]> {
  const rs = mapChanges(changes, { piiSalt: SALT, loadTs: new Date(0) });
  const out = new Map<string, Normalized[]>();
  for (const t of VAULT_TABLES) {
    const cols = comparedColumns(t);
    const byKey = new Map<string, Record<string, unknown>>();
    for (const r of rs.get(t.name) ?? []) {
      const k = t.orderBy.map((c) => String(r[c])).join('\u0000');
      const prev = byKey.get(k);
      if (!prev || Number(r[t.versionColumn]) >= Number(prev[t.versionColumn])) byKey.set(k, r);
    }
    const rows = [...byKey.values()].map((r) => {
      const n = norm(r, cols);
      for (const c of t.columns)
        if (cols.includes(c.name) && c.type.includes('DateTime') && n[c.name] !== null)
          n[c.name] = String(Number(r[c.name]));
      return n;
    });
    out.set(
      t.name,
      rows.sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    );
  }
  return out;
}

/** The vault as readers see it (FINAL), normalized like expectedVault. */
export async function readVault(wh: Warehouse, dbs: VaultDatabases): Promise<Map<string, Normalized[]>> {
  const out = new Map<string, Normalized[]>();
  for (const t of VAULT_TABLES) {
    const cols = comparedColumns(t);
    const select = t.columns
      .filter((c) => cols.includes(c.name))
      .map((c) => (c.type.includes('DateTime') ? `toUInt32(${c.name}) AS ${c.name}` : c.name))
      .join(', ');
    const rows = await wh.query<Record<string, unknown>>(
      `SELECT ${select} FROM ${dbs.vault}.${t.name} FINAL`,
    );
    out.set(
      t.name,
      rows.map((r) => norm(r, cols)).sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    );
  }
  return out;
}

/** Row counts per table without FINAL minus with FINAL: duplicates not yet merged away. */
export async function countRows(
  wh: Warehouse,
  dbs: VaultDatabases,
  final: boolean,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of VAULT_TABLES) {
    const r = await wh.query<{ n: string }>(
      `SELECT count() AS n FROM ${dbs.vault}.${t.name}${final ? ' FINAL' : ''}`,
    );
    out[t.name] = Number(r[0]?.n ?? 0);
  }
  return out;
}

// ------------------------------------------------------------------------ the CLI as a child

export interface StreamChild {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built CLI (`npm run build` first) as its own process, like an operator would. */
export function spawnStream(args: string[], env: Record<string, string | undefined> = {}): StreamChild {
  const proc = spawn(process.execPath, [`${REPO_ROOT}bin/run.js`, 'stream', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

export function streamArgs(
  ns: TestNamespace,
  extra: string[] = [],
  opts: { clickhouseUrl?: string; brokers?: string } = {},
): string[] {
  return [
    '--kafka-brokers',
    opts.brokers ?? stack.kafkaBrokers.join(','),
    '--clickhouse-url',
    opts.clickhouseUrl ?? stack.clickhouseUrl,
    '--postgres-topic-prefix',
    ns.router.prefixes.postgres,
    '--mongo-topic-prefix',
    ns.router.prefixes.mongo,
    '--group',
    ns.group,
    '--dlq-topic',
    ns.dlqTopic,
    '--db-suffix',
    ns.suffix,
    ...extra,
  ];
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// ------------------------------------------------------------------------ a TCP proxy we can cut

/** A loopback TCP proxy to `target`; `cut()` refuses and drops connections until `restore()`. */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      upstream.connect(this.targetPort, this.targetHost, () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Stops accepting (connection refused) and drops every open connection. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async restore(): Promise<void> {
    await this.start(this.port);
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** Peak RSS of a process in MB, sampled from /proc while `until` is pending. */
export function sampleRss(pid: number): { peakMb: () => number; samples: number[]; stop: () => void } {
  const samples: number[] = [];
  const t = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) samples.push(Number(m[1]) / 1024);
    } catch {
      // exited
    }
  }, 250);
  return { peakMb: () => Math.max(0, ...samples), samples, stop: () => clearInterval(t) };
}

/** Sum of a consumer group's committed offsets over the topics (what it has confirmed so far). */
export async function committedTotal(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId, topics });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Sum of one metric's samples on a `stream --metrics-port` endpoint. */
export async function metricSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return parsePrometheusText(text)
    .filter((sample) => sample.name === name)
    .reduce((n, sample) => n + sample.value, 0);
}
