import { dryRunFlag } from '../../lib/cli/flags.js';
import { ConnectorsCommand, connectorFlags, timeoutFlag } from '../../lib/connect/command.js';
import { runLifecycle, type LifecycleItem } from '../../lib/connect/lifecycle.js';

export default class ConnectorsResume extends ConnectorsCommand<typeof ConnectorsResume> {
  static override summary = 'Resume paused connectors and wait until they run.';
  static override description = `PUT /connectors/{name}/resume, then waits until the connector and all its tasks are RUNNING. A FAILED task is not restarted by resume: use \`connectors restart NAME --failed-only\`.`;
  static override strict = false;
  static override usage = 'connectors resume NAME... [--timeout SECONDS]';
  static override flags = { ...connectorFlags, ...timeoutFlag, ...dryRunFlag };
  static override examples = ['<%= config.bin %> connectors resume shop-postgres'];

  public async run(): Promise<{ connectors: LifecycleItem[] }> {
    const client = this.client();
    const connectors = await runLifecycle(client, await this.names(), this.masker, this.progressOptions(), {
      verb: 'resume',
      act: (name) => client.resume(name),
      want: 'RUNNING',
      timeoutMs: this.flags.timeout * 1000,
      settleMs: 1_000,
      graceMs: 0,
      signal: this.shutdownSignal(),
      dryRun: this.flags['dry-run'],
    });
    if (this.flags['dry-run']) {
      for (const c of connectors)
        this.out(`${c.connector}: would ${'resume'} (now ${c.state}); nothing changed (dry run)`);
    }
    return this.masker.deep({ connectors });
  }
}
