import { BaseCommand } from '../../lib/cli/base-command.js';
import { openConfiguredWarehouse } from '../../lib/warehouse/index.js';
import { warehouseStatus, type WarehouseStatus as Status } from '../../lib/warehouse/migrations/index.js';
import { databasesFor, dbSuffixFlag, warehouseUrlFlag } from '../../lib/warehouse/migrations/flags.js';

export default class WarehouseStatus extends BaseCommand<typeof WarehouseStatus> {
  static override summary =
    'Show the applied migration version, pending migrations, row counts and (on a cluster) every replica.';
  static override description =
    'Reads ops.schema_migrations and counts the rows of every vault and ops table; views are listed without counts. ' +
    'On a cluster (`warehouse migrate --cluster`) it also shows every server: up, read-only (no ZooKeeper session) or down, ' +
    'its replication delay and queue, rows, and the last replication error. ' +
    'Exits 2 if the recorded migrations do not match this shopdata, 3 if ClickHouse is unreachable.';
  static override examples = [
    '<%= config.bin %> warehouse status',
    '<%= config.bin %> warehouse status --json',
    '<%= config.bin %> warehouse status --clickhouse-url chdb:./.shopdata/warehouse',
  ];
  static override flags = { ...warehouseUrlFlag, ...dbSuffixFlag };

  public async run(): Promise<Status> {
    const config = this.settings();
    const wh = await openConfiguredWarehouse(config);
    try {
      const s = await warehouseStatus(wh, databasesFor(this.flags['db-suffix']));
      this.render(s);
      return s;
    } finally {
      await wh.close();
    }
  }

  private render(s: Status): void {
    this.out(
      `${s.url} (ClickHouse ${s.serverVersion}, ${s.engine}${s.cluster ? `, cluster ${s.cluster}` : ''})`,
    );
    this.out(`schema version ${s.appliedVersion} of ${s.latestVersion}${s.upToDate ? ', up to date' : ''}`);
    if (s.pending.length > 0) {
      this.out(`pending (run \`shopdata warehouse migrate\`):`);
      for (const p of s.pending) this.out(`  ${p.name}: ${p.description}`);
    }
    if (s.drift.length > 0) {
      this.out('schema drift (vault tables differ from the model):');
      for (const d of s.drift) this.out(`  ${d}`);
    }
    const rows = s.tables.filter((t) => t.exists);
    if (rows.length > 0) {
      const w = Math.max(...rows.map((t) => `${t.database}.${t.table}`.length));
      this.out('');
      for (const t of rows) {
        const name = `${t.database}.${t.table}`.padEnd(w);
        this.out(`  ${name}  ${t.kind.padEnd(9)}  ${t.rows === null ? '' : String(t.rows).padStart(12)}`);
      }
    }
    if (s.replicas) this.renderReplicas(s.replicas);
  }

  private renderReplicas(replicas: NonNullable<Status['replicas']>): void {
    this.out('');
    this.out('  shard  replica  server                  state      read-only  delay  queue          rows');
    for (const r of replicas) {
      const server = `${r.host}:${r.port}`;
      this.out(
        `  ${String(r.shard).padEnd(5)}  ${(r.name ?? '?').padEnd(7)}  ${server.padEnd(22)}  ${r.state.padEnd(9)}  ` +
          (r.state === 'down'
            ? (r.error ?? '')
            : `${String(r.readOnlyTables).padStart(9)}  ${`${r.maxDelaySeconds} s`.padStart(5)}  ${String(r.queueSize).padStart(5)}  ${String(r.rows).padStart(12)}`),
      );
      if (r.lastException)
        this.out(
          `         last replication error (${r.lastException.at}, ${r.lastException.table}): ${r.lastException.message}`,
        );
    }
  }
}
