import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsDelete extends BaseCommand<typeof ConnectorsDelete> {
  static override summary = 'Delete Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors delete',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors delete');
  }
}
