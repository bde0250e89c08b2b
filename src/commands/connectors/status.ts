import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsStatus extends BaseCommand<typeof ConnectorsStatus> {
  static override summary = 'Status Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors status',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors status');
  }
}
