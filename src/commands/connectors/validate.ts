import { Flags } from '@oclif/core';
import { ConnectorsCommand, connectorFlags } from '../../lib/connect/command.js';
import {
  combineFailures,
  validateConnector,
  validationError,
  type ValidationReport,
} from '../../lib/connect/operations.js';
import type { LakeTableReport } from '../../lib/connect/lake-tables.js';

export interface ValidateItem extends ValidationReport {
  valid: boolean;
  connectorClass: string;
  /** The rendered config, masked. */
  config: Record<string, string>;
  /** Iceberg sink connectors: their lake tables in the REST catalog (`missing` ones apply creates). */
  lakeTables?: LakeTableReport[];
}
export interface ValidateResult {
  connectUrl: string;
  connectors: ValidateItem[];
}

export default class ConnectorsValidate extends ConnectorsCommand<typeof ConnectorsValidate> {
  static override summary = 'Render the templates and validate them on Kafka Connect; change nothing.';
  static override description = `Asks the connector plugin on the worker (PUT /connector-plugins/{class}/config/validate). Debezium also connects to the source database, so an unreachable database shows here. Settings the plugin does not know are reported as warnings (a typo would otherwise be ignored). For the Iceberg sink, its lake tables are looked up in the Iceberg REST catalog: missing ones are reported (apply creates them), tables of another layout fail the validation.

Exit codes: 0 valid; 2 invalid template or config; 3 Kafka Connect, or the source database as seen from the worker, unreachable.`;
  static override strict = false;
  static override usage = 'connectors validate [NAME...] [--show-config]';
  static override flags = {
    ...connectorFlags,
    'show-config': Flags.boolean({
      description: 'Also print the rendered config (secrets masked).',
      default: false,
    }),
  };
  static override examples = [
    '<%= config.bin %> connectors validate',
    '<%= config.bin %> connectors validate shop-mongodb --show-config',
  ];

  public async run(): Promise<ValidateResult> {
    const rendered = this.renderTemplates(await this.names());
    const client = this.client();
    await this.checkSinkSources(rendered);
    const items: ValidateItem[] = [];
    const failures: Array<{ connector: string; error: Error }> = [];
    for (const rc of rendered) {
      const report = await validateConnector(client, rc, this.masker);
      const item: ValidateItem = {
        ...report,
        valid: report.errors.length === 0,
        connectorClass: rc.connectorClass,
        config: this.masker.config(rc.config),
      };
      items.push(item);
      this.out(
        `${rc.name} (${rc.template}, ${rc.connectorClass.split('.').pop()}): ${item.valid ? 'valid' : `${report.errors.length} invalid setting${report.errors.length > 1 ? 's' : ''}`}`,
      );
      for (const e of report.errors) for (const m of e.messages) this.out(`  ✗ ${e.key}: ${m}`);
      for (const k of report.unknownKeys)
        this.out(`  ! ${k}: not a setting of the plugin (typo?); Connect ignores it`);
      if (this.flags['show-config'])
        for (const [k, v] of Object.entries(item.config)) this.out(`    ${k} = ${v}`);
      if (!item.valid) {
        failures.push({ connector: rc.name, error: validationError(report, client.displayUrl) });
        continue;
      }
      try {
        item.lakeTables = await this.lakeTables(rc, { create: false, dryRun: true });
        for (const t of item.lakeTables ?? [])
          this.out(
            `  lake table ${t.identifier}: ${t.state === 'missing' ? 'missing (apply creates it)' : t.state}`,
          );
      } catch (err) {
        item.valid = false;
        failures.push({ connector: rc.name, error: err as Error });
      }
    }
    const result: ValidateResult = this.masker.deep({ connectUrl: client.displayUrl, connectors: items });
    if (failures.length > 0) throw combineFailures(failures, { ...result });
    return result;
  }
}
