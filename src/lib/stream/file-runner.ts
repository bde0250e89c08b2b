import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { BatchOutcome, Loader } from './loader.js';
import type { DeadLetter, DeadLetterSink, StreamMessage } from './types.js';

/**
 * `stream --from-file FILE`: replays captured events, one JSON object per line, either
 * `{"topic","partition","offset","key","value"}` (key/value as JSON or as strings holding JSON,
 * null value = tombstone) or the envelope `kcat -C -J` prints (`payload` instead of `value`,
 * headers as a flat [name, value, ...] list). Lines that are not such objects are rejected like
 * undecodable events. Without --until-idle the file is followed (like `tail -f`) until a signal.
 */

export interface FileRunOptions {
  path: string;
  loader: Loader;
  rejects: DeadLetterSink;
  logger: Logger;
  batchSize: number;
  batchMaxMs: number;
  follow: boolean;
  signal: AbortSignal;
  onBatch: (outcome: BatchOutcome) => void;
}

export async function runFile(o: FileRunOptions): Promise<{ lines: number; stoppedBy: 'eof' | 'signal' }> {
  let handle;
  try {
    handle = await open(o.path, 'r');
  } catch (err) {
    throw new UsageError(`Cannot read the replay file ${o.path}: ${(err as Error).message}`, {
      hint: 'Pass an existing JSON-lines file to --from-file.',
    });
  }
  let lines = 0;
  const flush = async () => {
    if (o.loader.pending === 0) return;
    o.onBatch(await o.loader.process(o.loader.take()));
  };
  try {
    const buf = Buffer.alloc(1 << 20);
    let position = 0;
    let rest = '';
    for (;;) {
      if (o.signal.aborted) break;
      const { bytesRead } = await handle.read(buf, 0, buf.length, position);
      if (bytesRead === 0) {
        if (!o.follow) {
          if (rest.trim()) {
            lines++;
            addLine(o, rest, lines);
            rest = '';
          }
          break;
        }
        if (o.loader.pending > 0 && o.loader.pendingAgeMs >= o.batchMaxMs) await flush();
        await sleep(200, undefined, { signal: o.signal }).catch(() => undefined);
        continue;
      }
      position += bytesRead;
      const chunk = rest + buf.toString('utf8', 0, bytesRead);
      const parts = chunk.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        lines++;
        if (line.trim() === '') continue;
        addLine(o, line, lines);
        if (o.loader.pending >= o.batchSize) await flush();
      }
    }
    await flush();
  } finally {
    await handle.close();
  }
  return { lines, stoppedBy: o.signal.aborted ? 'signal' : 'eof' };
}

function addLine(o: FileRunOptions, line: string, n: number): void {
  const parsed = parseReplayLine(line, n);
  if ('reject' in parsed) {
    // Not even a message: it still counts as read and goes to the rejects file with the next batch.
    o.loader.addReject(parsed.reject);
    return;
  }
  o.loader.add(parsed.message);
}

/** One replay line → a message, or a reject when the line is not a message at all. */
export function parseReplayLine(
  line: string,
  n: number,
): { message: StreamMessage } | { reject: DeadLetter } {
  const fallback: StreamMessage = {
    topic: '',
    partition: 0,
    offset: String(n - 1),
    key: null,
    value: line,
    line: n,
  };
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return {
      reject: {
        message: fallback,
        reason: 'malformed-json',
        error: `Line ${n} is not valid JSON: ${(err as Error).message}`,
      },
    };
  }
  if (
    typeof obj !== 'object' ||
    obj === null ||
    Array.isArray(obj) ||
    typeof (obj as { topic?: unknown }).topic !== 'string'
  ) {
    return {
      reject: {
        message: fallback,
        reason: 'not-a-message',
        error: `Line ${n} is not a message object with a "topic" (expected {"topic","partition","offset","key","value"} or kcat -J output).`,
      },
    };
  }
  const o = obj as Record<string, unknown>;
  const isKcat = !('value' in o) && 'payload' in o;
  const value = (isKcat ? o.payload : o.value) ?? null;
  const partition = Number(o.partition ?? 0);
  const offsetRaw = o.offset ?? n - 1;
  const headers: Record<string, string> = {};
  if (Array.isArray(o.headers)) {
    for (let i = 0; i + 1 < o.headers.length; i += 2)
      headers[String(o.headers[i])] = String(o.headers[i + 1]);
  } else if (o.headers && typeof o.headers === 'object') {
    for (const [k, v] of Object.entries(o.headers as Record<string, unknown>))
      if (v !== null && v !== undefined) headers[k] = String(v);
  }
  return {
    message: {
      topic: o.topic as string,
      partition: Number.isInteger(partition) ? partition : 0,
      offset: /^\d+$/.test(String(offsetRaw)) ? String(offsetRaw) : String(n - 1),
      key: (o.key ?? null) as StreamMessage['key'],
      value: value as StreamMessage['value'],
      headers,
      line: n,
    },
  };
}
