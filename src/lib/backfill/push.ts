import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DataProblemError } from '../errors/index.js';
import { openLake, type LakeIO } from '../lake/io.js';
import { readPlanChanges, type LakeScanPlan } from '../lake/index.js';
import { isCatalogIO } from '../lake/catalog/index.js';
import { mapChangesIsolated } from '../vault/mapping.js';
import { encodeRowBinary, rowBinaryColumns } from '../vault/rowbinary.js';
import { VAULT_TABLES, type VaultDatabases } from '../vault/tables.js';
import type { SourceTable } from '../vault/types.js';
import type { Warehouse } from '../warehouse/types.js';
import { stagingName } from './vaultsql.js';

/**
 * Push mode's staging: lake rows pass through Node, mapped by the one TypeScript mapping, and go
 * into the staging tables. Each data file is one job; worker threads read, map and encode files
 * in parallel (RowBinary when the warehouse takes it) while this thread inserts what they hand
 * back, so reading, mapping and ClickHouse overlap. Without workers (`workers: 0`, or running from
 * the TypeScript sources) the same jobs run here, one insert in flight while the next chunk is
 * read and mapped.
 */

export interface PushOptions {
  wh: Warehouse;
  io: LakeIO;
  dbs: VaultDatabases;
  partition: number;
  loadSec: number;
  piiSalt: string;
  /** Changes per mapped chunk (and so per insert). */
  batchRows: number;
  /** Worker threads; default one per core, at most 4. */
  workers?: number;
  signal?: AbortSignal;
}

export interface PushResult {
  /** Lake rows read per source table. */
  rows: Map<SourceTable, number>;
  /** Satellite rows the mapping produced, per vault table (what staging must hold). */
  expected: Map<string, number>;
  /** Latest commit time read per source table (µs). */
  hwm: Map<SourceTable, number>;
  /** Lake rows not loaded: bad values (src/lib/values) or changes the mapping refuses. */
  rejects: PushReject[];
  timings: Record<string, number>;
}

/** Where a refused lake row is (`origin#row`, or the change's origin) and why (never its value). */
export interface PushReject {
  origin: string;
  reason: string;
}

type Format = 'RowBinary' | 'objects';

/** One mapped chunk of a data file, ready for the staging tables. */
export interface PushChunk {
  table: SourceTable;
  rows: number;
  maxTs: number;
  /** Satellite rows per vault table. */
  sat: Record<string, number>;
  rejects: PushReject[];
  tables: { table: string; rows: number; data?: Uint8Array; objects?: Record<string, unknown>[] }[];
  mapMs: number;
  readMs: number;
}

export interface PushJob {
  table: SourceTable;
  /** The table's plan narrowed to one data file. */
  plan: LakeScanPlan;
}

/**
 * Changes mapped at a time: the mapping's row objects then die young (a scavenge) instead of
 * filling the old generation, which made garbage collection the largest cost with 100k at once.
 */
const MAP_SLICE = 10_000;

/** Reads one job's file and yields it mapped and encoded in chunks of about `batchRows` changes. */
export async function* runPushJob(
  io: LakeIO,
  job: PushJob,
  o: { piiSalt: string; loadSec: number; batchRows: number; format: Format },
): AsyncGenerator<PushChunk> {
  const loadTs = new Date(o.loadSec * 1000);
  let chunk = emptyChunk(job.table);
  const parts = new Map<string, { rows: number; data: Uint8Array[]; objects: Record<string, unknown>[] }>();
  const flush = (): PushChunk => {
    for (const t of VAULT_TABLES) {
      const p = parts.get(t.name);
      if (!p) continue;
      chunk.tables.push(
        o.format === 'RowBinary'
          ? { table: t.name, rows: p.rows, data: p.data.length === 1 ? p.data[0]! : Buffer.concat(p.data) }
          : { table: t.name, rows: p.rows, objects: p.objects },
      );
    }
    parts.clear();
    const out = chunk;
    chunk = emptyChunk(job.table);
    return out;
  };
  let t0 = Date.now();
  for await (const batch of readPlanChanges(io, job.table, job.plan)) {
    chunk.readMs += Date.now() - t0;
    for (const r of batch.rejects) chunk.rejects.push({ origin: r.origin, reason: r.reason });
    for (let i = 0; i < batch.changes.length; i += MAP_SLICE) {
      const changes = batch.changes.slice(i, i + MAP_SLICE);
      const t1 = Date.now();
      for (const c of changes) if (c.commitTsUs > chunk.maxTs) chunk.maxTs = c.commitTsUs;
      const mapped = mapChangesIsolated(changes, { piiSalt: o.piiSalt, loadTs });
      for (const r of mapped.rejected)
        chunk.rejects.push({ origin: r.change.origin ?? job.table, reason: r.error.message });
      const rowSet = mapped.rows;
      for (const t of VAULT_TABLES) {
        const list = rowSet.get(t.name);
        if (!list || list.length === 0) continue;
        if (t.kind === 'satellite') chunk.sat[t.name] = (chunk.sat[t.name] ?? 0) + list.length;
        let p = parts.get(t.name);
        if (!p) parts.set(t.name, (p = { rows: 0, data: [], objects: [] }));
        p.rows += list.length;
        if (o.format === 'RowBinary') p.data.push(encodeRowBinary(t, list));
        else for (const r of list) p.objects.push(r);
      }
      chunk.rows += changes.length;
      chunk.mapMs += Date.now() - t1;
      if (chunk.rows >= o.batchRows) yield flush();
    }
    t0 = Date.now();
  }
  if (chunk.rows > 0 || chunk.rejects.length > 0) yield flush();
}

function emptyChunk(table: SourceTable): PushChunk {
  return { table, rows: 0, maxTs: 0, sat: {}, rejects: [], tables: [], mapMs: 0, readMs: 0 };
}

/** Splits every plan into one job per data file, largest first (so workers finish together). */
function jobsOf(plans: Map<SourceTable, LakeScanPlan>): PushJob[] {
  const jobs: { job: PushJob; size: number }[] = [];
  for (const [table, plan] of plans) {
    if (plan.format === 'iceberg')
      for (const f of plan.dataFiles)
        jobs.push({ job: { table, plan: { ...plan, dataFiles: [f] } }, size: f.size });
    else
      for (const f of plan.files) jobs.push({ job: { table, plan: { ...plan, files: [f] } }, size: f.size });
  }
  return jobs.sort((a, b) => b.size - a.size).map((j) => j.job);
}

export function defaultPushWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export async function stagePush(o: PushOptions, plans: Map<SourceTable, LakeScanPlan>): Promise<PushResult> {
  const format: Format = o.wh.insertEncoded ? 'RowBinary' : 'objects';
  const result: PushResult = {
    rows: new Map([...plans.keys()].map((t) => [t, 0])),
    expected: new Map(),
    hwm: new Map(),
    rejects: [],
    timings: { readMs: 0, mapMs: 0, insertMs: 0 },
  };
  const byName = new Map(VAULT_TABLES.map((t) => [t.name, t]));
  // Inserts run one after another (chDB takes one statement at a time anyway); the queue is bounded.
  let insertChain: Promise<void> = Promise.resolve();
  let queued = 0;
  let insertFailure: unknown;
  const insert = (chunk: PushChunk): void => {
    queued++;
    insertChain = insertChain.then(async () => {
      try {
        if (insertFailure) return;
        const t0 = Date.now();
        for (const t of chunk.tables) {
          const table = stagingName(o.dbs, byName.get(t.table)!, o.partition);
          if (t.data)
            await o.wh.insertEncoded!(table, rowBinaryColumns(byName.get(t.table)!), 'RowBinary', t.data);
          else await o.wh.insert(table, t.objects ?? []);
        }
        result.timings.insertMs! += Date.now() - t0;
      } catch (err) {
        insertFailure ??= err;
      } finally {
        queued--;
      }
    });
  };
  const account = (chunk: PushChunk): void => {
    result.rows.set(chunk.table, (result.rows.get(chunk.table) ?? 0) + chunk.rows);
    if (chunk.rows > 0 && chunk.maxTs > (result.hwm.get(chunk.table) ?? 0))
      result.hwm.set(chunk.table, chunk.maxTs);
    for (const [t, n] of Object.entries(chunk.sat)) result.expected.set(t, (result.expected.get(t) ?? 0) + n);
    for (const r of chunk.rejects) result.rejects.push(r);
    result.timings.readMs! += chunk.readMs;
    result.timings.mapMs! += chunk.mapMs;
  };
  const waitForRoom = async (limit: number) => {
    while (queued > limit && !insertFailure)
      await Promise.race([insertChain, new Promise((r) => setTimeout(r, 50))]);
  };

  const jobs = jobsOf(plans);
  const lake = workerLakeOf(o.io);
  const pool = PushPool.create(lake ? Math.min(o.workers ?? defaultPushWorkers(), jobs.length) : 0, {
    lake: lake ?? { root: o.io.root, kind: o.io.kind, endpoint: undefined },
    piiSalt: o.piiSalt,
    loadSec: o.loadSec,
    batchRows: o.batchRows,
    format,
  });
  try {
    if (pool) {
      await pool.run(jobs, async (chunk) => {
        o.signal?.throwIfAborted();
        if (insertFailure) throw insertFailure;
        account(chunk);
        insert(chunk);
        await waitForRoom(pool.size * 2);
      });
    } else {
      for (const job of jobs) {
        for await (const chunk of runPushJob(o.io, job, { ...o, format })) {
          o.signal?.throwIfAborted();
          account(chunk);
          insert(chunk);
          await waitForRoom(1); // the next chunk is read and mapped while this one is inserted
          if (insertFailure) throw insertFailure;
        }
      }
    }
    await insertChain;
    if (insertFailure) throw insertFailure;
  } finally {
    await pool?.close();
    await insertChain;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Worker threads (push-worker.ts runs runPushJob)

export interface PushWorkerInit {
  lake: { root: string; kind: 's3' | 'local'; endpoint: string | undefined; anywhere?: boolean };
  piiSalt: string;
  loadSec: number;
  batchRows: number;
  format: Format;
}

export type PushWorkerMessage =
  | { id: number; kind: 'chunk'; chunk: PushChunk }
  | { id: number; kind: 'done' }
  | { id: number; kind: 'error'; error: { name: string; message: string; hint?: string } };

/** A failure inside a push worker, rebuilt here: a bad lake file or value is a data problem (exit 1). */
class PushWorkerError extends DataProblemError {
  override readonly code = 'BACKFILL_PUSH_FAILED';
}

export function openWorkerLake(init: PushWorkerInit['lake']): LakeIO {
  return openLake(init.root, {
    ...(init.endpoint ? { s3Endpoint: init.endpoint } : {}),
    ...(init.anywhere ? { anywhere: true } : {}),
  });
}

/**
 * How a worker opens the same lake, or undefined when it cannot (the jobs then run here). A REST
 * catalog's tables are on S3 wherever the catalog put them: the worker reads them as the catalog
 * IO's own S3 client does; a catalog over local files stays in this thread.
 */
function workerLakeOf(io: LakeIO): PushWorkerInit['lake'] | undefined {
  const endpoint = (io as { endpoint?: string }).endpoint;
  if (!isCatalogIO(io)) return { root: io.root, kind: io.kind, endpoint };
  if (io.hasLocalFiles) return undefined;
  return { root: io.objectStoreRoot, kind: 's3', endpoint, anywhere: true };
}

/**
 * A young generation larger than V8's default: the mapping allocates many short-lived rows, and
 * with the default most of them survived two scavenges into the old generation.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 96 };

class PushPool {
  private constructor(private readonly workers: Worker[]) {}

  static create(size: number, init: PushWorkerInit): PushPool | undefined {
    if (size < 1) return undefined;
    const file = fileURLToPath(new URL('./push-worker.js', import.meta.url));
    if (!existsSync(file)) return undefined; // TypeScript sources (tests): run the jobs here
    return new PushPool(
      Array.from(
        { length: size },
        () => new Worker(file, { workerData: init, resourceLimits: WORKER_LIMITS }),
      ),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs the jobs on the workers, handing each chunk to `onChunk` (awaited) as it arrives. */
  run(jobs: PushJob[], onChunk: (chunk: PushChunk) => Promise<void>): Promise<void> {
    let next = 0;
    let active = 0;
    let failed = false;
    return new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        reject(err as Error);
      };
      const dispatch = (w: Worker) => {
        if (failed) return;
        if (next >= jobs.length) {
          if (active === 0) resolve();
          return;
        }
        const id = next++;
        active++;
        w.postMessage({ id, job: jobs[id] });
      };
      for (const w of this.workers) {
        // Chunks of one worker are handled in order; the worker keeps mapping meanwhile.
        let chain: Promise<void> = Promise.resolve();
        w.on('message', (m: PushWorkerMessage) => {
          chain = chain.then(async () => {
            if (failed) return;
            try {
              if (m.kind === 'chunk') await onChunk(m.chunk);
              else if (m.kind === 'done') {
                active--;
                dispatch(w);
              } else {
                const e = new PushWorkerError(m.error.message, m.error.hint ? { hint: m.error.hint } : {});
                e.name = m.error.name;
                fail(e);
              }
            } catch (err) {
              fail(err);
            }
          });
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`A backfill worker thread exited with code ${code}.`));
        });
        dispatch(w);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
