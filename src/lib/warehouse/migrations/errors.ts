import { ConfigError } from '../../errors/index.js';

/** The warehouse's recorded migrations disagree with this build (exit 2, nothing changed). */
export class MigrationStateError extends ConfigError {
  override readonly code: string = 'MIGRATION_STATE';
}
