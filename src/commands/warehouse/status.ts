import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class WarehouseStatus extends BaseCommand<typeof WarehouseStatus> {
  static override summary = 'Show the applied migration version and row counts.';
  static override examples = [
    '<%= config.bin %> warehouse status --json',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('warehouse status');
  }
}
