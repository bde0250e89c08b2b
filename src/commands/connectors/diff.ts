import { ConnectorsCommand, connectorFlags } from '../../lib/connect/command.js';
import {
  ConnectorDriftError,
  formatChanges,
  planApply,
  type ConfigChange,
} from '../../lib/connect/operations.js';

export interface DiffItem {
  connector: string;
  template: string;
  status: 'in-sync' | 'missing' | 'differs';
  /** Masked; from the live config to the rendered template. */
  changes: ConfigChange[];
}
export interface DiffResult {
  connectUrl: string;
  differ: boolean;
  connectors: DiffItem[];
}

export default class ConnectorsDiff extends ConnectorsCommand<typeof ConnectorsDiff> {
  static override summary =
    'Show how the live connector configs differ from the templates (exit 1 when they do).';
  static override description = `Renders the templates and compares each with GET /connectors/{name}/config, key by key. Secrets are masked: config-provider references are shown as they are, inline values as ********.

Exit codes: 0 everything in sync; 1 at least one connector differs or is missing (usable as a CI gate); 2 invalid template; 3 Kafka Connect unreachable.`;
  static override strict = false;
  static override usage = 'connectors diff [NAME...]';
  static override flags = { ...connectorFlags };
  static override examples = [
    { description: 'Compare every template with Connect', command: '<%= config.bin %> connectors diff' },
    {
      description: 'Fail a CI job when the PostgreSQL connector drifted',
      command: '<%= config.bin %> connectors diff shop-postgres --json',
    },
  ];

  public async run(): Promise<DiffResult> {
    const rendered = this.renderTemplates(await this.names());
    const client = this.client();
    const items: DiffItem[] = [];
    for (const rc of rendered) {
      const plan = await planApply(client, rc, this.masker);
      const status = plan.action === 'create' ? 'missing' : plan.action === 'update' ? 'differs' : 'in-sync';
      items.push({ connector: rc.name, template: rc.template, status, changes: plan.changes });
      if (status === 'in-sync') {
        this.out(`${rc.name}: in sync with template ${rc.template}`);
      } else {
        this.out(
          `${rc.name}: ${status === 'missing' ? 'not on Connect; apply would create it with' : `${plan.changes.length} difference${plan.changes.length > 1 ? 's' : ''} (- live, + template)`}:`,
        );
        for (const line of formatChanges(plan.changes)) this.out(line);
      }
    }
    const result: DiffResult = this.masker.deep({
      connectUrl: client.displayUrl,
      differ: items.some((i) => i.status !== 'in-sync'),
      connectors: items,
    });
    if (result.differ) {
      const names = items.filter((i) => i.status !== 'in-sync').map((i) => i.connector);
      throw new ConnectorDriftError(
        `${names.length} connector${names.length > 1 ? 's differ' : ' differs'} from the templates: ${names.join(', ')}.`,
        {
          hint: 'Run `shopdata connectors apply` to bring Connect in line (or --dry-run first).',
          details: { ...result },
        },
      );
    }
    return result;
  }
}
