import { dryRunFlag } from '../../lib/cli/flags.js';
import { ConnectorsCommand, connectorFlags, timeoutFlag } from '../../lib/connect/command.js';
import { runLifecycle, type LifecycleItem } from '../../lib/connect/lifecycle.js';

export default class ConnectorsPause extends ConnectorsCommand<typeof ConnectorsPause> {
  static override summary = 'Pause connectors (their tasks stop producing; offsets and slots are kept).';
  static override description = `PUT /connectors/{name}/pause, then waits until the connector and its tasks are PAUSED. A paused PostgreSQL connector still holds its replication slot, so PostgreSQL keeps WAL for it: do not leave it paused for long.`;
  static override strict = false;
  static override usage = 'connectors pause NAME... [--timeout SECONDS]';
  static override flags = { ...connectorFlags, ...timeoutFlag, ...dryRunFlag };
  static override examples = ['<%= config.bin %> connectors pause shop-postgres'];

  public async run(): Promise<{ connectors: LifecycleItem[] }> {
    const client = this.client();
    const connectors = await runLifecycle(client, await this.names(), this.masker, this.progressOptions(), {
      verb: 'pause',
      act: (name) => client.pause(name),
      want: 'PAUSED',
      timeoutMs: this.flags.timeout * 1000,
      settleMs: 0,
      graceMs: 0,
      signal: this.shutdownSignal(),
      dryRun: this.flags['dry-run'],
    });
    if (this.flags['dry-run']) {
      for (const c of connectors)
        this.out(`${c.connector}: would ${'pause'} (now ${c.state}); nothing changed (dry run)`);
    }
    return this.masker.deep({ connectors });
  }
}
