import { BaseCommand } from '../lib/cli/base-command.js';
import { NotImplementedError } from '../lib/errors/index.js';

export default class Top extends BaseCommand<typeof Top> {
  static override summary = 'Terminal UI of consumer lag (offsets and seconds), throughput and connector state.';
  static override examples = [
    '<%= config.bin %> top',
    '<%= config.bin %> top --once --json',
  ];

  public async run(): Promise<never> {
    throw new NotImplementedError('top');
  }
}
