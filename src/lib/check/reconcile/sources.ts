import pg from 'pg';
import { MongoClient, type Document } from 'mongodb';
import { DependencyUnavailableError, ConfigError, isNetworkError } from '../../errors/index.js';
import { maskUrl } from '../../config/index.js';
import { PG_COLUMNS } from '../../shop/rows.js';
import type { SourceTable } from '../../vault/types.js';
import { dateOfEpochDay } from '../../values/index.js';
import type { CheckContext, MongoInput, PostgresInput } from '../types.js';
import { RECONCILE_SPECS, UNKNOWN_DAY, addCount, type DayCounts } from './spec.js';

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const isPg = (t: SourceTable) => t in PG_COLUMNS;

/** Live rows per day of the PostgreSQL tables, counted by PostgreSQL. */
export async function postgresCounts(input: PostgresInput, ctx: CheckContext): Promise<DayCounts> {
  const client = new pg.Client({
    connectionString: input.url,
    connectionTimeoutMillis: 8000,
    application_name: 'shopdata-check',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '28P01' || code === '28000' || code === '3D000') {
      throw new ConfigError(`PostgreSQL at ${maskUrl(input.url)}: ${(err as Error).message}`, {
        hint: 'Check SHOPDATA_POSTGRES_URL / --postgres-url (user, password, database shop).',
      });
    }
    throw new DependencyUnavailableError(
      'postgres',
      `PostgreSQL at ${maskUrl(input.url)} is unreachable: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Start it, fix SHOPDATA_POSTGRES_URL / --postgres-url, or leave it unset to skip reconcile-sources.',
      },
    );
  }
  try {
    const out: DayCounts = new Map();
    const s = quoteIdent(input.schema);
    const w = ctx.window;
    for (const spec of RECONCILE_SPECS.filter((x) => isPg(x.table))) {
      out.set(spec.table, new Map());
      const dayExpr =
        'column' in spec.day
          ? `t.${quoteIdent(spec.day.column)}`
          : `u.${quoteIdent(spec.day.viaUsers.column)}`;
      const join =
        'column' in spec.day
          ? ''
          : ` LEFT JOIN ${s}.users u ON u.id = t.${quoteIdent(spec.day.viaUsers.userKey)}`;
      const where = w ? ` WHERE ${dayExpr} >= to_timestamp($1) AND ${dayExpr} < to_timestamp($2)` : '';
      const r = await client.query<{ d: string | null; n: string }>(
        `SELECT floor(extract(epoch FROM ${dayExpr}) / 86400)::bigint::text AS d, count(*)::bigint::text AS n
         FROM ${s}.${quoteIdent(spec.table)} t${join}${where} GROUP BY 1`,
        w ? [w.startSec, w.endSec] : [],
      );
      for (const row of r.rows)
        addCount(out, spec.table, row.d === null ? UNKNOWN_DAY : dayText(Number(row.d)), Number(row.n));
    }
    return out;
  } catch (err) {
    if (isNetworkError(err)) {
      throw new DependencyUnavailableError(
        'postgres',
        `PostgreSQL at ${maskUrl(input.url)} went away: ${(err as Error).message}`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const dayText = dateOfEpochDay;

/** Live documents per day of `ts` of the MongoDB collections (MongoDB or FerretDB, wire protocol). */
export async function mongoCounts(input: MongoInput, ctx: CheckContext): Promise<DayCounts> {
  const client = new MongoClient(input.url, {
    serverSelectionTimeoutMS: 8000,
    connectTimeoutMS: 5000,
    appName: 'shopdata-check',
  });
  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new DependencyUnavailableError(
      'mongodb',
      `MongoDB at ${maskUrl(input.url)} is unreachable: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Start it, fix SHOPDATA_MONGO_URL / --mongo-url, or leave it unset to skip reconcile-sources.',
      },
    );
  }
  try {
    const db = client.db(input.database);
    const out: DayCounts = new Map();
    const w = ctx.window;
    for (const spec of RECONCILE_SPECS.filter((x) => !isPg(x.table))) {
      out.set(spec.table, new Map());
      if (!('column' in spec.day))
        throw new Error(`${spec.table}: a MongoDB collection needs its own day column`);
      const field = spec.day.column;
      const coll = db.collection(spec.table);
      if (w) {
        const n = await coll.countDocuments({
          [field]: { $gte: new Date(w.startSec * 1000), $lt: new Date(w.endSec * 1000) },
        });
        if (n > 0) addCount(out, spec.table, w.day, n);
        continue;
      }
      try {
        const rows = await coll
          .aggregate<{ _id: string | null; n: number }>([
            { $group: { _id: { $dateToString: { format: '%Y-%m-%d', date: `$${field}` } }, n: { $sum: 1 } } },
          ])
          .toArray();
        for (const r of rows) addCount(out, spec.table, r._id ?? UNKNOWN_DAY, Number(r.n));
      } catch {
        // FerretDB 1.x has no $dateToString: read only the day column and count here.
        out.set(spec.table, new Map());
        for await (const doc of coll.find(
          {},
          { projection: { [field]: 1, _id: 0 } },
        ) as AsyncIterable<Document>) {
          const v = doc[field] as unknown;
          addCount(out, spec.table, v instanceof Date ? v.toISOString().slice(0, 10) : UNKNOWN_DAY, 1);
        }
      }
    }
    return out;
  } catch (err) {
    if (
      isNetworkError(err) ||
      (err as Error).name === 'MongoServerSelectionError' ||
      (err as Error).name === 'MongoNetworkError'
    ) {
      throw new DependencyUnavailableError(
        'mongodb',
        `MongoDB at ${maskUrl(input.url)} went away: ${(err as Error).message}`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    await client.close().catch(() => undefined);
  }
}
