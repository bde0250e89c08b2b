/** The Data Vault core: model, hashing spec, the one mapping, tables and the writer. */
export * from './types.js';
export * from './hashing.js';
export * from './model.js';
export * from './tables.js';
export * from './mapping.js';
export * from './writer.js';
