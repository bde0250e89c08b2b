import { BaseCommand } from '../lib/cli/base-command.js';
import { NotImplementedError } from '../lib/errors/index.js';

export default class Backfill extends BaseCommand<typeof Backfill> {
  static override summary = 'Rebuild days of the vault from the lake snapshots and correct what streaming loaded.';
  static override examples = [
    '<%= config.bin %> backfill --date 2026-11-24',
    '<%= config.bin %> backfill --date 2026-11-01 --to 2026-11-07 --dry-run',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('backfill');
  }
}
