import { BaseCommand } from '../lib/cli/base-command.js';
import { NotImplementedError } from '../lib/errors/index.js';

export default class Stream extends BaseCommand<typeof Stream> {
  static override summary = 'Consume the Debezium topics and load the Data Vault.';
  static override examples = [
    '<%= config.bin %> stream --kafka-brokers localhost:9092 --clickhouse-url http://localhost:8123',
    '<%= config.bin %> stream --from-file events.jsonl --until-idle',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('stream');
  }
}
