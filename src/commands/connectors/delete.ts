import { dryRunFlag } from '../../lib/cli/flags.js';
import { createInterface } from 'node:readline/promises';
import { Flags } from '@oclif/core';
import { ConnectorsCommand, connectorFlags } from '../../lib/connect/command.js';
import { requireConnectors } from '../../lib/connect/lifecycle.js';
import { dropReplicationSlot, type SlotOutcome } from '../../lib/connect/slots.js';
import { ConfigError, UsageError } from '../../lib/errors/index.js';

export interface DeleteItem {
  connector: string;
  deleted: boolean;
  slot?: { name: string; outcome: SlotOutcome };
}

const POSTGRES_CLASS = 'io.debezium.connector.postgresql.PostgresConnector';

export default class ConnectorsDelete extends ConnectorsCommand<typeof ConnectorsDelete> {
  static override summary = 'Delete connectors from Kafka Connect (asks first unless --yes).';
  static override description = `DELETE /connectors/{name}. Asks for confirmation on a terminal; without a terminal it refuses unless --yes is given. The connector's committed offsets stay in Connect's offsets topic, so a connector created again under the same name resumes where it stopped.

A deleted Debezium PostgreSQL connector leaves its replication slot behind, and PostgreSQL keeps WAL for it: --drop-slot waits for the slot to be released and drops it (needs SHOPDATA_POSTGRES_URL with a role allowed to drop slots).`;
  static override strict = false;
  static override usage = 'connectors delete NAME... [--yes] [--drop-slot]';
  static override flags = {
    ...connectorFlags,
    yes: Flags.boolean({
      char: 'y',
      description: 'Do not ask; required when stdin is not a terminal.',
      default: false,
    }),
    ...dryRunFlag,
    'drop-slot': Flags.boolean({
      description: "Also drop a PostgreSQL connector's replication slot once it is released.",
      default: false,
    }),
  };
  static override examples = [
    '<%= config.bin %> connectors delete shop-postgres',
    '<%= config.bin %> connectors delete shop-postgres --yes --drop-slot',
  ];

  public async run(): Promise<{ connectors: DeleteItem[] }> {
    const names = await this.names();
    const client = this.client();
    await requireConnectors(client, names);
    const pgUrl = this.settings().postgres.url;
    if (this.flags['drop-slot'] && !pgUrl) {
      throw new ConfigError('--drop-slot needs the PostgreSQL URL to drop the slot with.', {
        hint: 'Set SHOPDATA_POSTGRES_URL or --postgres-url; nothing was changed.',
      });
    }
    if (this.flags['dry-run']) {
      for (const name of names)
        this.out(
          `${name}: would delete${this.flags['drop-slot'] ? ' and drop its replication slot' : ''}; nothing changed (dry run)`,
        );
      return this.masker.deep({ connectors: names.map((connector) => ({ connector, deleted: false })) });
    }
    if (!this.flags.yes) {
      if (!process.stdin.isTTY) {
        throw new UsageError(
          `Refusing to delete ${names.join(', ')} without confirmation: stdin is not a terminal.`,
          {
            hint: 'Pass --yes to delete without asking; nothing was changed.',
          },
        );
      }
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(
        `Delete connector${names.length > 1 ? 's' : ''} ${names.join(', ')} on ${client.displayUrl}? [y/N] `,
      );
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('Not confirmed; nothing was deleted.');
    }
    const items: DeleteItem[] = [];
    for (const name of names) {
      const config = await client.getConfig(name);
      const deleted = await client.delete(name);
      const item: DeleteItem = { connector: name, deleted };
      items.push(item);
      this.out(`${name}: ${deleted ? 'deleted' : 'was already gone'}`);
      if (this.flags['drop-slot'] && config?.['connector.class'] === POSTGRES_CLASS) {
        const slot = config['slot.name'] ?? 'debezium';
        item.slot = { name: slot, outcome: await dropReplicationSlot(pgUrl!, slot) };
        this.out(
          `${name}: replication slot ${slot} ${item.slot.outcome === 'dropped' ? 'dropped' : 'did not exist'}`,
        );
      }
    }
    return this.masker.deep({ connectors: items });
  }
}
