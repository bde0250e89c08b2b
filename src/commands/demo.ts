import { BaseCommand } from '../lib/cli/base-command.js';
import { NotImplementedError } from '../lib/errors/index.js';

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = 'Run the whole platform on embedded parts: synthetic shop → Iceberg lake → chDB vault → marts.';
  static override examples = [
    '<%= config.bin %> demo',
    '<%= config.bin %> demo --days 3 --dir /tmp/shop',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('demo');
  }
}
