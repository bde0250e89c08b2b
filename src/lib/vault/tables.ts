import {
  HUBS,
  LINKS,
  SATELLITES,
  type ColumnSpec,
  type HubName,
  type LinkName,
  type SatelliteName,
} from './model.js';

/**
 * The physical vault: table list with kind, keys, partitioning and columns (derived from
 * model.ts), the database names, and the CREATE TABLE statements. Backfill, checks and the demo
 * read VAULT_TABLES instead of hard-coding table names.
 */

/** Database names; the contract fixes vault, mart, ops. Tests use suffixed names (`testDatabases`). */
export interface VaultDatabases {
  vault: string;
  mart: string;
  ops: string;
}
export const DEFAULT_DATABASES: Readonly<VaultDatabases> = Object.freeze({
  vault: 'vault',
  mart: 'mart',
  ops: 'ops',
});

/** `{ vault: 'vault_<suffix>', mart: 'mart_<suffix>', ops: 'ops_<suffix>' }` for one test's private warehouse. */
export function testDatabases(suffix: string): VaultDatabases {
  if (!/^[A-Za-z0-9_]+$/.test(suffix)) throw new Error(`database suffix "${suffix}" must be [A-Za-z0-9_]+`);
  return { vault: `vault_${suffix}`, mart: `mart_${suffix}`, ops: `ops_${suffix}` };
}

export type VaultTableKind = 'hub' | 'link' | 'satellite';
export type ColumnRole = 'hash_key' | 'business_key' | 'parent_key' | 'child_key' | 'attribute' | 'meta';

export interface VaultColumn {
  name: string;
  /** Full ClickHouse type, e.g. `Nullable(Decimal(12, 2))`. */
  type: string;
  role: ColumnRole;
  /** The model's column spec (kind, scale) for business keys, child keys and attributes. */
  spec?: ColumnSpec;
}

export interface VaultTable {
  /** Logical name, also the table name inside the vault database (`hub_user`). */
  name: string;
  kind: VaultTableKind;
  /** The hash-key column rows are keyed by (a satellite's is its parent's). */
  hashKey: string;
  /** Links: one entry per linked hub; satellites: the parent hub or link. */
  parents: { column: string; table: string }[];
  /** Partition expression (satellites: the source commit day) or null. */
  partitionBy: string | null;
  orderBy: string[];
  /** ReplacingMergeTree version column. */
  versionColumn: string;
  columns: VaultColumn[];
}

const HK_TYPE = 'FixedString(32)';
export const META = {
  /** Hubs and links: the earliest source commit time the key was seen at (µs). */
  firstSeenUs: 'first_seen_us',
  /** Hubs and links: ReplacingMergeTree version (keyVersion); larger = seen first, so the first sighting stays. */
  ver: 'ver',
  /** Satellites: source commit time (µs) and the same in seconds (partition key). */
  effectiveUs: 'effective_us',
  effectiveTs: 'effective_ts',
  hashdiff: 'hashdiff',
  isDeleted: 'is_deleted',
  loadTs: 'load_ts',
  recordSource: 'record_source',
} as const;

/** Hub and link versions count down from here: an earlier first sighting has a larger version. */
export const VER_BASE = Number.MAX_SAFE_INTEGER;
/** Room for this many record-source ranks in the low digits of a version (model.ts recordSourceRank). */
export const VER_RANK_SLOTS = 16;

/**
 * The ReplacingMergeTree version of a hub or link row: `(VER_BASE − first_seen_us) × 16 + (15 −
 * rank)`. The earliest sighting wins; at equal commit times the record source of lower rank wins,
 * so the surviving row depends only on source data, never on arrival order. Up to 2^57: sent as
 * a decimal string (JSON numbers stop being exact at 2^53; ClickHouse reads quoted UInt64).
 */
export function keyVersion(firstSeenUs: number, rank: number): string {
  if (!Number.isInteger(rank) || rank < 0 || rank >= VER_RANK_SLOTS)
    throw new Error(`record source rank ${rank} is outside 0..${VER_RANK_SLOTS - 1}`);
  const v =
    (BigInt(VER_BASE) - BigInt(firstSeenUs)) * BigInt(VER_RANK_SLOTS) + BigInt(VER_RANK_SLOTS - 1 - rank);
  return v.toString();
}

/** keyVersion in ClickHouse SQL over an Int64/UInt64 expression of the first sighting (µs). */
export function keyVersionSql(firstSeenUsExpr: string, rank: number): string {
  keyVersion(0, rank);
  return `(toUInt64(${VER_BASE}) - toUInt64(${firstSeenUsExpr})) * ${VER_RANK_SLOTS} + ${VER_RANK_SLOTS - 1 - rank}`;
}

/** Versions of rows written before the rank tie-break (migration 003 rewrites them): at most VER_BASE. */
export const LEGACY_VER_MAX = VER_BASE;
export const SATELLITE_PARTITION = `toYYYYMMDD(${META.effectiveTs})`;

function modelColumn(spec: ColumnSpec, role: ColumnRole, nullable: boolean): VaultColumn {
  return { name: spec.name, type: nullable ? `Nullable(${spec.chType})` : spec.chType, role, spec };
}

const meta = (name: string, type: string): VaultColumn => ({ name, type, role: 'meta' });

function hubTable(name: HubName): VaultTable {
  const h = HUBS[name];
  return {
    name: h.table,
    kind: 'hub',
    hashKey: h.hk,
    parents: [],
    partitionBy: null,
    orderBy: [h.hk],
    versionColumn: META.ver,
    columns: [
      { name: h.hk, type: HK_TYPE, role: 'hash_key' },
      ...h.businessKey.map((c) => modelColumn(c, 'business_key', false)),
      meta(META.firstSeenUs, 'UInt64'),
      meta(META.ver, 'UInt64'),
      meta(META.loadTs, "DateTime('UTC')"),
      meta(META.recordSource, 'String'),
    ],
  };
}

function linkTable(name: LinkName): VaultTable {
  const l = LINKS[name];
  const hubCols = l.hubs.map((hub) => ({ column: HUBS[hub].hk, table: HUBS[hub].table }));
  return {
    name: l.table,
    kind: 'link',
    hashKey: l.hk,
    parents: hubCols,
    partitionBy: null,
    orderBy: [l.hk],
    versionColumn: META.ver,
    columns: [
      { name: l.hk, type: HK_TYPE, role: 'hash_key' },
      ...hubCols.map((p) => ({ name: p.column, type: HK_TYPE, role: 'parent_key' as const })),
      ...l.childKey.map((c) => modelColumn(c, 'child_key', false)),
      meta(META.firstSeenUs, 'UInt64'),
      meta(META.ver, 'UInt64'),
      meta(META.loadTs, "DateTime('UTC')"),
      meta(META.recordSource, 'String'),
    ],
  };
}

/** The parent (hub or link) of a satellite: its table and hash-key column. */
export function satelliteParent(name: SatelliteName): {
  table: string;
  hk: string;
  kind: 'hub' | 'link';
  name: HubName | LinkName;
} {
  const p = SATELLITES[name].parent;
  if ('hub' in p) return { table: HUBS[p.hub].table, hk: HUBS[p.hub].hk, kind: 'hub', name: p.hub };
  return { table: LINKS[p.link].table, hk: LINKS[p.link].hk, kind: 'link', name: p.link };
}

function satelliteTable(name: SatelliteName): VaultTable {
  const s = SATELLITES[name];
  const parent = satelliteParent(name);
  return {
    name: s.table,
    kind: 'satellite',
    hashKey: parent.hk,
    parents: [{ column: parent.hk, table: parent.table }],
    partitionBy: SATELLITE_PARTITION,
    orderBy: [parent.hk, ...s.childKey.map((c) => c.name), META.effectiveUs],
    versionColumn: META.isDeleted,
    columns: [
      { name: parent.hk, type: HK_TYPE, role: 'parent_key' },
      ...s.childKey.map((c) => modelColumn(c, 'child_key', false)),
      meta(META.effectiveUs, 'UInt64'),
      meta(META.effectiveTs, "DateTime('UTC')"),
      meta(META.hashdiff, HK_TYPE),
      meta(META.isDeleted, 'UInt8'),
      ...s.attributes.map((c) => modelColumn(c, 'attribute', true)),
      meta(META.loadTs, "DateTime('UTC')"),
      meta(META.recordSource, 'String'),
    ],
  };
}

/** Every vault table: hubs, then links, then satellites (the insert order). */
export const VAULT_TABLES: readonly VaultTable[] = [
  ...(Object.keys(HUBS) as HubName[]).map(hubTable),
  ...(Object.keys(LINKS) as LinkName[]).map(linkTable),
  ...(Object.keys(SATELLITES) as SatelliteName[]).map(satelliteTable),
];

const BY_NAME = new Map(VAULT_TABLES.map((t) => [t.name, t]));

export function vaultTable(name: string): VaultTable {
  const t = BY_NAME.get(name);
  if (!t) throw new Error(`"${name}" is not a vault table (known: ${[...BY_NAME.keys()].join(', ')})`);
  return t;
}

/** `db.table`, quoted as needed (names here are plain identifiers). */
export function qualified(dbs: VaultDatabases, table: string): string {
  return `${dbs.vault}.${table}`;
}

/**
 * CREATE TABLE for one vault table in `database` (the vault database, or a staging database for
 * backfill: the same structure is what REPLACE PARTITION needs).
 */
export function createTableSql(
  t: VaultTable,
  database: string,
  table: string = t.name,
  ifNotExists = true,
): string {
  const cols = t.columns.map((c) => `    ${c.name} ${c.type}`).join(',\n');
  const partition = t.partitionBy ? `\nPARTITION BY ${t.partitionBy}` : '';
  return (
    `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${database}.${table}\n(\n${cols}\n)\n` +
    `ENGINE = ReplacingMergeTree(${t.versionColumn})${partition}\nORDER BY (${t.orderBy.join(', ')})`
  );
}
