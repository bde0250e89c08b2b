import { readTopology, vaultCluster } from '../../warehouse/cluster.js';
import { replicaAgreement } from '../../warehouse/agreement.js';
import type { CheckDefinition, SampleItem } from '../types.js';
import { plural } from './common.js';

/** Replica agreement on a cluster (warehouse/agreement.ts); skipped on a single server. */
export const replicaAgreementCheck: CheckDefinition = {
  id: 'replica-agreement',
  group: 'replication',
  severity: 'error',
  title: 'Replicas of a shard hold the same rows',
  explanation:
    'On a cluster every replica of a shard must hold the same vault rows: per table and day the same row count and checksum (as readers see them, FINAL), once replication has caught up. A difference means a replica missed or diverged from replication, so readers would get different answers depending on the replica they reach; a replica that is down or never catches up cannot be checked and fails the check too.',
  async run(ctx) {
    const cluster = await vaultCluster(ctx.wh, ctx.dbs);
    if (!cluster) return { status: 'skip', message: 'the vault is on one server, not a cluster' };
    const topology = await readTopology(ctx.wh, cluster);
    const r = await replicaAgreement(ctx.wh, topology, ctx.dbs, { day: ctx.window?.day, signal: ctx.signal });
    if (r.shardsCompared.length === 0 && r.unavailable.length === 0)
      return { status: 'skip', message: `no shard of cluster ${cluster} has more than one replica` };
    const details = { cluster, ...r };
    if (r.disagreements.length === 0 && r.unavailable.length === 0) {
      return {
        status: 'pass',
        message: `${plural(r.cellsCompared, 'table/day cell')} agree on every replica of shard ${r.shardsCompared.join(', ')}`,
        details,
      };
    }
    const counts: Record<string, number> = {};
    const sample: SampleItem[] = [];
    for (const d of r.disagreements) {
      counts[d.table] = (counts[d.table] ?? 0) + 1;
      if (sample.length < ctx.sampleSize)
        sample.push({
          table: d.table,
          key: `shard ${d.shard} day ${d.day}`,
          detail: Object.entries(d.replicas)
            .map(([s, x]) => `${s}: ${x.rows} rows, checksum ${x.checksum}`)
            .join('; '),
        });
    }
    for (const u of r.unavailable) {
      counts['(replicas)'] = (counts['(replicas)'] ?? 0) + 1;
      if (sample.length < ctx.sampleSize)
        sample.push({ table: '(replica)', key: `shard ${u.shard} ${u.server}`, detail: u.reason });
    }
    const parts = [
      r.disagreements.length
        ? `${plural(r.disagreements.length, 'table/day cell')} differ between replicas`
        : '',
      r.unavailable.length ? `${plural(r.unavailable.length, 'replica')} could not be compared` : '',
    ].filter(Boolean);
    return {
      status: 'fail',
      message: parts.join('; '),
      count: r.disagreements.length + r.unavailable.length,
      counts,
      sample,
      details,
    };
  },
};
