import { Flags } from '@oclif/core';
import { BaseCommand } from '../../lib/cli/base-command.js';
import { clickhouseFlags, lakeFlags, sourceFlags } from '../../lib/cli/flags.js';
import { DataProblemError } from '../../lib/errors/index.js';
import { withRunReports } from '../../lib/observability/run-hooks.js';
import { ATTRS, SPANS, withSpan } from '../../lib/observability/tracing.js';
import { openConfiguredWarehouse } from '../../lib/warehouse/index.js';
import { dbSuffixFlag, databasesFor } from '../../lib/warehouse/migrations/flags.js';
import { openConfiguredLake } from '../../lib/lake/index.js';
import { mongoDatabaseFromUrl } from '../../lib/shop/mongo-writer.js';
import {
  CHECK_IDS,
  chooseCheckLake,
  renderJson,
  renderJunit,
  renderTable,
  runChecks,
  selectChecks,
  dayWindow,
  type CheckReport,
} from '../../lib/check/index.js';

export default class VaultCheck extends BaseCommand<typeof VaultCheck> {
  static override summary = 'Data Vault integrity and reconciliation checks, run inside ClickHouse.';
  static override description = `Runs each check as SQL inside ClickHouse (the vault is never read into this process) and
reports, per check, a count of offending items and a sample of their keys.

Checks (--checks takes ids or group names):
  orphans         ${CHECK_IDS.filter((id) => id.startsWith('orphan')).join(', ')}
  keys            duplicate-business-keys, hash-key-mismatch, hashdiff-mismatch, null-keys
  history         duplicate-satellite-rows, lost-changes, future-load-times, missing-record-source
  reconciliation  reconcile-sources, reconcile-lake, reconcile-marts
  freshness       freshness (a warning)

reconcile-sources needs SHOPDATA_POSTGRES_URL and/or SHOPDATA_MONGO_URL; reconcile-lake and
lost-changes need the lake (SHOPDATA_LAKE or --lake; with the embedded warehouse also
./.shopdata/lake if it exists). A check whose inputs are not configured is reported as skipped,
with the reason. Thresholds come from shopdata.yaml:
checks.reconciliationTolerance (relative, default 0) and checks.freshnessMaxSeconds (default 3600).

Exit 0 when every error-severity check passes (warnings and skips allowed), 1 when one fails or
cannot run, 2 for bad flags, 3 when ClickHouse or a configured source stays unreachable. The
report is printed (table, json or junit) before the exit code is set.`;

  static override examples = [
    '<%= config.bin %> vault check',
    '<%= config.bin %> vault check --date 2026-11-24 --format junit > vault-check.xml',
    '<%= config.bin %> vault check --checks orphans,keys --format json',
    'SHOPDATA_POSTGRES_URL=postgres://shopdata:shopdata@127.0.0.1:55432/shop SHOPDATA_MONGO_URL=mongodb://127.0.0.1:27117/shop_events <%= config.bin %> vault check --checks reconcile-sources --date 2026-11-24',
  ];

  static override flags = {
    ...clickhouseFlags,
    ...lakeFlags,
    ...sourceFlags,
    ...dbSuffixFlag,
    date: Flags.string({
      description:
        'Check one UTC day only (YYYY-MM-DD): satellite rows committed that day, keys first seen that day, counts of that day.',
    }),
    checks: Flags.string({
      description: `Comma-separated check ids or groups (default: all). Ids: ${CHECK_IDS.join(', ')}.`,
    }),
    format: Flags.option({
      options: ['table', 'json', 'junit'] as const,
      description: 'Report format on stdout.',
      default: 'table',
    })(),
    'sample-size': Flags.integer({
      description: 'Offending keys listed per check.',
      default: 10,
      min: 1,
      max: 1000,
    }),
    'pg-schema': Flags.string({
      description: 'PostgreSQL schema holding the shop tables.',
      default: 'public',
    }),
    'mongo-db': Flags.string({
      description: 'MongoDB database (default: the one in the URL, else shop_events).',
    }),
  };

  public async run(): Promise<CheckReport> {
    const f = this.flags;
    // Usage errors first (exit 2 before anything is opened).
    selectChecks(f.checks);
    if (f.date) dayWindow(f.date);
    const config = this.settings();
    const sources = this.configSources();
    const lake = chooseCheckLake({
      lakeUri: config.lake.uri,
      lakeSource: sources['lake.uri'],
      catalogUri: config.lake.catalog.uri,
      warehouseUrl: config.clickhouse.url,
    });
    const wh = await openConfiguredWarehouse(config);
    const lakeIo = lake.uri ? openConfiguredLake(config) : undefined;
    try {
      const { report, unavailable } = await withSpan(
        SPANS.checkRun,
        { attributes: { [ATTRS.day]: f.date ?? 'all' } },
        () =>
          runChecks({
            wh,
            dbs: databasesFor(f['db-suffix']),
            date: f.date,
            checks: f.checks,
            tolerance: config.checks.reconciliationTolerance,
            freshnessMaxSeconds: config.checks.freshnessMaxSeconds,
            sampleSize: f['sample-size'],
            postgres: config.postgres.url ? { url: config.postgres.url, schema: f['pg-schema'] } : undefined,
            mongo: config.mongo.url
              ? { url: config.mongo.url, database: f['mongo-db'] ?? mongoDatabaseFromUrl(config.mongo.url) }
              : undefined,
            lake: lakeIo ? { io: lakeIo, uri: config.lake.uri } : undefined,
            lakeSkipReason: lake.reason,
            piiSalt: config.pii.salt,
            logger: this.logger,
            signal: this.shutdownSignal(),
          }),
      );
      await withRunReports((r) =>
        r.reportVaultCheck(report, {
          logger: this.logger,
          instance: process.env.SHOPDATA_PUSHGATEWAY_INSTANCE,
        }),
      );
      if (!this.jsonEnabled()) {
        if (f.format === 'json') this.log(renderJson(report));
        else if (f.format === 'junit') this.log(renderJunit(report));
        else this.log(renderTable(report, process.stdout.columns ?? 120));
      }
      if (unavailable) throw unavailable;
      if (!report.ok) {
        const failed = report.checks
          .filter((c) => (c.status === 'fail' && c.severity === 'error') || c.status === 'error')
          .map((c) => c.id);
        throw new DataProblemError(`vault check found problems: ${failed.join(', ')}.`, {
          hint: 'See the report above for counts and sample keys of each failing check; rerun one with --checks ID.',
          details: { report },
        });
      }
      return report;
    } finally {
      lakeIo?.close();
      await wh.close();
    }
  }
}
