import type { CheckDefinition } from './types.js';
import { orphanLinks, orphanSatellites } from './checks/orphans.js';
import { duplicateBusinessKeys, hashKeyMismatch, hashdiffMismatch, nullKeys } from './checks/keys.js';
import { duplicateSatelliteRows, futureLoadTimes, missingRecordSource } from './checks/history.js';
import { lostChanges, reconcileLake, reconcileSources } from './checks/reconcile.js';
import { reconcileMarts } from './checks/marts.js';
import { freshness } from './checks/freshness.js';
import { replicaAgreementCheck } from './checks/replicas.js';
import { UsageError } from '../errors/index.js';

/** Every check, in report order. Ids are the contract of `--checks`. */
export const CHECKS: readonly CheckDefinition[] = [
  orphanLinks,
  orphanSatellites,
  duplicateBusinessKeys,
  hashKeyMismatch,
  hashdiffMismatch,
  nullKeys,
  duplicateSatelliteRows,
  lostChanges,
  futureLoadTimes,
  missingRecordSource,
  reconcileSources,
  reconcileLake,
  reconcileMarts,
  freshness,
  replicaAgreementCheck,
];

export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

/** `--checks a,b` → the definitions, in report order; unknown ids are a usage error (exit 2). */
export function selectChecks(list: string | readonly string[] | undefined): CheckDefinition[] {
  if (list === undefined) return [...CHECKS];
  const ids = (typeof list === 'string' ? list.split(',') : [...list]).map((s) => s.trim()).filter(Boolean);
  // A group name selects its checks (e.g. --checks orphans,freshness).
  const wanted = new Set<string>();
  const unknown: string[] = [];
  for (const id of ids) {
    const byGroup = CHECKS.filter((c) => c.group === id);
    if (CHECK_IDS.includes(id)) wanted.add(id);
    else if (byGroup.length > 0) byGroup.forEach((c) => wanted.add(c.id));
    else unknown.push(id);
  }
  if (unknown.length > 0 || ids.length === 0) {
    throw new UsageError(
      `${unknown.length ? `Unknown check ${unknown.map((u) => `"${u}"`).join(', ')}` : 'No check named'} in --checks.`,
      {
        hint: `Valid ids: ${CHECK_IDS.join(', ')} (or a group: ${[...new Set(CHECKS.map((c) => c.group))].join(', ')}).`,
      },
    );
  }
  return CHECKS.filter((c) => wanted.has(c.id));
}
