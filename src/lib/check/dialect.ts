import type { ServerVersion } from '../warehouse/types.js';
import { dialectFor } from '../warehouse/dialect.js';

/**
 * What the checks need beyond warehouse/dialect.ts. Measured: 18.16.1 has no window functions
 * (history checks fall back to per-key arrays), 26.7 has them (a streaming lag over the sort key).
 */
export interface CheckDialect {
  /** lagInFrame() OVER (PARTITION BY … ORDER BY …): GA from 21.9 (experimental before). */
  readonly windowFunctions: boolean;
}

export function checkDialectFor(v: ServerVersion): CheckDialect {
  return { windowFunctions: dialectFor(v).windowFunctions };
}
