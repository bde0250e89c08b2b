/**
 * Horizontal scale of `shopdata stream`: the same load (default 100,000 changes ≈ 106k Debezium
 * messages over 7 topics of 12 partitions) consumed by 1, 2, 3 … stream processes in one consumer
 * group, each writing to the warehouse (default: the stack's replicated cluster, each process
 * starting at another endpoint). Prints events/s per process count, measured from the moment the
 * group is stable with all its members to the last commit (steady state: process start and the
 * rebalances of joining members excluded) and wall-clock, and the ratio to one process in the same
 * run, then one JSON line.
 *
 * Run: bash bench/stream-processes.sh [--processes 1,2,3] [--events 100000] [--warehouse cluster|single]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  committedTotal,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  makeChanges,
  namespace,
  produce,
  SALT,
  streamArgs,
  testKafka,
} from '../test/integration/stream/support.js';
import { stack } from '../test/helpers/stack.js';
import {
  clusterUrl,
  createClusterVault,
  dropClusterVault,
  NODES,
  type Node,
} from '../test/integration/cluster/support.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const counts = arg('processes', '1,2,3').split(',').map(Number);
const events = Number(arg('events', '100000'));
const warehouse = arg('warehouse', 'cluster');
if (counts.some((n) => !Number.isInteger(n) || n < 1) || !['cluster', 'single'].includes(warehouse)) {
  console.error(
    'usage: bench/stream-processes.sh [--processes 1,2,3] [--events N] [--warehouse cluster|single]',
  );
  process.exit(2);
}
const BIN = `${process.cwd()}/bin/run.js`;
const kafka = testKafka();
const changes = makeChanges(events, 5);

/** Members of the group once it is Stable (0 while it rebalances). */
async function stableMembers(group: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : 0;
  } finally {
    await admin.disconnect();
  }
}

interface Run {
  processes: number;
  messages: number;
  steadyPerSec: number;
  wallPerSec: number;
  seconds: number;
}

async function runOnce(p: number): Promise<Run> {
  const ns = namespace(`bsp${p}`);
  const topics = ns.router.allTopics();
  const wh = warehouse === 'cluster' ? await createClusterVault(ns.dbs) : await createVault(ns);
  const children: ChildProcess[] = [];
  try {
    await createTopics(kafka, topics, 12);
    const messages = encodeAll(changes, ns.router, { light: true });
    await produce(kafka, messages, 5000);
    const t0 = performance.now();
    for (let i = 0; i < p; i++) {
      // Each process starts at another endpoint of the cluster (load balancing across servers).
      const order = NODES.map((_, k) => NODES[(k + i) % NODES.length]!) as Node[];
      const url = warehouse === 'cluster' ? clusterUrl(order) : stack.clickhouseUrl;
      children.push(
        spawn(
          process.execPath,
          [
            BIN,
            'stream',
            ...streamArgs(ns, ['--batch-size', '2000', '--batch-max-ms', '500'], { clickhouseUrl: url }),
          ],
          {
            env: { ...process.env, SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        ),
      );
    }
    let first: { at: number; n: number } | undefined;
    let done = 0;
    for (;;) {
      const n = await committedTotal(kafka, ns.group, topics);
      if (!first && (await stableMembers(ns.group)) === p) first = { at: performance.now(), n };
      if (n >= messages.length) {
        done = performance.now();
        break;
      }
      if (children.every((c) => c.exitCode !== null)) throw new Error('every stream process exited early');
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      processes: p,
      messages: messages.length,
      // A load that ends before the group settles has no steady window: report the wall rate.
      steadyPerSec: first
        ? Math.round((messages.length - first.n) / ((done - first.at) / 1000))
        : Math.round(messages.length / ((done - t0) / 1000)),
      wallPerSec: Math.round(messages.length / ((done - t0) / 1000)),
      seconds: Math.round((done - t0) / 100) / 10,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.on('exit', r)))),
    );
    await deleteTopics(kafka, topics);
    if (warehouse === 'cluster') await dropClusterVault(wh, ns.dbs);
    else await dropVault(wh, ns);
    await wh.close();
  }
}

const runs: Run[] = [];
for (const p of counts) {
  const r = await runOnce(p);
  runs.push(r);
  const base = runs[0]!;
  console.log(
    `${p} process${p === 1 ? '' : 'es'}: ${r.steadyPerSec} events/s steady, ${r.wallPerSec} events/s wall (${r.messages} messages in ${r.seconds} s); ` +
      `ratio to ${base.processes}: ${(r.steadyPerSec / base.steadyPerSec).toFixed(2)} steady, ${(r.wallPerSec / base.wallPerSec).toFixed(2)} wall`,
  );
}
console.log(JSON.stringify({ bench: 'stream-processes', warehouse, events, runs }));
