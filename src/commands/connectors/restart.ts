import { dryRunFlag } from '../../lib/cli/flags.js';
import { Flags } from '@oclif/core';
import { ConnectorsCommand, connectorFlags, timeoutFlag } from '../../lib/connect/command.js';
import { runLifecycle, type LifecycleItem } from '../../lib/connect/lifecycle.js';

export default class ConnectorsRestart extends ConnectorsCommand<typeof ConnectorsRestart> {
  static override summary = 'Restart connectors and their tasks, then wait until they run.';
  static override description = `POST /connectors/{name}/restart?includeTasks=true (with --failed-only: &onlyFailed=true, so healthy tasks keep running). Waits until the connector and all its tasks are RUNNING, or reports the trace of the task that failed again.

Exit codes: 0 running; 1 failed again or not running in time; 2 no such connector; 3 Kafka Connect or the source unreachable.`;
  static override strict = false;
  static override usage = 'connectors restart NAME... [--failed-only] [--timeout SECONDS]';
  static override flags = {
    ...connectorFlags,
    ...timeoutFlag,
    ...dryRunFlag,
    'failed-only': Flags.boolean({
      description: 'Restart only the connector and tasks that are FAILED.',
      default: false,
    }),
  };
  static override examples = [
    '<%= config.bin %> connectors restart shop-postgres',
    '<%= config.bin %> connectors restart shop-postgres --failed-only',
  ];

  public async run(): Promise<{ connectors: LifecycleItem[] }> {
    const onlyFailed = this.flags['failed-only'];
    const client = this.client();
    const connectors = await runLifecycle(client, await this.names(), this.masker, this.progressOptions(), {
      verb: onlyFailed ? 'restart failed instances' : 'restart connector and tasks',
      act: (name) => client.restart(name, { includeTasks: true, onlyFailed }),
      want: 'RUNNING',
      timeoutMs: this.flags.timeout * 1000,
      settleMs: 4_000,
      graceMs: 3_000,
      signal: this.shutdownSignal(),
      dryRun: this.flags['dry-run'],
    });
    if (this.flags['dry-run']) {
      for (const c of connectors)
        this.out(`${c.connector}: would ${'restart'} (now ${c.state}); nothing changed (dry run)`);
    }
    return this.masker.deep({ connectors });
  }
}
