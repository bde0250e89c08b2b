/** `vault check`: Data Vault integrity and reconciliation checks, run as SQL inside ClickHouse. */
export { runChecks, dayWindow, type RunChecksOptions, type RunChecksResult } from './runner.js';
export { CHECKS, CHECK_IDS, selectChecks } from './registry.js';
export { renderTable, renderJson, renderJunit } from './render.js';
export type * from './types.js';
export { chooseCheckLake, type LakeChoice } from './lake-choice.js';
