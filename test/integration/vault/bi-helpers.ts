export { mapChanges, insertRowSet, type VaultDatabases } from '../../../src/lib/vault/index.js';
import { MART_VIEWS } from '../../../src/lib/vault/marts.js';
export const MART_VIEWS_LIST = Object.keys(MART_VIEWS);
