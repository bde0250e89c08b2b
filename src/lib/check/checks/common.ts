import { VAULT_TABLES, type VaultTable } from '../../vault/tables.js';
import type { CheckContext, CheckOutcome, SampleItem } from '../types.js';
import { runCountAndSample } from '../sql.js';

export const HUB_TABLES = VAULT_TABLES.filter((t) => t.kind === 'hub');
export const LINK_TABLES = VAULT_TABLES.filter((t) => t.kind === 'link');
export const SAT_TABLES = VAULT_TABLES.filter((t) => t.kind === 'satellite');

export function vaultTableByName(name: string): VaultTable {
  const t = VAULT_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`${name} is not a vault table`);
  return t;
}

/** Collects per-table offender counts and samples into one outcome. */
export class Findings {
  readonly counts: Record<string, number> = {};
  readonly sample: SampleItem[] = [];
  count = 0;

  constructor(private readonly sampleSize: number) {}

  add(table: string, n: number, items: Array<[string, string]>): void {
    if (n <= 0) return;
    this.counts[table] = (this.counts[table] ?? 0) + n;
    this.count += n;
    for (const [key, detail] of items)
      if (this.sample.length < this.sampleSize) this.sample.push({ table, key, detail });
  }

  /** Runs one offenders query (columns k, x) for a table and adds its result. */
  async query(ctx: CheckContext, table: string, offenders: string): Promise<void> {
    const r = await runCountAndSample(ctx, offenders);
    this.add(table, r.n, r.s);
  }

  outcome(what: (n: number) => string, details?: Record<string, unknown>): CheckOutcome {
    if (this.count === 0) return { status: 'pass', ...(details ? { details } : {}) };
    const where = Object.entries(this.counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    return {
      status: 'fail',
      message: `${what(this.count)} (${where})`,
      count: this.count,
      counts: this.counts,
      sample: this.sample,
      ...(details ? { details } : {}),
    };
  }
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
