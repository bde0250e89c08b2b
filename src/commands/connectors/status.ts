import { ConnectorsCommand, connectorFlags } from '../../lib/connect/command.js';
import { UsageError } from '../../lib/errors/index.js';
import { traceReason } from '../../lib/connect/operations.js';
import { deriveVariables, loadTemplates, renderTemplate } from '../../lib/connect/template.js';
import { renderTable } from '../../lib/table/index.js';

export interface StatusItem {
  name: string;
  type: string | undefined;
  connectorClass: string | undefined;
  /** The template it is rendered from, when one renders to this name. */
  template: string | undefined;
  state: string;
  worker: string | undefined;
  trace: string | undefined;
  tasks: Array<{ id: number; state: string; worker: string; trace: string | undefined }>;
}
export interface StatusResult {
  connectUrl: string;
  version: string;
  connectors: StatusItem[];
}

export default class ConnectorsStatus extends ConnectorsCommand<typeof ConnectorsStatus> {
  static override summary = 'Show the connectors on Kafka Connect, their tasks and failures.';
  static override description = `One row per connector (all on the worker, or the NAMEs given): state, running/total tasks, plugin, worker and the template it comes from. Failed connectors and tasks show the first lines of their trace; --json has the whole (masked) trace.`;
  static override strict = false;
  static override usage = 'connectors status [NAME...] [--json]';
  static override flags = { ...connectorFlags };
  static override examples = [
    '<%= config.bin %> connectors status',
    '<%= config.bin %> connectors status shop-postgres --json',
  ];

  public async run(): Promise<StatusResult> {
    const names = await this.names();
    const client = this.client();
    const info = await client.info();
    const all = await client.listExpanded();
    const missing = names.filter((n) => !(n in all));
    if (missing.length > 0) {
      throw new UsageError(`No connector named ${missing.join(', ')} on ${client.displayUrl}.`, {
        hint:
          Object.keys(all).length > 0
            ? `Connectors there: ${Object.keys(all).sort().join(', ')}.`
            : 'There are no connectors yet; create them with `shopdata connectors apply`.',
      });
    }
    const byName = this.templateNames();
    const items: StatusItem[] = Object.keys(all)
      .filter((n) => names.length === 0 || names.includes(n))
      .sort()
      .map((name) => {
        const { status, info: ci } = all[name]!;
        return {
          name,
          type: ci?.type ?? status?.type,
          connectorClass: ci?.config['connector.class'],
          template: byName.get(name),
          state: status?.connector.state ?? 'UNKNOWN',
          worker: status?.connector.worker_id,
          trace: status?.connector.trace,
          tasks: (status?.tasks ?? []).map((t) => ({
            id: t.id,
            state: t.state,
            worker: t.worker_id,
            trace: t.trace,
          })),
        };
      });
    const result: StatusResult = this.masker.deep({
      connectUrl: client.displayUrl,
      version: info.version,
      connectors: items,
    });
    this.printTable(result);
    return result;
  }

  /** Connector name → template id, for the templates that render with the current variables. */
  private templateNames(): Map<string, string> {
    const out = new Map<string, string>();
    try {
      const flags = this.flags as Record<string, unknown>;
      const vars = deriveVariables(this.settings(), process.env);
      for (const t of loadTemplates(String(flags.templates))) {
        try {
          out.set(renderTemplate(t, vars).name, t.id);
        } catch {
          // A template that cannot render here simply is not matched.
        }
      }
    } catch {
      // No templates: status still works for what is on Connect.
    }
    return out;
  }

  private printTable(r: StatusResult): void {
    if (r.connectors.length === 0) {
      this.out(`No connectors on ${r.connectUrl} (Kafka Connect ${r.version}).`);
      return;
    }
    const rows = r.connectors.map((c) => [
      c.name,
      c.state,
      `${c.tasks.filter((t) => t.state === 'RUNNING').length}/${c.tasks.length}${c.tasks.some((t) => t.state !== 'RUNNING') ? ` (${[...new Set(c.tasks.filter((t) => t.state !== 'RUNNING').map((t) => t.state))].join(',')})` : ''}`,
      c.type ?? '-',
      c.connectorClass?.split('.').pop() ?? '-',
      c.template ?? '-',
      c.worker ?? '-',
    ]);
    const head = ['CONNECTOR', 'STATE', 'TASKS', 'TYPE', 'PLUGIN', 'TEMPLATE', 'WORKER'];
    for (const line of renderTable(head, rows)) this.out(line);
    for (const c of r.connectors) {
      if (c.state === 'FAILED') this.out(`\n${c.name}: connector FAILED:\n${indent(traceReason(c.trace))}`);
      for (const t of c.tasks)
        if (t.state === 'FAILED')
          this.out(`\n${c.name}: task ${t.id} FAILED:\n${indent(traceReason(t.trace))}`);
    }
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l.trim()}`)
    .join('\n');
}
