import type { Warehouse } from '../warehouse/index.js';
import type { DeadLetter, DeadLetterSink } from './types.js';

/**
 * `stream --dry-run`: the real decode, mapping and encoding path, reading the vault through the real
 * warehouse, but every insert and every dead letter is only counted.
 */
export function dryRunWarehouse(real: Warehouse): Warehouse {
  return {
    engine: real.engine,
    displayUrl: real.displayUrl,
    version: () => real.version(),
    query: (sql, settings) => real.query(sql, settings),
    exec: async () => undefined,
    insert: async () => undefined,
    ...(real.insertEncoded ? { insertEncoded: async () => undefined } : {}),
    close: () => real.close(),
  };
}

export class CountingDeadLetterSink implements DeadLetterSink {
  readonly description = 'nowhere (dry run)';
  count = 0;
  async send(letters: readonly DeadLetter[]): Promise<void> {
    this.count += letters.length;
  }
  async close(): Promise<void> {}
}
