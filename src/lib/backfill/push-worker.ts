import { parentPort, workerData } from 'node:worker_threads';
import {
  openWorkerLake,
  runPushJob,
  type PushJob,
  type PushWorkerInit,
  type PushWorkerMessage,
} from './push.js';

/** Worker thread of push mode: reads, maps and encodes the data files it is sent (push.ts). */

const init = workerData as PushWorkerInit;
const io = openWorkerLake(init.lake);

parentPort!.on('message', (msg: { id: number; job: PushJob }) => {
  void (async () => {
    const post = (m: PushWorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
    try {
      for await (const chunk of runPushJob(io, msg.job, init)) {
        const transfer = chunk.tables.flatMap((t) => (t.data ? [t.data.buffer as ArrayBuffer] : []));
        post({ id: msg.id, kind: 'chunk', chunk }, transfer);
      }
      post({ id: msg.id, kind: 'done' });
    } catch (err) {
      const e = err as Error & { hint?: string };
      post({
        id: msg.id,
        kind: 'error',
        error: {
          name: e?.name ?? 'Error',
          message: e?.message ?? String(err),
          ...(e?.hint ? { hint: e.hint } : {}),
        },
      });
    }
  })();
});
