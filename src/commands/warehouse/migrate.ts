import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class WarehouseMigrate extends BaseCommand<typeof WarehouseMigrate> {
  static override summary = 'Create or upgrade the databases vault, mart and ops in the target ClickHouse. Idempotent.';
  static override examples = [
    '<%= config.bin %> warehouse migrate',
    '<%= config.bin %> warehouse migrate --dry-run',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('warehouse migrate');
  }
}
