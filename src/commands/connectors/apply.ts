import { ConnectorsCommand, connectorFlags, timeoutFlag } from '../../lib/connect/command.js';
import { dryRunFlag } from '../../lib/cli/flags.js';
import { runGroups, type StepGroup } from '../../lib/connect/progress.js';
import {
  combineFailures,
  formatChanges,
  planApply,
  summarize,
  validateConnector,
  validationError,
  waitForState,
  type ApplyAction,
  type ApplyPlan,
  type ConfigChange,
} from '../../lib/connect/operations.js';
import type { LakeTableReport } from '../../lib/connect/lake-tables.js';

export interface ApplyItem {
  connector: string;
  template: string;
  action: ApplyAction | 'failed' | 'skipped';
  /** Masked change from the live config to the template. */
  changes: ConfigChange[];
  warnings: string[];
  state: string | undefined;
  /** Iceberg sink connectors: their lake tables in the REST catalog (created when missing). */
  lakeTables?: LakeTableReport[];
}
export interface ApplyResult {
  connectUrl: string;
  dryRun: boolean;
  connectors: ApplyItem[];
}

/**
 * Debezium tasks report RUNNING when start() returns and may fail a moment later (missing
 * publication: ~1–2 s on this machine); a new or changed connector must stay RUNNING this long.
 */
const SETTLE_MS = 4_000;

export default class ConnectorsApply extends ConnectorsCommand<typeof ConnectorsApply> {
  static override summary = 'Create or update the connectors from the templates and wait until they run.';
  static override description = `Renders each template (templates/connectors/*.yaml) with the SHOPDATA_* variables, validates it on Kafka Connect (PUT /connector-plugins/{class}/config/validate), creates or updates the connector (PUT /connectors/{name}/config) and waits until the connector and all its tasks are RUNNING, or reports the failing task's trace.

For the Iceberg sink (shop-lake.yaml), its lake tables are first created in the Iceberg REST catalog when missing, with the contract's schema and day(__ts) partitioning; an existing table of another layout stops the command (exit 2).

A connector whose live config already equals the template is left alone. Secrets never appear: templates hold Kafka Connect config-provider references (\${env:VAR}, \${file:PATH:KEY}) and every printed value is masked.

Exit codes: 0 applied (or unchanged); 1 a connector or task FAILED or did not start in time; 2 invalid template or config, nothing changed; 3 Kafka Connect, or the source database as seen from the worker, unreachable.`;
  static override aliases = ['connectors:register'];
  static override strict = false;
  static override usage = 'connectors apply [NAME...] [--dry-run] [--timeout SECONDS]';
  static override flags = { ...connectorFlags, ...dryRunFlag, ...timeoutFlag };
  static override examples = [
    { description: 'Apply every template', command: '<%= config.bin %> connectors apply' },
    {
      description: 'Apply only the PostgreSQL connector',
      command: '<%= config.bin %> connectors apply shop-postgres',
    },
    {
      description: 'Render and validate, show what would change, change nothing',
      command: '<%= config.bin %> connectors apply --dry-run',
    },
    {
      description: 'Keep the database password in a file on the worker',
      command:
        "SHOPDATA_CONNECT_PG_PASSWORD_REF='${file:/etc/kafka/secrets.properties:postgres.password}' <%= config.bin %> connectors apply",
    },
  ];

  public async run(): Promise<ApplyResult> {
    const dryRun = this.flags['dry-run'];
    const timeoutMs = this.flags.timeout * 1000;
    const rendered = this.renderTemplates(await this.names());
    const client = this.client();
    await this.checkSinkSources(rendered);
    const masker = this.masker;
    const signal = this.shutdownSignal();
    const items: ApplyItem[] = [];

    const groups: StepGroup[] = rendered.map((rc) => {
      const item: ApplyItem = {
        connector: rc.name,
        template: rc.template,
        action: 'skipped',
        changes: [],
        warnings: [],
        state: undefined,
      };
      items.push(item);
      let plan: ApplyPlan | undefined;
      let wanted: 'RUNNING' | 'PAUSED' | 'STOPPED' = 'RUNNING';
      return {
        title: rc.name,
        steps: [
          {
            title: 'validate',
            run: async () => {
              const report = await validateConnector(client, rc, masker);
              item.warnings = report.unknownKeys.map(
                (k) =>
                  `${k} is not a setting of ${rc.connectorClass.split('.').pop()} (typo?); Connect ignores it`,
              );
              if (report.errors.length > 0) throw validationError(report, client.displayUrl);
              return report.unknownKeys.length > 0
                ? `valid; not known to the plugin: ${report.unknownKeys.join(', ')}`
                : 'valid';
            },
          },
          {
            // The Iceberg sink writes only into existing tables of the contract layout.
            title: dryRun ? 'lake tables (dry run)' : 'lake tables',
            run: async () => {
              const tables = await this.lakeTables(rc, { create: true, dryRun });
              if (!tables) return 'none (not an Iceberg sink)';
              item.lakeTables = tables;
              const count = (state: LakeTableReport['state']) =>
                tables.filter((t) => t.state === state).length;
              const made = count('created') || count('would-create');
              return `${tables.length} in the catalog, ${made} ${dryRun ? 'would be created' : 'created'}`;
            },
          },
          {
            title: 'compare with the live config',
            run: async () => {
              plan = await planApply(client, rc, masker);
              item.changes = plan.changes;
              if (plan.action === 'create') return 'not on Connect yet';
              if (plan.action === 'none') return 'identical';
              return `${plan.changes.length} setting${plan.changes.length > 1 ? 's differ' : ' differs'}`;
            },
          },
          {
            title: dryRun ? 'apply (dry run)' : 'apply',
            run: async () => {
              if (plan!.action === 'none') {
                item.action = 'unchanged';
                return 'unchanged, nothing to do';
              }
              if (dryRun) {
                item.action = plan!.action === 'create' ? 'would-create' : 'would-update';
                return `would ${plan!.action}; nothing changed (dry run)`;
              }
              const before = plan!.action === 'update' ? await client.getStatus(rc.name) : undefined;
              // A paused or stopped connector stays so after an update: wait for that state instead.
              if (before?.connector.state === 'PAUSED' || before?.connector.state === 'STOPPED')
                wanted = before.connector.state;
              item.action = (await client.putConfig(rc.name, rc.config)) ? 'created' : 'updated';
              return item.action;
            },
          },
          {
            title: 'wait until running',
            run: async (note) => {
              if (dryRun) return 'skipped (dry run)';
              if (item.action === 'unchanged') {
                const s = await client.getStatus(rc.name);
                if (s?.connector.state === 'PAUSED' || s?.connector.state === 'STOPPED')
                  wanted = s.connector.state;
              }
              const s = await waitForState(client, rc.name, masker, {
                want: wanted,
                timeoutMs,
                settleMs: item.action === 'unchanged' ? 0 : SETTLE_MS,
                graceMs: item.action === 'updated' ? 3_000 : 0,
                signal,
                onState: note,
              });
              item.state = summarize(s);
              return item.state;
            },
          },
        ],
      };
    });

    const outcomes = await runGroups(groups, this.progressOptions());
    const failures = outcomes.flatMap((o, i) =>
      o.error ? [{ connector: items[i]!.connector, error: o.error }] : [],
    );
    for (const [i, o] of outcomes.entries()) if (o.error) items[i]!.action = 'failed';

    for (const item of items) {
      if (item.action === 'updated' || item.action === 'would-update' || item.action === 'would-create') {
        this.out(
          `${item.connector}: ${item.action === 'would-create' ? 'would create with' : item.action === 'updated' ? 'changed' : 'would change'}:`,
        );
        for (const line of formatChanges(item.changes)) this.out(line);
      }
      for (const w of item.warnings) this.out(`${item.connector}: warning: ${w}`);
    }
    const result: ApplyResult = masker.deep({ connectUrl: client.displayUrl, dryRun, connectors: items });
    const counts = new Map<string, number>();
    for (const i of items) counts.set(i.action, (counts.get(i.action) ?? 0) + 1);
    this.out(`${[...counts].map(([a, n]) => `${n} ${a}`).join(', ')} on ${client.displayUrl}`);
    if (failures.length > 0) throw combineFailures(failures, { ...result });
    return result;
  }
}
