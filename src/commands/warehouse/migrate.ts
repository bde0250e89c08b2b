import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/cli/base-command.js';
import { dryRunFlag } from '../../lib/cli/flags.js';
import { openConfiguredWarehouse } from '../../lib/warehouse/index.js';
import { migrate, type MigrateResult } from '../../lib/warehouse/migrations/index.js';
import {
  copyFromServer,
  endpointCredentials,
  parseCopySource,
  type CopyResult,
} from '../../lib/warehouse/copy.js';
import { UsageError } from '../../lib/errors/index.js';

type Result = MigrateResult & { copied?: CopyResult };
import { databasesFor, dbSuffixFlag, warehouseUrlFlag } from '../../lib/warehouse/migrations/flags.js';

export default class WarehouseMigrate extends BaseCommand<typeof WarehouseMigrate> {
  static override summary =
    'Create or upgrade the databases vault, mart and ops in the target ClickHouse. Idempotent.';
  static override description =
    'Applies the versioned migrations this shopdata knows and has not yet recorded in ops.schema_migrations, ' +
    'then re-creates views whose definition changed. Running it again changes nothing. ' +
    'With --cluster NAME everything is created ON CLUSTER NAME: the vault tables as Replicated*MergeTree sharded by hash key ' +
    'behind Distributed tables of the same names, the ops tables replicated to every server, the mart views on every server ' +
    '(docs/CLUSTER.md). The warehouse keeps the layout it was first migrated with. ' +
    'Exits 2 if the warehouse records migrations this shopdata does not know or that changed, or was migrated with another layout; ' +
    '3 if ClickHouse, ZooKeeper or a server of the cluster is unreachable.';
  static override examples = [
    '<%= config.bin %> warehouse migrate',
    '<%= config.bin %> warehouse migrate --dry-run',
    '<%= config.bin %> warehouse migrate --clickhouse-url http://default:@localhost:8123 --json',
    '<%= config.bin %> warehouse migrate --clickhouse-url chdb:./.shopdata/warehouse',
    '<%= config.bin %> warehouse migrate --cluster shopdata --clickhouse-url http://default:@ch1:8123,ch2:8123,ch3:8123',
    '<%= config.bin %> warehouse migrate --cluster shopdata --copy-from ch-old:9000   # one server → cluster',
  ];
  static override flags = {
    ...warehouseUrlFlag,
    ...dryRunFlag,
    ...dbSuffixFlag,
    cluster: Flags.string({
      description:
        "Create the databases ON CLUSTER this cluster (from the servers' remote_servers): replicated and sharded.",
    }),
    'copy-from': Flags.string({
      description:
        'With --cluster: then copy the vault of this single server ([user[:password]@]host:port, its native TCP port) into the new cluster vault and verify the row counts. Stop writers first.',
      env: 'SHOPDATA_CLICKHOUSE_COPY_FROM',
      helpGroup: 'CONNECTION',
    }),
  };

  public async run(): Promise<Result> {
    const config = this.settings();
    const dbs = databasesFor(this.flags['db-suffix']);
    const copyFrom = this.flags['copy-from'];
    if (copyFrom !== undefined && this.flags.cluster === undefined)
      throw new UsageError('--copy-from copies a single server into a cluster: it needs --cluster NAME.', {
        hint: 'Run `warehouse migrate --cluster NAME --copy-from host:port` against the cluster endpoints.',
      });
    const wh = await openConfiguredWarehouse(config);
    try {
      const source = copyFrom === undefined ? undefined : parseCopySource(copyFrom, endpointCredentials(wh));
      const result: Result = await migrate(wh, {
        dbs,
        dryRun: this.flags['dry-run'],
        ...(this.flags.cluster !== undefined ? { cluster: this.flags.cluster } : {}),
        onStatement: (migration, sql) => this.logger.debug({ migration, sql }, 'migration statement'),
      });
      if (source && !result.dryRun) result.copied = await copyFromServer(wh, dbs, source);
      this.render(result);
      if (source && result.dryRun)
        this.out(`\nthen: copy the vault of ${source.host}:${source.port} into the cluster.`);
      if (result.copied) {
        const n = result.copied.tables.reduce((s, t) => s + t.cluster, 0);
        this.out(
          `copied ${n} vault rows from ${result.copied.source}; every table holds as many rows as the source:`,
        );
        for (const t of result.copied.tables)
          this.out(`  ${t.table.padEnd(22)} ${String(t.cluster).padStart(12)}`);
      }
      return result;
    } finally {
      await wh.close();
    }
  }

  private render(r: MigrateResult): void {
    const where = `${r.url} (ClickHouse ${r.serverVersion}${r.cluster ? `, cluster ${r.cluster}` : ''})`;
    if (r.dryRun) {
      if (r.statements.length === 0) {
        this.out(`${where}: up to date at version ${r.versionBefore}; nothing would change.`);
        return;
      }
      this.out(
        `${where}: would migrate from version ${r.versionBefore} to ${r.versionAfter} with these statements:`,
      );
      for (const s of r.statements) this.out(`\n-- ${s.migration}\n${s.sql};`);
      return;
    }
    if (r.applied.length === 0) {
      this.out(`${where}: up to date at version ${r.versionBefore}; nothing to do.`);
      return;
    }
    this.out(`${where}: migrated from version ${r.versionBefore} to ${r.versionAfter}.`);
    for (const a of r.applied) {
      const label = a.kind === 'versioned' ? a.name : `${a.name} (repeatable)`;
      this.out(`  applied ${label}: ${a.description} (${a.statements} statements)`);
    }
  }
}
