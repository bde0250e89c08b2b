import {
  Decimal128,
  Double,
  Int32,
  Long,
  MongoBulkWriteError,
  MongoClient,
  ObjectId,
  type Db,
  type Document,
} from 'mongodb';
import type { CanonicalRow, SourceChange } from '../vault/types.js';
import { ConfigError, DependencyUnavailableError } from '../errors/index.js';
import { maskUrl } from '../config/index.js';
import { MONGO_TABLES, type MongoTable } from './rows.js';
import { US_PER_MS } from './values.js';

export const DEFAULT_MONGO_DATABASE = 'shop_events';

/**
 * How `items.unit_price` is stored. MongoDB: Decimal128 (docs/CONTRACT.md §4). FerretDB v1.24 cannot
 * store Decimal128 (it drops the connection: "invalid BSON type bsonproto.Decimal128"), so there it
 * is the exact decimal string "12.50" — never a double, which would lose cents.
 */
export type DecimalMode = 'decimal128' | 'string';

/** The database named in the URL path, else shop_events. */
export function mongoDatabaseFromUrl(url: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : DEFAULT_MONGO_DATABASE;
}

/** Canonical row → the MongoDB document of docs/CONTRACT.md §4 (long ids, int qty, Date ts). */
export function toMongoDocument(table: MongoTable, row: CanonicalRow, decimals: DecimalMode): Document {
  const ts = new Date(Math.floor((row.ts as number) / US_PER_MS));
  const id = new ObjectId(row._id as string);
  switch (table) {
    case 'purchases':
      return {
        _id: id,
        order_id: row.order_id,
        user_id: Long.fromNumber(row.user_id as number),
        items: (row.items as CanonicalRow[]).map((i) => ({
          product_id: Long.fromNumber(i.product_id as number),
          qty: new Int32(i.qty as number),
          unit_price:
            decimals === 'decimal128'
              ? Decimal128.fromString(i.unit_price as string)
              : (i.unit_price as string),
        })),
        ts,
      };
    case 'cancellations':
      return {
        _id: id,
        order_id: row.order_id,
        user_id: Long.fromNumber(row.user_id as number),
        reason: row.reason,
        ts,
      };
    case 'ratings': {
      const doc: Document = {
        _id: id,
        user_id: Long.fromNumber(row.user_id as number),
        product_id: Long.fromNumber(row.product_id as number),
        stars: new Int32(row.stars as number),
      };
      if (row.comment !== null && row.comment !== undefined) doc.comment = row.comment;
      doc.ts = ts;
      return doc;
    }
  }
}

/** A MongoDB document (as the driver returns it) → canonical row. */
export function fromMongoDocument(table: MongoTable, doc: Document): CanonicalRow {
  const num = (v: unknown): number =>
    v instanceof Long
      ? v.toNumber()
      : v instanceof Int32 || v instanceof Double
        ? v.value
        : typeof v === 'bigint'
          ? Number(v)
          : (v as number);
  const ts = (doc.ts as Date).getTime() * US_PER_MS;
  const id = doc._id instanceof ObjectId ? doc._id.toHexString() : String(doc._id);
  switch (table) {
    case 'purchases':
      return {
        _id: id,
        order_id: doc.order_id as string,
        user_id: num(doc.user_id),
        items: (doc.items as Document[]).map((i) => ({
          product_id: num(i.product_id),
          qty: num(i.qty),
          unit_price: canonicalDecimal(i.unit_price),
        })),
        ts,
      };
    case 'cancellations':
      return {
        _id: id,
        order_id: doc.order_id as string,
        user_id: num(doc.user_id),
        reason: doc.reason as string,
        ts,
      };
    case 'ratings':
      return {
        _id: id,
        user_id: num(doc.user_id),
        product_id: num(doc.product_id),
        stars: num(doc.stars),
        comment: (doc.comment as string | undefined) ?? null,
        ts,
      };
  }
}

function canonicalDecimal(v: unknown): string {
  const s = v instanceof Decimal128 ? v.toString() : String(v);
  const [int = '0', frac = ''] = s.split('.');
  return `${int}.${frac.padEnd(2, '0').slice(0, 2)}`;
}

/**
 * Inserts the MongoDB events (purchases, cancellations, ratings). Inserts are idempotent by `_id`:
 * replaying a batch after an interruption skips the documents that are already there.
 */
export class MongoSourceWriter {
  private constructor(
    private readonly client: MongoClient,
    readonly db: Db,
    readonly url: string,
    readonly decimals: DecimalMode,
    readonly server: string,
  ) {}

  static async connect(
    url: string,
    database?: string,
    opts: { serverSelectionTimeoutMS?: number } = {},
  ): Promise<MongoSourceWriter> {
    let client: MongoClient;
    try {
      client = new MongoClient(url, {
        serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 8000,
        connectTimeoutMS: 5000,
        appName: 'shopdata-seed',
      });
    } catch (err) {
      throw new ConfigError(`Invalid MongoDB URL ${maskUrl(url)}: ${(err as Error).message}`, {
        hint: 'Use mongodb://host:port/shop_events in SHOPDATA_MONGO_URL / --mongo-url.',
      });
    }
    try {
      // Server selection retries internally until serverSelectionTimeoutMS.
      await client.connect();
      const info = await client.db('admin').command({ buildInfo: 1 });
      const ferret = typeof info.ferretdbVersion === 'string' ? (info.ferretdbVersion as string) : undefined;
      const db = client.db(database ?? mongoDatabaseFromUrl(url));
      return new MongoSourceWriter(
        client,
        db,
        url,
        ferret ? 'string' : 'decimal128',
        ferret ? `FerretDB ${ferret}` : `MongoDB ${String(info.version)}`,
      );
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new DependencyUnavailableError(
        'mongodb',
        `MongoDB at ${maskUrl(url)} is unreachable: ${(err as Error).message}`,
        {
          hint: 'Start it (scripts/stack/up ferretdb) or fix SHOPDATA_MONGO_URL / --mongo-url.',
          cause: err,
        },
      );
    }
  }

  /** Inserts the batch's MongoDB events in order per collection; documents already there are skipped. */
  async insert(changes: readonly SourceChange[]): Promise<number> {
    const byCollection = new Map<MongoTable, Document[]>();
    for (const c of changes) {
      if (!(MONGO_TABLES as readonly string[]).includes(c.table)) continue;
      if (c.op === 'd' || c.op === 'u')
        throw new Error(`seed writes only MongoDB inserts, got ${c.op} on ${c.table}`);
      const table = c.table as MongoTable;
      let docs = byCollection.get(table);
      if (!docs) byCollection.set(table, (docs = []));
      docs.push(toMongoDocument(table, c.row, this.decimals));
    }
    let inserted = 0;
    for (const [table, docs] of byCollection) inserted += await this.insertDocuments(table, docs);
    return inserted;
  }

  async insertDocuments(table: MongoTable, docs: Document[]): Promise<number> {
    if (docs.length === 0) return 0;
    try {
      const r = await this.db.collection(table).insertMany(docs, { ordered: false });
      return r.insertedCount;
    } catch (err) {
      // A replayed batch: duplicate _id (11000) is the document we wrote before.
      if (err instanceof MongoBulkWriteError) {
        const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
        if (errors.length > 0 && errors.every((e) => e.code === 11000)) return err.insertedCount;
      }
      throw err;
    }
  }

  async counts(): Promise<Record<MongoTable, number>> {
    const out = {} as Record<MongoTable, number>;
    for (const t of MONGO_TABLES) out[t] = await this.db.collection(t).countDocuments();
    return out;
  }

  async truncate(): Promise<void> {
    for (const t of MONGO_TABLES) await this.db.collection(t).deleteMany({});
  }

  /** All documents of a collection in canonical form (tests, reconciliation). */
  async readCanonical(table: MongoTable, filter: Document = {}): Promise<CanonicalRow[]> {
    const docs = await this.db.collection(table).find(filter).toArray();
    return docs.map((d) => fromMongoDocument(table, d));
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}
