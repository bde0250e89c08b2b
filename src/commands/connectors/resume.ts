import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class ConnectorsResume extends BaseCommand<typeof ConnectorsResume> {
  static override summary = 'Resume Debezium connectors on Kafka Connect.';
  static override examples = [
    '<%= config.bin %> connectors resume',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('connectors resume');
  }
}
