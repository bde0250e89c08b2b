import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { STACK_DIR, stack } from '../../helpers/stack.js';
import {
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  freePort,
  makeChanges,
  namespace,
  produce,
  readVault,
  spawnStream,
  streamArgs,
  testKafka,
} from './support.js';

// The stack's real Prometheus scrapes `stream --metrics-port` (file_sd target dropped into
// .stack/prometheus/targets/, job shopdata-stream, every 2 s). Events are produced while the
// stream runs: the lag series goes above zero, then back to zero once the stream caught up.
// SIGINT then stops it with exit 130 after flushing.

const ns = namespace('sprom');
const kafka = testKafka();
const topics = ns.router.allTopics();
const targetFile = join(STACK_DIR, 'prometheus', 'targets', `${ns.id}.json`);
let wh: Warehouse;

interface QueryResponse {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function query(q: string): Promise<number | undefined> {
  const res = await fetch(`${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as QueryResponse;
  const first = body.data.result[0];
  return first ? Number(first.value[1]) : undefined;
}

async function waitFor(
  what: string,
  q: string,
  ok: (v: number) => boolean,
  timeoutMs = 90_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await query(q);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${q} = ${v} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('stream: metrics scraped by Prometheus', () => {
  const changes = makeChanges(60_000, 53);

  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, topics, 2);
  });

  afterAll(async () => {
    rmSync(targetFile, { force: true });
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('shows lag above zero during a load and zero after it', async () => {
    const port = await freePort();
    mkdirSync(join(STACK_DIR, 'prometheus', 'targets'), { recursive: true });
    writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { test: ns.id } }]));
    const child = spawnStream(
      streamArgs(ns, [
        '--batch-size',
        '500',
        '--batch-max-ms',
        '200',
        '--metrics-port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--json',
      ]),
    );
    const sel = `{job="shopdata-stream",test="${ns.id}"}`;
    try {
      await waitFor('target scraped', `up${sel}`, (v) => v === 1);
      // The lag series exists (0) once partitions are assigned.
      await waitFor('lag series present', `sum(shopdata_consumer_lag_messages${sel})`, (v) => v === 0);

      await produce(kafka, encodeAll(changes, ns.router, { light: true }), 5000);
      const peak = await waitFor(
        'lag above zero',
        `max_over_time(sum(shopdata_consumer_lag_messages${sel})[2m:1s])`,
        (v) => v > 0,
      );
      await waitFor('lag back to zero', `sum(shopdata_consumer_lag_messages${sel})`, (v) => v === 0, 180_000);
      const rows = await waitFor(
        'rows inserted',
        `sum(shopdata_stream_rows_inserted_total${sel})`,
        (v) => v > 0,
      );
      const freshness = await query(`max(shopdata_stream_freshness_seconds${sel})`);
      const batches = await query(`sum(shopdata_stream_batches_total${sel})`);
      console.log(
        `prometheus: lag peaked at ${peak}, back to 0; ${rows} rows, ${batches} batches, freshness ${freshness?.toFixed(1)} s`,
      );
      expect((await query(`sum(shopdata_stream_dlq_events_total${sel})`)) ?? 0).toBe(0);

      child.proc.kill('SIGINT');
      const exit = await child.exited;
      expect(exit.code, child.stderr().slice(-2000)).toBe(130);
      expect(child.stdout()).toContain('INTERRUPTED');
    } finally {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    }
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  }, 420_000);
});
