import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { BatchOutcome, Loader } from './loader.js';
import { MAX_NESTING, nestsDeeperThan, parseJsonExact } from '../values/index.js';
import type { DeadLetter, DeadLetterSink, StreamMessage } from './types.js';

/**
 * `stream --from-file FILE`: replays captured events, one JSON object per line, either
 * `{"topic","partition","offset","key","value"}` (key/value as JSON or as strings holding JSON,
 * null value = tombstone) or the envelope `kcat -C -J` prints (`payload` instead of `value`,
 * headers as a flat [name, value, ...] list). Lines that are not such objects are rejected like
 * undecodable events. Without --until-idle the file is followed (like `tail -f`) until a signal.
 */

/** Replay lines longer than this are rejected unread (`--max-line-bytes`): 16 MiB, 16× Kafka's default message size. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

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
  /** Longest line accepted, in bytes (DEFAULT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
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
  const flush = async () => {
    if (o.loader.pending === 0) return;
    o.onBatch(await o.loader.process(o.loader.take()));
  };
  const lines = new LineSplitter(o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const take = async (line: Line) => {
    if (line.tooLong) o.loader.addReject(tooLongReject(line.n, lines.maxBytes));
    else if (line.text.trim() !== '') addLine(o, line.text, line.n);
    if (o.loader.pending >= o.batchSize) await flush();
  };
  try {
    const buf = Buffer.alloc(1 << 20);
    let position = 0;
    for (;;) {
      if (o.signal.aborted) break;
      const { bytesRead } = await handle.read(buf, 0, buf.length, position);
      if (bytesRead === 0) {
        if (!o.follow) {
          const last = lines.end();
          if (last) await take(last);
          break;
        }
        if (o.loader.pending > 0 && o.loader.pendingAgeMs >= o.batchMaxMs) await flush();
        await sleep(200, undefined, { signal: o.signal }).catch(() => undefined);
        continue;
      }
      position += bytesRead;
      for (const line of lines.push(buf.subarray(0, bytesRead))) await take(line);
    }
    await flush();
  } finally {
    await handle.close();
  }
  return { lines: lines.count, stoppedBy: o.signal.aborted ? 'signal' : 'eof' };
}

interface Line {
  /** 1-based line number. */
  n: number;
  text: string;
  tooLong: boolean;
}

/**
 * Splits bytes into lines in linear time: a line's pieces are kept as buffers and decoded once,
 * when its newline arrives (so a UTF-8 character split across reads stays whole), and a line past
 * `maxBytes` is dropped as it streams in, keeping memory bounded by the cap.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;
  count = 0;

  constructor(readonly maxBytes: number) {}

  /** The complete lines in `chunk` (which may be reused by the caller afterwards). */
  *push(chunk: Buffer): Generator<Line> {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield this.finish(chunk.subarray(start, nl));
      start = nl + 1;
    }
    this.keep(chunk.subarray(start));
  }

  /** The last line when the input ends without a newline, if any. */
  end(): Line | undefined {
    if (this.size === 0 && !this.overflow) return undefined;
    return this.finish(Buffer.alloc(0));
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0 || this.overflow) return;
    if (this.size + piece.length > this.maxBytes) {
      this.overflow = true;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(Buffer.from(piece)); // a copy: the read buffer is reused
    this.size += piece.length;
  }

  private finish(tail: Buffer): Line {
    this.count++;
    const tooLong = this.overflow || this.size + tail.length > this.maxBytes;
    const text = tooLong
      ? ''
      : this.parts.length === 0
        ? tail.toString('utf8')
        : Buffer.concat([...this.parts, tail]).toString('utf8');
    this.parts = [];
    this.size = 0;
    this.overflow = false;
    return { n: this.count, text: text.endsWith('\r') ? text.slice(0, -1) : text, tooLong };
  }
}

function tooLongReject(n: number, max: number): DeadLetter {
  return {
    message: { topic: '', partition: 0, offset: String(n - 1), key: null, value: null, line: n },
    reason: 'line-too-long',
    error: `Line ${n} is longer than ${max} bytes; it was skipped unread. Raise --max-line-bytes (SHOPDATA_STREAM_MAX_LINE_BYTES) if such events are expected.`,
  };
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
    obj = parseJsonExact(line);
  } catch (err) {
    // V8's message quotes the text around the error: keep only the position.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    return {
      reject: {
        message: fallback,
        reason: 'malformed-json',
        error: `Line ${n} is not valid JSON${at === undefined ? '' : ` (error at position ${at})`}.`,
      },
    };
  }
  if (nestsDeeperThan(obj, MAX_NESTING)) {
    // Checked before anything recursive (String(), JSON.stringify) touches the parsed value.
    return {
      reject: {
        message: fallback,
        reason: 'nested-too-deep',
        error: `Line ${n} nests arrays or objects deeper than ${MAX_NESTING} levels; no Debezium event does.`,
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
