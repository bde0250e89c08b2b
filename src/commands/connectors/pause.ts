import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsPause extends BaseCommand<typeof ConnectorsPause> {
  static override summary = 'Pause Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors pause',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors pause');
  }
}
