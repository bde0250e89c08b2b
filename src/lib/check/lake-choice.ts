import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { maskUrl } from '../config/index.js';

export interface LakeChoice {
  /** The lake to reconcile against; undefined: the lake checks are skipped with `reason`. */
  uri?: string;
  reason?: string;
}

/**
 * Which lake `vault check` reconciles against. A configured lake (flag, SHOPDATA_LAKE,
 * shopdata.yaml) always. The embedded default (./.shopdata/lake) only with the embedded
 * warehouse, which is where `demo` and the embedded defaults put them together: against a
 * ClickHouse server a demo lake that happens to be in the working directory says nothing about
 * that server's vault.
 */
export function chooseCheckLake(o: {
  lakeUri: string;
  /** Where lake.uri came from (LoadedConfig.sources). */
  lakeSource: string | undefined;
  warehouseUrl: string;
  /** An Iceberg REST catalog (SHOPDATA_ICEBERG_CATALOG_URI): the lake is configured. */
  catalogUri?: string | undefined;
  exists?: (path: string) => boolean;
}): LakeChoice {
  if (o.catalogUri) return { uri: o.lakeUri };
  if (o.lakeSource !== undefined && o.lakeSource !== 'default') return { uri: o.lakeUri };
  const embedded = o.warehouseUrl.startsWith('chdb:');
  if (!embedded) {
    return {
      reason: `no lake configured (set SHOPDATA_LAKE or --lake); the embedded default ${o.lakeUri} applies only with the embedded warehouse, not with ${maskUrl(o.warehouseUrl)}`,
    };
  }
  if (!(o.exists ?? ((p: string) => existsSync(resolve(p))))(o.lakeUri))
    return { reason: `no lake configured (set SHOPDATA_LAKE or --lake), and ${o.lakeUri} does not exist` };
  return { uri: o.lakeUri };
}
