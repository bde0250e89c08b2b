import { parentPort, workerData } from 'node:worker_threads';
import { TopicRouter } from '../debezium/topics.js';
import type { KeyCacheMessage, PoolInit, PrepareJob, PrepareReply } from './pool.js';
import { unpackMessages } from './pool.js';
import { KeyCache, prepareMessages } from './prepare.js';

/** Worker thread of PreparePool: prepares the slices of stream batches it is sent (prepare.ts). */

const init = workerData as PoolInit;
const router = new TopicRouter(init.prefixes);
const keys = new KeyCache();

parentPort!.on('message', (job: PrepareJob | KeyCacheMessage) => {
  if (job.kind !== 'prepare') {
    if (job.kind === 'confirm') keys.confirm(job.id);
    else keys.drop(job.id);
    return;
  }
  let reply: PrepareReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const batch = prepareMessages(
      unpackMessages(job.packed),
      { router, piiSalt: init.piiSalt, loadTsMs: job.loadTsMs, format: init.format },
      { keys, token: job.id },
    );
    for (const t of batch.tables) if (t.data) transfer.push(t.data.buffer as ArrayBuffer);
    transfer.push(batch.loaded.buffer as ArrayBuffer, batch.loadedTs.buffer as ArrayBuffer);
    reply = { id: job.id, ok: true, batch };
  } catch (err) {
    const e = err as Error & { hint?: string };
    reply = {
      id: job.id,
      ok: false,
      error: {
        name: e?.name ?? 'Error',
        message: e?.message ?? String(err),
        ...(e?.hint ? { hint: e.hint } : {}),
      },
    };
  }
  parentPort!.postMessage(reply, transfer);
});
