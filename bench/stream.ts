/**
 * End-to-end throughput of `shopdata stream`: N Debezium-format events (default 500,000) in Kafka
 * → stream → ClickHouse 18.16, next to two baselines measured in the same run:
 * - raw kafkajs consumption of the same topics (no processing: count and resolve), aim ≥ 0.25;
 * - inserting the same vault rows, mapped and encoded beforehand, in batches of the same size the
 *   way the stream inserts them (hubs and links, then satellites, tables in parallel; hub and link
 *   keys an earlier batch confirmed left out, as the stream does): the limit of this design, aim ≥ 0.7.
 * It prints the ratios and the peak RSS of each process. `--slow-clickhouse` also runs the stream
 * through a bandwidth-limited proxy to show that RSS stays flat when ClickHouse is the bottleneck.
 * `--workers N` is passed to the stream; `--bin PATH` runs another build of the CLI (before/after);
 * `--compare-inserts` also times the same rows as JSONEachRow and all rows without the key cache.
 *
 * Run: bash bench/stream.sh [events] [--slow-clickhouse] [--workers N] [--bin PATH]   (needs the stack and `npm run build`)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import {
  SALT,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  makeChanges,
  namespace,
  produce,
  streamArgs,
  testKafka,
} from '../test/integration/stream/support.js';
import { stack, ports } from '../test/helpers/stack.js';
import { mapChanges } from '../src/lib/vault/mapping.js';
import { encodeRowBinary, rowBinaryColumns } from '../src/lib/vault/rowbinary.js';
import { VAULT_TABLES } from '../src/lib/vault/tables.js';
import { KeyCache } from '../src/lib/stream/prepare.js';

const SELF = fileURLToPath(import.meta.url);
/** The built CLI (bench/stream.sh runs from the repository root), or `--bin PATH` (an older build, for before/after). */
const binAt = process.argv.indexOf('--bin');
const BIN = binAt > 0 ? process.argv[binAt + 1]! : `${process.cwd()}/bin/run.js`;

// ---------------------------------------------------------------- child mode: raw consumer

if (process.argv[2] === 'raw') {
  const [, , , brokers, group, topicList, expectedText] = process.argv;
  const expected = Number(expectedText);
  const kafka = new Kafka({
    clientId: 'bench-raw',
    brokers: brokers!.split(','),
    logLevel: logLevel.NOTHING,
  });
  // The same consumer settings as the stream (src/lib/stream/kafka-runner.ts).
  const consumer = kafka.consumer({
    groupId: group!,
    maxBytesPerPartition: 2 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: topicList!.split(','), fromBeginning: true });
  let n = 0;
  let bytes = 0;
  let first: { at: number; n: number } | undefined;
  let doneAt = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
        n += batch.messages.length;
        first ??= { at: performance.now(), n };
        if (n >= expected) {
          doneAt = performance.now();
          resolve();
        }
      },
    });
  });
  const steady = (n - first!.n) / ((doneAt - first!.at) / 1000);
  process.stdout.write(JSON.stringify({ messages: n, bytes, steadyPerSec: Math.round(steady) }) + '\n');
  await consumer.disconnect();
  process.exit(0);
}

// ---------------------------------------------------------------- child mode: pre-mapped inserts

if (process.argv[2] === 'insert') {
  // The same changes as the driver produced, mapped and encoded before the clock starts. Modes:
  // `rowbinary` (the stream's way), `json` (JSONEachRow, as before RowBinary), `all-rows` (RowBinary
  // without leaving out the hub and link keys an earlier batch confirmed).
  const [, , , nText, batchText, mode = 'rowbinary'] = process.argv;
  const batch = Number(batchText);
  const nsIns = namespace('bins');
  const target = await createVault(nsIns);
  try {
    const changes = makeChanges(Number(nText), 97);
    const batches: {
      t: (typeof VAULT_TABLES)[number];
      rows: Record<string, unknown>[];
      data: Uint8Array;
    }[][] = [];
    // The rows the stream inserts: hub and link keys confirmed by an earlier batch are left out
    // (KeyCache), confirmed one batch late as in the stream (the next batch is prepared meanwhile).
    const keys = new KeyCache();
    let mapped = 0;
    let inserted = 0;
    for (let i = 0, token = 0; i < changes.length; i += batch, token++) {
      const rows = mapChanges(changes.slice(i, i + batch), { piiSalt: SALT, loadTs: new Date() });
      for (const list of rows.values()) mapped += list.length;
      if (mode !== 'all-rows') {
        keys.filter(rows, token);
        if (token > 0) keys.confirm(token - 1);
      }
      batches.push(
        VAULT_TABLES.filter((t) => (rows.get(t.name)?.length ?? 0) > 0).map((t) => {
          inserted += rows.get(t.name)!.length;
          return { t, rows: rows.get(t.name)!, data: encodeRowBinary(t, rows.get(t.name)!) };
        }),
      );
    }
    changes.length = 0;
    const t0 = performance.now();
    for (const tables of batches) {
      for (const phase of [false, true]) {
        await Promise.all(
          tables
            .filter(({ t }) => (t.kind === 'satellite') === phase)
            .map(({ t, rows, data }) =>
              mode === 'json'
                ? target.insert(`${nsIns.dbs.vault}.${t.name}`, rows)
                : target.insertEncoded!(
                    `${nsIns.dbs.vault}.${t.name}`,
                    rowBinaryColumns(t),
                    'RowBinary',
                    data,
                  ),
            ),
        );
      }
    }
    const ms = performance.now() - t0;
    process.stdout.write(JSON.stringify({ ms, mapped, inserted }) + '\n');
  } finally {
    await dropVault(target, nsIns);
    await target.close();
  }
  process.exit(0);
}

// ---------------------------------------------------------------- driver

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 500_000);
const slow = process.argv.includes('--slow-clickhouse');
const workersAt = process.argv.indexOf('--workers');
const workerArgs = workersAt > 0 ? ['--workers', process.argv[workersAt + 1]!] : [];
const BATCH = 10_000;

interface Run {
  ms: number;
  peakRssMb: number;
  /** CPU seconds of the child (its last sample before it stopped). */
  cpuSec: number;
  exit: number | null;
  stdout: string;
  stderr: string;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system, all threads) a process used so far, from /proc. */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Runs a child to completion, or until `done()` (polled) says the work is done, then stops it. */
async function timed(
  args: string[],
  env: Record<string, string>,
  done?: () => Promise<boolean>,
): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  let cpu = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid!));
    cpu = Math.max(cpu, cpuOf(child.pid!));
  }, 100);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let ms: number;
  if (done) {
    for (;;) {
      if (await done()) break;
      if (child.exitCode !== null) throw new Error(`exited early ${child.exitCode}: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    ms = performance.now() - t0;
    child.kill('SIGTERM');
  }
  const exit = await exited;
  ms ??= performance.now() - t0;
  clearInterval(sampler);
  return { ms: ms!, peakRssMb: peak, cpuSec: cpu, exit, stdout, stderr };
}

/** A proxy that forwards at most `bytesPerSec` towards ClickHouse (a slow server or network). */
async function slowProxy(target: number, bytesPerSec: number): Promise<{ port: number; close: () => void }> {
  const server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(target, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      client.pause();
      upstream.write(chunk, () => setTimeout(() => client.resume(), (chunk.length / bytesPerSec) * 1000));
    });
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

const ns = namespace('bstream');
const kafka: Kafka = testKafka();
const topics = ns.router.allTopics();
const wh = await createVault(ns);
try {
  await createTopics(kafka, topics, 3);
  console.log(`generating and producing ${N} Debezium events (10% with schema wrapper) ...`);
  const tGen = performance.now();
  const changes = makeChanges(N, 97);
  let total = 0;
  for (let i = 0; i < changes.length; i += 50_000) {
    const msgs = encodeAll(changes.slice(i, i + 50_000), ns.router, { light: true });
    total += msgs.length;
    await produce(kafka, msgs, 5000);
  }
  changes.length = 0;
  console.log(
    `  ${total} messages (incl. tombstones) in ${((performance.now() - tGen) / 1000).toFixed(1)} s`,
  );

  const admin = kafka.admin();
  await admin.connect();
  const committed = async (group: string) => {
    const offsets = await admin.fetchOffsets({ groupId: group, topics });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  };

  const loadBefore = loadavg();
  const raw = await timed(
    [SELF, 'raw', stack.kafkaBrokers.join(','), `${ns.group}-raw`, topics.join(','), String(total)],
    {},
  );
  if (raw.exit !== 0) throw new Error(`raw consumer failed: ${raw.stderr}`);
  const rawRate = total / (raw.ms / 1000);

  // Steady state: from the first commit to the last (CLI start-up and group join excluded).
  let firstCommit: { at: number; n: number } | undefined;
  let lastCommitAt = 0;
  const streamRun = await timed(
    [
      BIN,
      'stream',
      ...streamArgs(ns, ['--batch-size', String(BATCH), '--batch-max-ms', '1000', ...workerArgs]),
    ],
    { SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn' },
    async () => {
      const c = await committed(ns.group);
      if (c > 0) firstCommit ??= { at: performance.now(), n: c };
      lastCommitAt = performance.now();
      return c >= total;
    },
  );
  const streamRate = total / (streamRun.ms / 1000);
  const streamSteady = (total - firstCommit!.n) / ((lastCommitAt - firstCommit!.at) / 1000);
  const rawSteady = (JSON.parse(raw.stdout) as { steadyPerSec: number }).steadyPerSec;
  const rows = await wh.query<{ n: string }>(
    `SELECT sum(rows) AS n FROM system.parts WHERE database = '${ns.dbs.vault}' AND active`,
  );

  const insertOnly = async (mode: string) => {
    const run = await timed([SELF, 'insert', String(N), String(BATCH), mode], {});
    if (run.exit !== 0) throw new Error(`pre-mapped insert (${mode}) failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as { ms: number; mapped: number; inserted: number };
  };
  const insertOut = await insertOnly('rowbinary');
  const insertMs = insertOut.ms;
  const insertRate = total / (insertMs / 1000);
  // --compare-inserts: the same rows as JSONEachRow, and all rows (no confirmed-key cache).
  const compared = process.argv.includes('--compare-inserts')
    ? { json: await insertOnly('json'), allRows: await insertOnly('all-rows') }
    : undefined;

  let slowRun: Run | undefined;
  if (slow) {
    const proxy = await slowProxy(ports.CH_HTTP_PORT!, 4 * 1024 * 1024);
    const nsSlow = { ...ns, group: `${ns.group}-slow` };
    slowRun = await timed(
      [
        BIN,
        'stream',
        ...streamArgs(nsSlow, ['--batch-size', String(BATCH), '--batch-max-ms', '1000', ...workerArgs], {
          clickhouseUrl: `http://default:@127.0.0.1:${proxy.port}`,
        }),
      ],
      { SHOPDATA_PII_SALT: SALT, SHOPDATA_LOG_LEVEL: 'warn' },
      async () => (await committed(nsSlow.group)) >= total,
    );
    proxy.close();
  }
  await admin.disconnect();

  const ratio = streamRate / rawRate;
  console.log(
    `raw kafkajs consume      ${rawRate.toFixed(0).padStart(8)} events/s  ${(raw.ms / 1000).toFixed(1)} s  cpu ${raw.cpuSec.toFixed(1)} s  peak RSS ${raw.peakRssMb.toFixed(0)} MB`,
  );
  console.log(
    `shopdata stream (e2e)    ${streamRate.toFixed(0).padStart(8)} events/s  ${(streamRun.ms / 1000).toFixed(1)} s  cpu ${streamRun.cpuSec.toFixed(1)} s  peak RSS ${streamRun.peakRssMb.toFixed(0)} MB  (${rows[0]?.n ?? '?'} vault rows written)`,
  );
  if (slowRun)
    console.log(
      `stream, ClickHouse at 4 MB/s ${(total / (slowRun.ms / 1000)).toFixed(0).padStart(5)} events/s  ${(slowRun.ms / 1000).toFixed(1)} s  peak RSS ${slowRun.peakRssMb.toFixed(0)} MB`,
    );
  console.log(
    `insert pre-mapped rows   ${insertRate.toFixed(0).padStart(8)} events/s  ${(insertMs / 1000).toFixed(1)} s (inserts only, RowBinary, ${insertOut.inserted} of ${insertOut.mapped} mapped rows)`,
  );
  if (compared) {
    console.log(
      `  same rows, JSONEachRow ${(total / (compared.json.ms / 1000)).toFixed(0).padStart(8)} events/s  ${(compared.json.ms / 1000).toFixed(1)} s`,
    );
    console.log(
      `  all ${compared.allRows.inserted} rows, RowBinary ${(total / (compared.allRows.ms / 1000)).toFixed(0).padStart(8)} events/s  ${(compared.allRows.ms / 1000).toFixed(1)} s`,
    );
  }
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (uptime)`,
  );
  console.log(
    `ratio stream/raw         ${ratio.toFixed(2)} wall, ${(streamSteady / rawSteady).toFixed(2)} steady  (aim >= 0.25)`,
  );
  console.log(
    `ratio stream/insert-only ${(streamRate / insertRate).toFixed(2)} wall, ${(streamSteady / insertRate).toFixed(2)} steady  (aim >= 0.7)`,
  );
  console.log(
    JSON.stringify({
      events: total,
      rawEventsPerSec: Math.round(rawRate),
      streamEventsPerSec: Math.round(streamRate),
      ratio: Number(ratio.toFixed(3)),
      rawSteadyPerSec: rawSteady,
      streamSteadyPerSec: Math.round(streamSteady),
      steadyRatio: Number((streamSteady / rawSteady).toFixed(3)),
      insertOnlyEventsPerSec: Math.round(insertRate),
      insertOnlyRows: { inserted: insertOut.inserted, mapped: insertOut.mapped },
      ...(compared
        ? {
            insertOnlyJsonEventsPerSec: Math.round(total / (compared.json.ms / 1000)),
            insertOnlyAllRowsEventsPerSec: Math.round(total / (compared.allRows.ms / 1000)),
          }
        : {}),
      ratioToInsertOnly: Number((streamRate / insertRate).toFixed(3)),
      steadyRatioToInsertOnly: Number((streamSteady / insertRate).toFixed(3)),
      rawCpuSec: raw.cpuSec,
      streamCpuSec: streamRun.cpuSec,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
      rawPeakRssMb: Math.round(raw.peakRssMb),
      streamPeakRssMb: Math.round(streamRun.peakRssMb),
      ...(slowRun
        ? {
            slowClickhouseEventsPerSec: Math.round(total / (slowRun.ms / 1000)),
            slowClickhousePeakRssMb: Math.round(slowRun.peakRssMb),
          }
        : {}),
    }),
  );
} finally {
  await deleteTopics(kafka, topics);
  await dropVault(wh, ns);
  await wh.close();
}
