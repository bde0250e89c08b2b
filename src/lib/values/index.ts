/**
 * The one module for values: decimals, timestamps, epoch days and integers, exact, with one rule
 * on every path (Debezium decoding, lake reading, the vault mapping, backfill, checks): a value
 * that cannot be represented exactly is rejected with a reason that names the problem (never the
 * value), not rounded, clamped or rolled over.
 */
export * from './errors.js';
export * from './decimal.js';
export * from './time.js';
export * from './integer.js';
export * from './nesting.js';
export * from './json.js';
