/**
 * CPU cost of one `shopdata top` refresh on a group with 200 lagging partitions, next to one plain
 * `admin.fetchOffsets` call for the same group in the same run, as a ratio.
 *
 *   npm run build && npx node bench/top.ts [refreshes=30] [partitions=200]
 *
 * Needs the stack's Kafka (scripts/stack/up kafka). Creates a unique topic and group, deletes them.
 * Figures: a steady refresh (committed offsets unchanged: record timestamps come from the cache),
 * a moving refresh (every committed offset moved by one; the records were cached by the previous
 * Fetch), a cold refresh (timestamp cache emptied first: one Fetch per leader for all 200), the
 * Ink screen render of that sample on a 160x50 terminal (the interactive path's extra: only the
 * rows that fit are rendered), and the baseline. CPU is this
 * process's user+system time (process.cpuUsage) around the call only.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Sampler as SamplerType } from '../src/lib/top/sampler.js';

// Node's type stripping does not map .js imports to .ts: the code under test comes from dist/.
const samplerModule: string = '../dist/lib/top/sampler.js';
const viewsModule: string = '../dist/lib/top/views.js';
const { Sampler } = (await import(samplerModule)) as { Sampler: typeof SamplerType };
const { TopScreen, INITIAL_UI } = (await import(viewsModule)) as typeof import('../src/lib/top/views.js');
const { renderToString } = await import('ink');
const { createElement } = await import('react');

const refreshes = Number(process.argv[2] ?? 30);
const partitions = Number(process.argv[3] ?? 200);
const brokers = [process.env.SHOPDATA_KAFKA_BROKERS ?? '127.0.0.1:19092'];
const kafka = new Kafka({ clientId: 'bench-top', brokers, logLevel: logLevel.NOTHING });
const id = `bench_top_${Date.now().toString(36)}`;
const topic = id;
const group = `${id}_g`;
const perPartition = 40;

function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

interface Stat {
  cpu: number[];
  wall: number[];
}
async function measure(
  n: number,
  fn: (i: number) => Promise<unknown>,
  between?: (i: number) => Promise<unknown>,
): Promise<Stat> {
  const s: Stat = { cpu: [], wall: [] };
  for (let i = 0; i < n; i++) {
    if (between) await between(i);
    const c = process.cpuUsage();
    const t = performance.now();
    await fn(i);
    s.wall.push(performance.now() - t);
    s.cpu.push(cpuMs(c));
  }
  return s;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const admin = kafka.admin();
await admin.connect();
let sampler: SamplerType | undefined;
try {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  for (let p = 0; p < partitions; p += 50) {
    const msgs = [];
    for (let q = p; q < Math.min(partitions, p + 50); q++) {
      for (let i = 0; i < perPartition; i++)
        msgs.push({ partition: q, value: JSON.stringify({ q, i, pad: 'x'.repeat(200) }) });
    }
    await producer.send({ topic, messages: msgs });
  }
  await producer.disconnect();
  const commitAt = (offset: number) =>
    admin.setOffsets({
      groupId: group,
      topic,
      partitions: Array.from({ length: partitions }, (_, p) => ({ partition: p, offset: String(offset) })),
    });
  await commitAt(1);

  sampler = new Sampler({ kafka, brokers, groups: [group], intervalSeconds: 1, windowSize: 10 });
  const check = await sampler.sample();
  if (!check.kafka.ok) throw new Error(check.kafka.error);
  const g = check.kafka.groups[0]!;
  if (g.partitions.length !== partitions || g.partitions.some((p) => p.lagSecondsSource !== 'record')) {
    throw new Error(
      `setup: expected ${partitions} lagging partitions with record timestamps, got ${g.partitions.length}`,
    );
  }

  // Warm-up of every path, then the measured runs, interleaved in one process.
  for (let i = 0; i < 3; i++) {
    await sampler.sample();
    await admin.fetchOffsets({ groupId: group, topics: [topic] });
  }
  const s = sampler;
  const baseline = await measure(refreshes, () => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  const steady = await measure(refreshes, () => s.sample());
  // Move every committed offset before each refresh (outside the measured span).
  const moving = await measure(
    Math.min(refreshes, perPartition - 3),
    () => s.sample(),
    (i) => commitAt(2 + i),
  );
  // The timestamp cache is private; emptying it is the only way to force a cold Fetch each time.
  const cache = (s.kafkaSource as unknown as { tsCache: Map<string, number> }).tsCache;
  const cold = await measure(
    refreshes,
    () => s.sample(),
    async () => cache.clear(),
  );
  const last = await s.sample();
  const ui = { ...INITIAL_UI, selected: group, expanded: new Set([group]) };
  const render = await measure(refreshes, async () =>
    renderToString(createElement(TopScreen, { sample: last, ui, columns: 160, rows: 50 }), { columns: 160 }),
  );
  const baseline2 = await measure(refreshes, () => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  const base = [...baseline.cpu, ...baseline2.cpu];
  const baseWall = [...baseline.wall, ...baseline2.wall];

  const line = (name: string, st: Stat) =>
    `${name.padEnd(36)} cpu median ${median(st.cpu).toFixed(2).padStart(6)} ms  mean ${mean(st.cpu).toFixed(2).padStart(6)} ms  wall median ${median(st.wall).toFixed(1).padStart(6)} ms  ` +
    `cpu ratio ${(median(st.cpu) / median(base)).toFixed(1)}x`;
  console.log(
    `top refresh cost: ${partitions} partitions, 1 group, ${refreshes} runs each, ${process.version}, kafkajs admin baseline in the same process`,
  );
  console.log(line('admin.fetchOffsets (baseline)', { cpu: base, wall: baseWall }));
  console.log(line('top refresh, steady offsets', steady));
  console.log(line('top refresh, all offsets moved', moving));
  console.log(line('top refresh, cold (cache emptied)', cold));
  console.log(line('Ink render, 160x50, group expanded', render));
} finally {
  await sampler?.close();
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
