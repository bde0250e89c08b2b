import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsDiff extends BaseCommand<typeof ConnectorsDiff> {
  static override summary = 'Diff Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors diff',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors diff');
  }
}
