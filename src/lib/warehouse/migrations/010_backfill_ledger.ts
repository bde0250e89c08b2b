import { ledgerDdl } from '../../backfill/ledger.js';
import type { Migration } from './types.js';

/** ops.backfill_ledger (one row per day, run and state) and ops.backfill_leases (the per-day lock). Owned by backfill. */
const migration: Migration = {
  description: 'ops.backfill_ledger and ops.backfill_leases',
  statements: ({ dbs }) => ledgerDdl(dbs.ops),
};
export default migration;
