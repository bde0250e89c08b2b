import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsRestart extends BaseCommand<typeof ConnectorsRestart> {
  static override summary = 'Restart Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors restart',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors restart');
  }
}
