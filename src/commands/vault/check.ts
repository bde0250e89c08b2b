import { BaseCommand } from '../../lib/cli/base-command.js';
import { NotImplementedError } from '../../lib/errors/index.js';

export default class VaultCheck extends BaseCommand<typeof VaultCheck> {
  static override summary = 'Data Vault integrity and reconciliation checks, run inside ClickHouse.';
  static override examples = [
    '<%= config.bin %> vault check',
    '<%= config.bin %> vault check --date 2026-11-24 --format junit',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('vault check');
  }
}
