import { VAULT_TABLES, type VaultDatabases } from '../../vault/tables.js';
import { everywhereZkPath, localTable, shardKeySql, shardedZkPath } from '../cluster.js';
import { MigrationStateError } from './errors.js';

/**
 * Renders a migration statement written for one server as the statements that do the same on a
 * cluster (`warehouse migrate --cluster NAME`), so each migration is written once:
 * - CREATE DATABASE / DROP TABLE / CREATE VIEW → the same ON CLUSTER (views exist on every server);
 * - CREATE TABLE in the vault database → `t_local` ON CLUSTER with the Replicated variant of its
 *   engine (ZooKeeper path by `{shard}`, replica `{replica}`), plus `t` as a Distributed table
 *   over it, sharded by the table's hash key;
 * - CREATE TABLE elsewhere (ops) → ON CLUSTER, Replicated, one ZooKeeper path for all servers;
 * - ALTER TABLE → ON CLUSTER, on the local table and (vault) the Distributed table;
 * - OPTIMIZE TABLE … FINAL → nothing: ClickHouse 18.16 fails `OPTIMIZE … ON CLUSTER` on replicated
 *   tables ("Unknown log entry type: 0", measured), the replicas merge in the background, and every
 *   reader of the vault collapses versions with FINAL;
 * - INSERT INTO t … SELECT … FROM t (a data migration rewriting a table's own rows) → as it is,
 *   through the Distributed table: each row keeps its hash key, so it goes back to its shard.
 * Anything else is refused: a statement that would run on one server only must not pass silently.
 */
export interface ClusterRenderContext {
  cluster: string;
  dbs: VaultDatabases;
}

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const CREATE_DB = new RegExp(`^CREATE DATABASE IF NOT EXISTS (${IDENT})$`);
const DROP_TABLE = new RegExp(`^DROP TABLE IF EXISTS (${IDENT}\\.${IDENT})$`);
const CREATE_VIEW = new RegExp(
  `^(CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?${IDENT}\\.${IDENT})( AS\\b[\\s\\S]*)$`,
);
const CREATE_TABLE = new RegExp(
  `^CREATE TABLE IF NOT EXISTS (${IDENT})\\.(${IDENT})(\\s*\\([\\s\\S]*\\)\\s*)ENGINE = (\\w*MergeTree)(?:\\(([^)]*)\\))?([\\s\\S]*)$`,
);
const ALTER_TABLE = new RegExp(`^ALTER TABLE (${IDENT})\\.(${IDENT}) ([\\s\\S]+)$`);
const OPTIMIZE_FINAL = new RegExp(`^OPTIMIZE TABLE (${IDENT})\\.(${IDENT}) FINAL$`);
const INSERT_SELF = new RegExp(
  `^INSERT INTO (${IDENT}\\.${IDENT}) \\([^)]*\\) SELECT [\\s\\S]* FROM (${IDENT}\\.${IDENT})(?: WHERE [\\s\\S]*)?$`,
);

export function renderForCluster(sql: string, ctx: ClusterRenderContext): string[] {
  const on = `ON CLUSTER ${ctx.cluster}`;
  const s = sql.trim();
  let m: RegExpExecArray | null;
  if ((m = CREATE_DB.exec(s))) return [`CREATE DATABASE IF NOT EXISTS ${m[1]} ${on}`];
  if ((m = DROP_TABLE.exec(s))) return [`DROP TABLE IF EXISTS ${m[1]} ${on}`];
  if ((m = CREATE_VIEW.exec(s))) return [`${m[1]} ${on}${m[2]}`];
  if ((m = CREATE_TABLE.exec(s))) {
    const [, db, table, columns, engine, args, rest] = m as unknown as string[];
    const replicatedArgs = (path: string) =>
      [`'${path}'`, `'{replica}'`, ...(args?.trim() ? [args.trim()] : [])].join(', ');
    if (db === ctx.dbs.vault) {
      const t = VAULT_TABLES.find((v) => v.name === table);
      if (!t)
        throw refuse(sql, `${db}.${table} is not a table of the vault model, so its sharding key is unknown`);
      const local = localTable(table!);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.${local} ${on}${columns}ENGINE = Replicated${engine}(${replicatedArgs(shardedZkPath(ctx.cluster, db!, table!))})${rest}`,
        `CREATE TABLE IF NOT EXISTS ${db}.${table} ${on} AS ${db}.${local}\nENGINE = Distributed(${ctx.cluster}, ${db}, ${local}, ${shardKeySql(t.hashKey)})`,
      ];
    }
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${table} ${on}${columns}ENGINE = Replicated${engine}(${replicatedArgs(everywhereZkPath(ctx.cluster, db!, table!))})${rest}`,
    ];
  }
  if ((m = ALTER_TABLE.exec(s))) {
    const [, db, table, change] = m as unknown as string[];
    if (db === ctx.dbs.vault)
      return [
        `ALTER TABLE ${db}.${localTable(table!)} ${on} ${change}`,
        `ALTER TABLE ${db}.${table} ${on} ${change}`,
      ];
    return [`ALTER TABLE ${db}.${table} ${on} ${change}`];
  }
  if (OPTIMIZE_FINAL.test(s)) return [];
  if ((m = INSERT_SELF.exec(s)) && m[1] === m[2]) return [s];
  throw refuse(sql, 'warehouse migrate --cluster has no cluster form for this statement');
}

function refuse(sql: string, why: string): MigrationStateError {
  return new MigrationStateError(`Cannot apply a migration on the cluster: ${why}.`, {
    hint: 'Write the migration with CREATE DATABASE/TABLE IF NOT EXISTS, ALTER TABLE, DROP TABLE IF EXISTS or CREATE VIEW statements (see migrations/cluster.ts).',
    details: { sql: sql.length > 300 ? `${sql.slice(0, 300)}…` : sql },
  });
}
