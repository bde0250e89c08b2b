export {
  generateShop,
  resolveShopOptions,
  applyChanges,
  emptySourceState,
  countOps,
  SHOP_DEFAULTS,
} from './generator.js';
export type { ShopOptions, ResolvedShopOptions, GeneratedShop, SourceState, OpCounts } from './generator.js';
export { computeMarts } from './ground-truth.js';
export type { Marts, DailyOrdersRow, DailySalesByCategoryRow, ProductRatingsRow } from './ground-truth.js';
export { ShopSimulator, BCRYPT_COST, formatOrderId } from './simulator.js';
export type { ShopAction } from './simulator.js';
export { Rng } from './rng.js';
export * from './rows.js';
export { centsToDecimal, decimalToCents, utcDay, dayStartUs, isoMicros } from './values.js';
