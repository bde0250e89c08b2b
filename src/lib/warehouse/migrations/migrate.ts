import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dialectFor, type Dialect } from '../dialect.js';
import { parseVersion, type Warehouse } from '../types.js';
import { sqlString } from '../quote.js';
import { DEFAULT_DATABASES, type VaultDatabases } from '../../vault/tables.js';
import type { LoadedMigration, Migration, MigrationContext } from './types.js';
import { schemaDrift } from './drift.js';
import { MigrationStateError } from './errors.js';
import { renderForCluster } from './cluster.js';
import { assertSameLayout, checkClusterReady, migrationsCluster } from './cluster-state.js';

export { MigrationStateError } from './errors.js';

export const MIGRATIONS_TABLE = 'schema_migrations';
const FILE_RE = /^(?:(\d{3,})|R)_([a-z0-9_]+)\.(?:ts|js)$/;

let cached: Promise<LoadedMigration[]> | undefined;

/** Every migration file of this folder, versioned ones in order, then repeatables by name. */
export function loadMigrations(): Promise<LoadedMigration[]> {
  cached ??= (async () => {
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const files = readdirSync(dir).filter((f) => FILE_RE.test(f) && !f.endsWith('.d.ts'));
    const out: LoadedMigration[] = [];
    const seen = new Map<string, string>();
    for (const file of files.sort()) {
      const m = FILE_RE.exec(file)!;
      const name = file.replace(/\.(ts|js)$/, '');
      if (seen.has(name)) continue; // .ts and .js side by side (never in dist)
      const mod = (await import(new URL(file, import.meta.url).href)) as { default?: Migration };
      if (!mod.default || typeof mod.default.statements !== 'function') {
        throw new MigrationStateError(`Migration file ${file} does not default-export a Migration.`, {
          hint: 'Export `const migration: Migration = { description, statements }` as default (see migrations/types.ts).',
        });
      }
      const version = m[1] ? Number(m[1]) : 0;
      const clash = m[1] ? [...seen.entries()].find(([n]) => n.startsWith(`${m[1]}_`)) : undefined;
      if (clash) {
        throw new MigrationStateError(`Migrations ${clash[0]} and ${name} share version ${version}.`, {
          hint: 'Give the newer migration the next free number.',
        });
      }
      seen.set(name, file);
      out.push({ ...mod.default, kind: m[1] ? 'versioned' : 'repeatable', version, name });
    }
    return out.sort((a, b) =>
      a.kind === b.kind
        ? a.version - b.version || a.name.localeCompare(b.name)
        : a.kind === 'versioned'
          ? -1
          : 1,
    );
  })();
  return cached;
}

/** Placeholder names keep checksums independent of the database names (tests use suffixed ones). */
const PLACEHOLDER_DBS: VaultDatabases = { vault: '{vault}', mart: '{mart}', ops: '{ops}' };
/** Versioned checksums use one reference dialect, so upgrading the server does not change them. */
const REFERENCE_DIALECT = dialectFor(parseVersion('18.16.1'));

export function checksum(m: LoadedMigration, dialect: Dialect): string {
  const statements = m.statements({
    dbs: PLACEHOLDER_DBS,
    dialect: m.kind === 'versioned' ? REFERENCE_DIALECT : dialect,
  });
  return createHash('sha256').update(JSON.stringify(statements)).digest('hex').slice(0, 16);
}

export function bootstrapStatements(dbs: VaultDatabases): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${dbs.ops}`,
    `CREATE TABLE IF NOT EXISTS ${dbs.ops}.${MIGRATIONS_TABLE}
(
    kind String,
    version UInt32,
    name String,
    checksum String,
    description String,
    statements UInt32,
    applied_at DateTime('UTC'),
    duration_ms UInt64
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY (kind, version, name)`,
  ];
}

export interface AppliedMigration {
  kind: 'versioned' | 'repeatable';
  version: number;
  name: string;
  checksum: string;
  description: string;
  applied_at: string;
}

export async function tableExists(wh: Warehouse, db: string, table: string): Promise<boolean> {
  const rows = await wh.query<{ n: string | number }>(
    `SELECT count() AS n FROM system.tables WHERE database = ${sqlString(db)} AND name = ${sqlString(table)}`,
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

export async function readApplied(wh: Warehouse, dbs: VaultDatabases): Promise<AppliedMigration[] | null> {
  if (!(await tableExists(wh, dbs.ops, MIGRATIONS_TABLE))) return null;
  const rows = await wh.query<Record<string, unknown>>(
    `SELECT kind, version, name, checksum, description, toString(applied_at) AS applied_at
     FROM ${dbs.ops}.${MIGRATIONS_TABLE} FINAL ORDER BY kind DESC, version, name`,
  );
  return rows.map((r) => ({
    kind: r.kind === 'repeatable' ? 'repeatable' : 'versioned',
    version: Number(r.version),
    name: String(r.name),
    checksum: String(r.checksum),
    description: String(r.description),
    applied_at: String(r.applied_at),
  }));
}

export interface MigrationPlan {
  dialect: Dialect;
  migrations: LoadedMigration[];
  applied: AppliedMigration[];
  bootstrapped: boolean;
  appliedVersion: number;
  latestVersion: number;
  pending: LoadedMigration[];
  /** Problems that make the state unusable (unknown applied version, changed checksum). */
  problems: string[];
}

/** Compares the migrations of this build with those recorded in ops; changes nothing. */
export async function planMigrations(
  wh: Warehouse,
  dbs: VaultDatabases = DEFAULT_DATABASES,
): Promise<MigrationPlan> {
  const dialect = dialectFor(await wh.version());
  const migrations = await loadMigrations();
  const appliedOrNull = await readApplied(wh, dbs);
  const applied = appliedOrNull ?? [];
  const problems: string[] = [];
  const latestVersion = Math.max(
    0,
    ...migrations.filter((m) => m.kind === 'versioned').map((m) => m.version),
  );
  const appliedVersion = Math.max(0, ...applied.filter((a) => a.kind === 'versioned').map((a) => a.version));
  const pending: LoadedMigration[] = [];
  for (const a of applied.filter((x) => x.kind === 'versioned')) {
    const known = migrations.find((m) => m.kind === 'versioned' && m.version === a.version);
    if (!known) {
      problems.push(
        `${dbs.ops}.${MIGRATIONS_TABLE} records version ${a.version} (${a.name}), which this shopdata does not know (it knows up to ${latestVersion}).`,
      );
    } else if (checksum(known, dialect) !== a.checksum) {
      problems.push(
        `Applied migration ${known.name} has changed since it was applied (checksum ${a.checksum}, now ${checksum(known, dialect)}).`,
      );
    }
  }
  for (const m of migrations) {
    const rec = applied.find(
      (a) => a.kind === m.kind && (m.kind === 'versioned' ? a.version === m.version : a.name === m.name),
    );
    if (!rec || (m.kind === 'repeatable' && rec.checksum !== checksum(m, dialect))) pending.push(m);
  }
  return {
    dialect,
    migrations,
    applied,
    bootstrapped: appliedOrNull !== null,
    appliedVersion,
    latestVersion,
    pending,
    problems,
  };
}

export function stateError(plan: MigrationPlan, dbs: VaultDatabases): MigrationStateError {
  return new MigrationStateError(
    `The warehouse's migration state does not match this shopdata:\n  - ${plan.problems.join('\n  - ')}`,
    {
      hint:
        `Use the shopdata version that migrated this warehouse, or inspect ${dbs.ops}.${MIGRATIONS_TABLE}. ` +
        'Never edit an applied migration: add a new one (NNN_name.ts) instead.',
      details: { problems: plan.problems },
    },
  );
}

export interface MigrateOptions {
  dbs?: VaultDatabases;
  dryRun?: boolean;
  /**
   * Create everything ON CLUSTER this cluster: replicated, the vault sharded behind Distributed
   * tables (migrations/cluster.ts). Must match how the warehouse was first migrated.
   */
  cluster?: string;
  /** Called before each statement runs (or would run, with dryRun). */
  onStatement?: (migration: string, sql: string) => void;
}

export interface MigrateResult {
  engine: Warehouse['engine'];
  url: string;
  serverVersion: string;
  databases: VaultDatabases;
  /** The cluster everything was created on; null for a single server. */
  cluster: string | null;
  dryRun: boolean;
  versionBefore: number;
  versionAfter: number;
  /** Migrations applied now (or that would be, with dryRun). */
  applied: { kind: string; version: number; name: string; description: string; statements: number }[];
  /** The statements run (or that would run). */
  statements: { migration: string; sql: string }[];
}

/**
 * Brings the warehouse to the latest migration. Idempotent: a second run applies nothing.
 * Throws MigrationStateError (exit 2) for unknown or changed applied migrations and for model/schema
 * drift left after migrating; DependencyUnavailableError (exit 3) when ClickHouse is unreachable.
 */
export async function migrate(wh: Warehouse, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const dbs = opts.dbs ?? DEFAULT_DATABASES;
  const plan = await planMigrations(wh, dbs);
  if (plan.problems.length > 0) throw stateError(plan, dbs);
  const cluster = opts.cluster;
  if (cluster !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(cluster))
    throw new MigrationStateError(`--cluster "${cluster}" is not a cluster name.`, {
      hint: "Use the name of a cluster in the servers' remote_servers (letters, digits, _), e.g. --cluster shopdata.",
    });
  if (cluster !== undefined && wh.engine !== 'clickhouse')
    throw new MigrationStateError(`--cluster needs a ClickHouse server; ${wh.displayUrl} is embedded chDB.`, {
      hint: 'Point --clickhouse-url (SHOPDATA_CLICKHOUSE_URL) at the servers of the cluster.',
    });
  if (wh.engine === 'clickhouse') assertSameLayout(cluster, await migrationsCluster(wh, dbs), wh.displayUrl);
  if (cluster !== undefined && (plan.pending.length > 0 || !plan.bootstrapped))
    await checkClusterReady(wh, cluster);
  // One server: the statements as written; a cluster: their ON CLUSTER, replicated form.
  const render = (sql: string) => (cluster === undefined ? [sql] : renderForCluster(sql, { cluster, dbs }));
  const ctx: MigrationContext = { dbs, dialect: plan.dialect };
  const result: MigrateResult = {
    engine: wh.engine,
    url: wh.displayUrl,
    serverVersion: plan.dialect.version.raw,
    databases: dbs,
    cluster: cluster ?? null,
    dryRun: !!opts.dryRun,
    versionBefore: plan.appliedVersion,
    versionAfter: plan.appliedVersion,
    applied: [],
    statements: [],
  };
  const run = async (migration: string, sql: string) => {
    opts.onStatement?.(migration, sql);
    result.statements.push({ migration, sql });
    if (!opts.dryRun) await wh.exec(sql);
  };
  if (!plan.bootstrapped)
    for (const sql of bootstrapStatements(dbs).flatMap(render)) await run('bootstrap', sql);
  for (const m of plan.pending) {
    const started = Date.now();
    const statements = m.statements(ctx);
    for (const sql of statements.flatMap(render)) await run(m.name, sql);
    result.applied.push({
      kind: m.kind,
      version: m.version,
      name: m.name,
      description: m.description,
      statements: statements.length,
    });
    if (m.kind === 'versioned') result.versionAfter = Math.max(result.versionAfter, m.version);
    if (!opts.dryRun) {
      await wh.insert(`${dbs.ops}.${MIGRATIONS_TABLE}`, [
        {
          kind: m.kind,
          version: m.version,
          name: m.name,
          checksum: checksum(m, plan.dialect),
          description: m.description,
          statements: statements.length,
          applied_at: Math.floor(Date.now() / 1000),
          duration_ms: Date.now() - started,
        },
      ]);
    }
  }
  if (!opts.dryRun) {
    const drift = await schemaDrift(wh, dbs);
    if (drift.length > 0) {
      throw new MigrationStateError(
        `The vault tables do not match the model after migrating:\n  - ${drift.join('\n  - ')}`,
        {
          hint: 'The model (src/lib/vault/model.ts) changed without a migration: add NNN_name.ts with the ALTER TABLE statements.',
          details: { drift },
        },
      );
    }
  }
  return result;
}
