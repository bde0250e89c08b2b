import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TopicPrefixes } from '../debezium/topics.js';
import { DataProblemError } from '../errors/index.js';
import { mergePrepared, type PrepareFormat, type PrepareMessage, type PreparedBatch } from './prepare.js';

/**
 * Worker threads that prepare stream batches (decode, map, encode: prepare.ts) off the main thread,
 * which keeps fetching from Kafka and inserting into ClickHouse meanwhile. A batch is cut into one
 * slice per worker and the slices' results are joined in order, so a batch takes no more memory
 * than without workers and offsets stay in order.
 */

export interface PoolInit {
  prefixes: TopicPrefixes;
  piiSalt: string;
  format: PrepareFormat;
}

/** Messages in one transferable buffer: kafkajs' Buffers are views of whole fetch responses. */
export interface PackedMessages {
  topics: string[];
  topicIdx: Uint16Array;
  partition: Int32Array;
  offset: string[];
  bytes: Uint8Array;
  /** Per message: key start, key length, value start, value length; start −1 = null, −2 = in `other`. */
  spans: Int32Array;
  /** Keys and values that are not bytes (replay files hand in strings and objects). */
  other: [index: number, key: unknown, value: unknown][];
}

export interface PrepareJob {
  kind: 'prepare';
  id: number;
  loadTsMs: number;
  packed: PackedMessages;
}

/** The rows of job `id` are in ClickHouse (confirm) or not (drop): see KeyCache. */
export interface KeyCacheMessage {
  kind: 'confirm' | 'drop';
  id: number;
}

export type PrepareReply =
  | { id: number; ok: true; batch: PreparedBatch }
  | { id: number; ok: false; error: { name: string; message: string; hint?: string } };

export function packMessages(messages: readonly PrepareMessage[]): PackedMessages {
  const topics: string[] = [];
  const topicIndex = new Map<string, number>();
  const n = messages.length;
  const topicIdx = new Uint16Array(n);
  const partition = new Int32Array(n);
  const offset: string[] = new Array<string>(n);
  const spans = new Int32Array(n * 4);
  const other: PackedMessages['other'] = [];
  let size = 0;
  for (const m of messages) {
    if (m.key instanceof Uint8Array) size += m.key.length;
    if (m.value instanceof Uint8Array) size += m.value.length;
  }
  const bytes = new Uint8Array(size);
  let pos = 0;
  const put = (v: unknown, at: number): boolean => {
    if (v === null || v === undefined) {
      spans[at] = -1;
      return true;
    }
    if (v instanceof Uint8Array) {
      bytes.set(v, pos);
      spans[at] = pos;
      spans[at + 1] = v.length;
      pos += v.length;
      return true;
    }
    spans[at] = -2;
    return false;
  };
  messages.forEach((m, i) => {
    let t = topicIndex.get(m.topic);
    if (t === undefined) {
      t = topics.length;
      topics.push(m.topic);
      topicIndex.set(m.topic, t);
    }
    topicIdx[i] = t;
    partition[i] = m.partition;
    offset[i] = m.offset;
    const keyIn = put(m.key, i * 4);
    const valueIn = put(m.value, i * 4 + 2);
    if (!keyIn || !valueIn) other.push([i, keyIn ? undefined : m.key, valueIn ? undefined : m.value]);
  });
  return { topics, topicIdx, partition, offset, bytes, spans, other };
}

export function unpackMessages(p: PackedMessages): PrepareMessage[] {
  const buf = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  const others = new Map(p.other.map(([i, k, v]) => [i, { k, v }]));
  const view = (at: number, i: number, which: 'k' | 'v'): unknown => {
    const start = p.spans[at]!;
    if (start === -1) return null;
    if (start === -2) return others.get(i)?.[which] ?? null;
    return buf.subarray(start, start + p.spans[at + 1]!);
  };
  const out: PrepareMessage[] = new Array<PrepareMessage>(p.offset.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = {
      topic: p.topics[p.topicIdx[i]!]!,
      partition: p.partition[i]!,
      offset: p.offset[i]!,
      key: view(i * 4, i, 'k'),
      value: view(i * 4 + 2, i, 'v'),
    };
  }
  return out;
}

/** A failure inside a worker, rebuilt in the main thread (exit 1 like the same failure in-thread). */
class WorkerJobError extends DataProblemError {
  override readonly code = 'STREAM_PREPARE_FAILED';
}

/**
 * A young generation larger than V8's default: decoding and mapping allocate many short-lived
 * objects per event, and fewer scavenges promote fewer of them (measured ~10 % less CPU).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 96 };

interface Slot {
  worker: Worker;
  jobs: Map<number, { resolve: (b: PreparedBatch) => void; reject: (e: Error) => void }>;
}

export class PreparePool {
  private readonly slots: Slot[];
  private nextId = 0;
  private broken: Error | undefined;

  private constructor(file: string, size: number, init: PoolInit) {
    this.slots = Array.from({ length: size }, () => {
      const worker = new Worker(file, { workerData: init, resourceLimits: WORKER_LIMITS });
      const slot: Slot = { worker, jobs: new Map() };
      worker.on('message', (reply: PrepareReply) => {
        const job = slot.jobs.get(reply.id);
        if (!job) return;
        slot.jobs.delete(reply.id);
        if (reply.ok) job.resolve(reply.batch);
        else {
          const e = new WorkerJobError(
            reply.error.message,
            reply.error.hint ? { hint: reply.error.hint } : {},
          );
          e.name = reply.error.name;
          job.reject(e);
        }
      });
      const fail = (err: Error) => {
        this.broken ??= err;
        for (const job of slot.jobs.values()) job.reject(err);
        slot.jobs.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0) fail(new Error(`A stream worker thread exited with code ${code}.`));
      });
      return slot;
    });
  }

  /** A pool of `size` workers, or undefined when there are none to start (size 0, or running from sources). */
  static create(size: number, init: PoolInit): PreparePool | undefined {
    if (size < 1) return undefined;
    const file = fileURLToPath(new URL('./prepare-worker.js', import.meta.url));
    if (!existsSync(file)) return undefined; // TypeScript sources (tests): prepare in the main thread
    return new PreparePool(file, size, init);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Prepares a batch in slices, one per worker, and joins the results. */
  async prepare(messages: readonly PrepareMessage[], loadTsMs: number): Promise<PreparedBatch> {
    if (this.broken) throw this.broken;
    const slices = Math.max(1, Math.min(this.slots.length, Math.floor(messages.length / 500)));
    const per = Math.ceil(messages.length / slices);
    const tokens: { slot: number; token: number }[] = [];
    const parts = await Promise.all(
      Array.from({ length: slices }, async (_, s) => {
        const start = s * per;
        const id = this.nextId++;
        tokens.push({ slot: s, token: id });
        const batch = await this.run(this.slots[s]!, id, messages.slice(start, start + per), loadTsMs);
        return { start, batch };
      }),
    );
    return { ...mergePrepared(parts), tokens };
  }

  /** Tells the workers whether the rows of a prepared batch are in ClickHouse (their key caches). */
  settle(tokens: readonly { slot: number; token: number }[], kind: 'confirm' | 'drop'): void {
    for (const t of tokens) {
      const msg: KeyCacheMessage = { kind, id: t.token };
      this.slots[t.slot]?.worker.postMessage(msg);
    }
  }

  private run(
    slot: Slot,
    id: number,
    messages: readonly PrepareMessage[],
    loadTsMs: number,
  ): Promise<PreparedBatch> {
    const packed = packMessages(messages);
    return new Promise<PreparedBatch>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject });
      const job: PrepareJob = { kind: 'prepare', id, loadTsMs, packed };
      slot.worker.postMessage(job, [packed.bytes.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
