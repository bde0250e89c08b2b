import type { SourceChange } from '../../src/lib/vault/types.js';

/** The cases of a generated shop that the marts must get right, counted from its changes. */
export interface HardCases {
  /** Products that changed category at least once. */
  recategorised: number;
  /** Products bought, then deleted. */
  deletedBought: number;
  /** Products bought, re-categorised and then deleted (the category mart takes the delete's old row). */
  deletedBoughtRecategorised: number;
  ratings: number;
  cancellations: number;
}

export function hardCases(changes: readonly SourceChange[]): HardCases {
  const bought = new Set<unknown>();
  const category = new Map<unknown, unknown>();
  const recategorised = new Set<unknown>();
  const deletedBought = new Set<unknown>();
  let ratings = 0;
  let cancellations = 0;
  for (const c of changes) {
    if (c.table === 'purchases')
      for (const item of c.row.items as Array<{ product_id: number }>) bought.add(item.product_id);
    if (c.table === 'ratings') ratings++;
    if (c.table === 'cancellations') cancellations++;
    if (c.table !== 'products') continue;
    if (category.has(c.row.id) && category.get(c.row.id) !== c.row.category) recategorised.add(c.row.id);
    category.set(c.row.id, c.row.category);
    if (c.op === 'd' && bought.has(c.row.id)) deletedBought.add(c.row.id);
  }
  return {
    recategorised: recategorised.size,
    deletedBought: deletedBought.size,
    deletedBoughtRecategorised: [...deletedBought].filter((id) => recategorised.has(id)).length,
    ratings,
    cancellations,
  };
}
