import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsApply extends BaseCommand<typeof ConnectorsApply> {
  static override summary = 'Apply Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors apply',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors apply');
  }
}
