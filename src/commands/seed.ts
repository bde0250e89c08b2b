import { BaseCommand } from '../lib/cli/base-command.js';
import { NotImplementedError } from '../lib/errors/index.js';

export default class Seed extends BaseCommand<typeof Seed> {
  static override summary = 'Write realistic shop activity into the real PostgreSQL and MongoDB sources.';
  static override examples = [
    '<%= config.bin %> seed --days 7',
    '<%= config.bin %> seed --rate 200 --duration 60s',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('seed');
  }
}
