import { posix, relative, resolve } from 'node:path';
import type { Dialect } from '../warehouse/dialect.js';
import type { Settings } from '../warehouse/types.js';
import { UsageError } from '../errors/index.js';
import { hashKeySql, hashdiffOfSql, piiSql, type TypedExpr } from '../vault/sql.js';
import { pathsGlob, sqlIdent, sqlString, sqlStringList } from '../warehouse/quote.js';
import {
  FEEDS,
  HUBS,
  LINKS,
  SATELLITES,
  type ColumnSpec,
  type FeedTarget,
  type ValueRef,
} from '../vault/model.js';
import { META, VER_BASE, satelliteParent, type VaultDatabases } from '../vault/tables.js';
import type { SourceTable } from '../vault/types.js';
import { LAKE_SCHEMAS, type LakeType } from '../lake/schema.js';
import { parseS3Uri, type LakeIO } from '../lake/io.js';
import type { LakeScanPlan } from '../lake/index.js';
import { stagingName } from './vaultsql.js';
import { vaultTable } from '../vault/tables.js';

/**
 * Pull mode: ClickHouse reads the lake itself (icebergS3 / s3 / icebergLocal / file, or the
 * …Cluster variants) and computes the vault rows with SQL generated from the same declarative
 * model (vault/model.ts FEEDS) and the same hashing spec (vault/sql.ts) as the TypeScript mapping,
 * so both modes produce identical rows. Each lake table is scanned once into a Memory table of
 * canonical columns; every hub, link and satellite target is then an INSERT … SELECT from it.
 *
 * No secret is ever part of the SQL text (which servers keep in system.query_log,
 * system.processes and their logs): the PII salt reaches the server as the data of an INSERT
 * into a per-day Memory table in ops (insert data is never logged) and the SQL reads it with a
 * scalar subquery; S3 credentials come from a named collection on the server, or from the
 * engine's own credentials (a server's configuration or environment; for embedded chDB the
 * AWS_* variables of this process). Query parameters would not do: servers log the query with
 * the parameters substituted.
 */

export interface PullContext {
  dbs: VaultDatabases;
  dialect: Dialect;
  /** An SQL expression that yields the PII salt on the server (see saltKeyTable), never the salt. */
  saltSql: string;
  loadSec: number;
  /** Run the …Cluster table functions on this cluster. */
  cluster?: string | undefined;
  s3?: PullS3 | undefined;
  /** Working directory of an embedded engine (chDB reads local files only below it). */
  cwd?: string;
}

/** How the ClickHouse that reads the lake reaches S3. No credentials: they stay on the server. */
export interface PullS3 {
  /** The S3 endpoint as the server sees it (path style). */
  endpoint: string;
  /**
   * A named collection on the server holding access_key_id and secret_access_key. Without it the
   * engine signs with its own credentials (server config or environment; chDB: this process's).
   */
  namedCollection?: string | undefined;
}

/** The Memory table that holds one day's PII salt while its pull runs (dropped with the staging tables). */
export function saltKeyTable(
  dbs: VaultDatabases,
  partition: number,
): { name: string; ddl: string[]; sql: string } {
  const name = `${dbs.ops}.backfill_${partition}_key`;
  return {
    name,
    ddl: [`DROP TABLE IF EXISTS ${name}`, `CREATE TABLE ${name} (salt String) ENGINE = Memory`],
    sql: `(SELECT any(salt) FROM ${name})`,
  };
}

export interface LakeSource {
  /** Table function call. */
  from: string;
  settings: Settings;
  /** A predicate the scan must add (the exact files behind a glob). */
  where?: string;
}

function s3Url(endpoint: string, uri: string): string {
  const { bucket, key } = parseS3Uri(uri);
  return `${endpoint.replace(/\/+$/, '')}/${bucket}/${key}`;
}

/** The table function that reads a planned lake table (pinned to the planned snapshot). */
export function lakeSource(io: LakeIO, plan: LakeScanPlan, ctx: PullContext): LakeSource {
  const cluster = ctx.cluster ? `${sqlString(ctx.cluster)}, ` : '';
  // s3(url, format) / s3(collection, url = …, format = …): the server signs the requests itself.
  const s3Args = (url: string, format?: string) => {
    const nc = ctx.s3?.namedCollection;
    if (nc)
      return `${sqlIdent(nc)}, url = ${sqlString(url)}${format ? `, format = ${sqlString(format)}` : ''}`;
    return `${sqlString(url)}${format ? `, ${sqlString(format)}` : ''}`;
  };
  if (plan.format === 'iceberg') {
    const settings: Settings = plan.snapshotId ? { iceberg_snapshot_id: plan.snapshotId } : {};
    // A catalog table: the metadata the catalog calls current, not the highest version listed.
    const pin = plan.metadataPath
      ? `, SETTINGS iceberg_metadata_file_path = ${sqlString(plan.metadataPath)}`
      : '';
    if (io.kind === 's3') {
      if (!ctx.s3)
        throw new UsageError('Pull mode over S3 needs the S3 endpoint and credentials for ClickHouse.', {
          hint: 'Set SHOPDATA_S3_ENDPOINT (and --s3-collection for a ClickHouse server), or use --mode push.',
        });
      const fn = ctx.cluster ? 'icebergS3Cluster' : 'icebergS3';
      return {
        from: `${fn}(${cluster}${s3Args(s3Url(ctx.s3.endpoint, plan.tableUri) + '/')}${pin})`,
        settings,
      };
    }
    const fn = ctx.cluster ? 'icebergLocalCluster' : 'icebergLocal';
    return { from: `${fn}(${cluster}${sqlString(localPath(plan.tableUri, ctx))}${pin})`, settings };
  }
  // Lake file names are data: a name holding a glob character (`b}.parquet`) is matched by `?`
  // in the glob, and the `_path` filter keeps exactly the planned files.
  const names = plan.files.map((f) => f.uri.slice(plan.tableUri.length + 1));
  if (io.kind === 's3') {
    if (!ctx.s3)
      throw new UsageError('Pull mode over S3 needs the S3 endpoint and credentials for ClickHouse.', {
        hint: 'Set SHOPDATA_S3_ENDPOINT (and --s3-collection for a ClickHouse server), or use --mode push.',
      });
    const fn = ctx.cluster ? 's3Cluster' : 's3';
    const base = s3Url(ctx.s3.endpoint, plan.tableUri);
    const { bucket, key } = parseS3Uri(plan.tableUri);
    return {
      from: `${fn}(${cluster}${s3Args(pathsGlob(names.map((n) => `${base}/${n}`)), 'Parquet')})`,
      settings: {},
      // s3's _path is `bucket/key`
      where: `_path IN (${sqlStringList(names.map((n) => `${bucket}/${key ? `${key}/` : ''}${n}`))})`,
    };
  }
  const dir = localPath(plan.tableUri, ctx);
  const paths = names.map((n) => posix.join(dir, n));
  return {
    from: `file(${sqlString(pathsGlob(paths))}, 'Parquet')`,
    settings: {},
    // file's _path is absolute
    where: `_path IN (${sqlStringList(paths.map((p) => resolve(ctx.cwd ?? process.cwd(), p)))})`,
  };
}

/** chDB reads local files only below its working directory: pass a relative path. */
function localPath(path: string, ctx: PullContext): string {
  const rel = relative(ctx.cwd ?? process.cwd(), path);
  if (rel.startsWith('..')) {
    throw new UsageError(
      `Pull mode cannot read the local lake ${path}: the embedded ClickHouse only reads below its working directory.`,
      {
        hint: 'Run from a directory that contains the lake, or use --mode push.',
      },
    );
  }
  return rel || '.';
}

// ---------------------------------------------------------------------------------------------
// Canonical source table

export function srcTableName(dbs: VaultDatabases, table: SourceTable, partition: number): string {
  return `${dbs.ops}.backfill_${partition}_src_${table}`;
}

function canonicalType(t: LakeType): string {
  switch (t.kind) {
    case 'long':
    case 'timestamptz':
      return 'Nullable(Int64)';
    case 'int':
      return 'Nullable(Int32)';
    case 'string':
      return 'Nullable(String)';
    case 'boolean':
      return 'Nullable(UInt8)';
    case 'decimal':
      return `Nullable(Decimal(${t.precision}, ${t.scale}))`;
    case 'list':
      return `Array(Tuple(${t.element.fields.map((f) => `${f.name} ${canonicalType(f.type)}`).join(', ')}))`;
  }
}

function canonicalExpr(name: string, t: LakeType): string {
  if (t.kind === 'timestamptz') return `toUnixTimestamp64Micro(${name})`;
  return `CAST(${name} AS ${canonicalType(t)})`;
}

/** DDL + INSERT that scan one lake table once into a Memory table of canonical columns for the day. */
export function srcTableSql(
  table: SourceTable,
  partition: number,
  day: string,
  next: string,
  source: LakeSource,
  ctx: PullContext,
): { ddl: string[]; insert: string; settings: Settings } {
  const schema = LAKE_SCHEMAS[table];
  const data = schema.fields.filter((f) => !f.name.startsWith('__'));
  const name = srcTableName(ctx.dbs, table, partition);
  const columns = [...data.map((f) => `${f.name} ${canonicalType(f.type)}`), 'op_ String', 'ts_us_ Int64'];
  const select = [
    ...data.map((f) => `${canonicalExpr(f.name, f.type)} AS ${f.name}`),
    `if(ifNull(CAST(__deleted AS Nullable(UInt8)), 0) = 1, 'd', assumeNotNull(__op)) AS op_`,
    `toUnixTimestamp64Micro(assumeNotNull(__ts)) AS ts_us_`,
  ];
  return {
    ddl: [`DROP TABLE IF EXISTS ${name}`, `CREATE TABLE ${name} (${columns.join(', ')}) ENGINE = Memory`],
    insert:
      `INSERT INTO ${name} SELECT ${select.join(', ')} FROM ${source.from} ` +
      `WHERE __ts >= toDateTime64(${sqlString(`${day} 00:00:00`)}, 6, 'UTC') AND __ts < toDateTime64(${sqlString(`${next} 00:00:00`)}, 6, 'UTC')` +
      (source.where ? ` AND ${source.where}` : ''),
    settings: { ...source.settings, input_format_parquet_allow_missing_columns: 1 },
  };
}

// ---------------------------------------------------------------------------------------------
// Targets → INSERT … SELECT

interface Scope {
  /** SQL for a row column. */
  col(name: string): string;
  item(name: string): string | undefined;
  itemNo: string | undefined;
}

function refSql(ref: ValueRef, target: ColumnSpec | undefined, scope: Scope, ctx: PullContext): string {
  if ('col' in ref) return scope.col(ref.col);
  if ('item' in ref) return scope.item(ref.item) ?? 'NULL';
  if ('itemNo' in ref) return scope.itemNo ?? 'NULL';
  if ('const' in ref) return typeof ref.const === 'number' ? String(ref.const) : sqlString(ref.const);
  if ('pii' in ref) return piiSql(scope.col(ref.pii), ctx.saltSql, ref.normalise);
  const arr = 'count' in ref ? ref.count : ref.sum;
  // The lake cannot tell a null list from an empty one; the mapping's null list is a delete's.
  const guard = (e: string) => `if(op_ = 'd' AND empty(${scope.col(arr)}), NULL, ${e})`;
  if ('count' in ref) return guard(`length(${scope.col(arr)})`);
  const [a, b] = ref.of;
  const scale = target?.kind === 'decimal' ? (target.scale ?? 0) : 0;
  const el = (f: string) => `tupleElement(x, ${sqlString(f)})`;
  if (b === undefined) {
    const term = scale > 0 ? `toDecimal128(ifNull(${el(a)}, 0), ${scale})` : `toInt64(ifNull(${el(a)}, 0))`;
    return guard(`arraySum(x -> ${term}, ${scope.col(arr)})`);
  }
  return guard(
    `arraySum(x -> toDecimal128(ifNull(${el(a)}, 0), 0) * toDecimal128(ifNull(${el(b)}, 0), ${scale}), ${scope.col(arr)})`,
  );
}

function keySpecs(target: FeedTarget): ColumnSpec[] {
  if ('hub' in target) return [...HUBS[target.hub].businessKey];
  if ('link' in target) {
    const l = LINKS[target.link];
    return [...l.hubs.flatMap((h) => [...HUBS[h].businessKey]), ...l.childKey];
  }
  const p = satelliteParent(target.sat);
  if (p.kind === 'hub') return [...HUBS[p.name as keyof typeof HUBS].businessKey];
  const l = LINKS[p.name as keyof typeof LINKS];
  return [...l.hubs.flatMap((h) => [...HUBS[h].businessKey]), ...l.childKey];
}

const typed = (expr: string, chType: string) => `CAST(${expr} AS Nullable(${chType}))`;

function textExpr(expr: string, spec: ColumnSpec): TypedExpr {
  if (spec.kind === 'string' || spec.kind === 'pii')
    return { expr: `CAST(${expr} AS Nullable(String))`, spec };
  return { expr: typed(expr, spec.chType), spec };
}

/** One INSERT … SELECT per feed target of a source table, reading its canonical src table. */
export function targetInserts(table: SourceTable, partition: number, ctx: PullContext): string[] {
  const feed = FEEDS[table];
  const src = srcTableName(ctx.dbs, table, partition);
  const out: string[] = [];
  const plainScope: Scope = { col: (n) => n, item: () => undefined, itemNo: undefined };
  const itemScope: Scope = {
    col: (n) => n,
    item: (n) => `tupleElement(it_, ${sqlString(n)})`,
    itemNo: 'item_no_',
  };
  const emit = (target: FeedTarget, scope: Scope, from: string) => {
    const specs = keySpecs(target);
    const keyExprs = target.key.map((r) => refSql(r, undefined, scope, ctx));
    const keyParts = keyExprs.map((e, i) => ({ expr: e, spec: specs[i]! }));
    const notNull = keyExprs.map((e) => `${e} IS NOT NULL`).join(' AND ');
    const rs = sqlString(feed.recordSource);
    const load = `toDateTime(${ctx.loadSec}, 'UTC')`;
    if ('hub' in target || 'link' in target) {
      const t = vaultTable('hub' in target ? HUBS[target.hub].table : LINKS[target.link].table);
      const cols: string[] = [];
      const inner: string[] = [`${hashKeySql(keyParts, ctx.dialect)} AS hk_`, 'ts_us_'];
      if ('hub' in target) {
        HUBS[target.hub].businessKey.forEach((c, i) => {
          // k_ prefix: an alias named like a source column would shadow it in WHERE.
          inner.push(`CAST(assumeNotNull(${keyExprs[i]}) AS ${c.chType}) AS k_${c.name}`);
          cols.push(c.name);
        });
      } else {
        const l = LINKS[target.link];
        let off = 0;
        for (const h of l.hubs) {
          const n = HUBS[h].businessKey.length;
          inner.push(`${hashKeySql(keyParts.slice(off, off + n), ctx.dialect)} AS k_${HUBS[h].hk}`);
          cols.push(HUBS[h].hk);
          off += n;
        }
        l.childKey.forEach((c, i) => {
          inner.push(`CAST(assumeNotNull(${keyExprs[off + i]}) AS ${c.chType}) AS k_${c.name}`);
          cols.push(c.name);
        });
      }
      out.push(
        `INSERT INTO ${stagingName(ctx.dbs, t, partition)} (${t.hashKey}, ${cols.join(', ')}, ${META.firstSeenUs}, ${META.ver}, ${META.loadTs}, ${META.recordSource}) ` +
          // One row per sighting, no GROUP BY: the staging table's version column (earliest
          // sighting wins) and FINAL in the new-keys step collapse them, as for push batches.
          `SELECT hk_, ${cols.map((c) => `k_${c}`).join(', ')}, toUInt64(ts_us_), toUInt64(${VER_BASE}) - toUInt64(ts_us_), ${load}, ${rs} ` +
          `FROM (SELECT ${inner.join(', ')} FROM ${from} WHERE ${notNull})`,
      );
      return;
    }
    const sat = SATELLITES[target.sat];
    const t = vaultTable(sat.table);
    const parent = satelliteParent(target.sat);
    const cols = [parent.hk];
    const vals = [hashKeySql(keyParts, ctx.dialect)];
    for (const c of sat.childKey) {
      const ref = target.childKey?.[c.name];
      cols.push(c.name);
      vals.push(`ifNull(CAST(${ref ? refSql(ref, c, scope, ctx) : 'NULL'} AS Nullable(${c.chType})), '')`);
    }
    const attrExprs = sat.attributes.map((a) => {
      const ref = target.attributes[a.name];
      return { spec: a as ColumnSpec, expr: ref ? refSql(ref, a, scope, ctx) : 'NULL' };
    });
    cols.push(META.effectiveUs, META.effectiveTs, META.hashdiff, META.isDeleted);
    vals.push(
      'toUInt64(ts_us_)',
      `toDateTime(intDiv(ts_us_, 1000000), 'UTC')`,
      hashdiffOfSql(
        attrExprs.map((a) => textExpr(a.expr, a.spec)),
        ctx.dialect,
      ),
      `toUInt8(op_ = 'd')`,
    );
    for (const a of attrExprs) {
      cols.push(a.spec.name);
      vals.push(typed(a.expr, a.spec.chType));
    }
    cols.push(META.loadTs, META.recordSource);
    vals.push(load, rs);
    out.push(
      `INSERT INTO ${stagingName(ctx.dbs, t, partition)} (${cols.join(', ')}) SELECT ${vals.join(', ')} FROM ${from} WHERE ${notNull}`,
    );
  };
  for (const target of feed.targets) emit(target, plainScope, src);
  if (feed.explode) {
    const arr = feed.explode.field;
    const from = `${src} ARRAY JOIN ${arr} AS it_, arrayEnumerate(${arr}) AS item_no_`;
    for (const target of feed.explode.targets) emit(target, itemScope, from);
  }
  return out;
}

/** Satellite rows the lake rows must produce per vault table (one per change, or per item). */
export function expectedSatRowsSql(
  table: SourceTable,
  partition: number,
  dbs: VaultDatabases,
): { satTable: string; sql: string }[] {
  const feed = FEEDS[table];
  const src = srcTableName(dbs, table, partition);
  const out: { satTable: string; sql: string }[] = [];
  for (const t of feed.targets)
    if ('sat' in t) out.push({ satTable: SATELLITES[t.sat].table, sql: `SELECT count() AS n FROM ${src}` });
  for (const t of feed.explode?.targets ?? []) {
    if ('sat' in t)
      out.push({
        satTable: SATELLITES[t.sat].table,
        sql: `SELECT toUInt64(sum(length(${feed.explode!.field}))) AS n FROM ${src}`,
      });
  }
  return out;
}
