import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsValidate extends BaseCommand<typeof ConnectorsValidate> {
  static override summary = 'Validate Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors validate',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors validate');
  }
}
