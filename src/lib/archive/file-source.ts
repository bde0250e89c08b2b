import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { parseReplayLine } from '../stream/file-runner.js';
import type { Archiver } from './archiver.js';

/**
 * `archive --from-file FILE`: the replay formats `stream --from-file` reads (its line parser),
 * committed to the lake like Kafka messages — each line's topic/partition/offset is what
 * deduplicates it. Reading starts at the position the lake's snapshots record for this file (when
 * the file's first bytes are still the same), so a second run of the same file reads nothing new
 * and adds nothing.
 */

export interface FileSourceOptions {
  path: string;
  archiver: Archiver;
  logger: Logger;
  /** Follow the file (like `tail -f`) until a signal, instead of stopping at its end. */
  follow: boolean;
  signal: AbortSignal;
  /** Longer lines are rejected (reason `line-too-long`), not held in memory. */
  maxLineBytes: number;
  /** Where to start (from the lake's snapshots), if anything. */
  resumeAt?: { position: number; lines: number } | undefined;
}

const HEAD_BYTES = 64 * 1024;

/** Identity of a replay file: the SHA-256 of its first bytes (up to 64 KiB). */
export async function fileHead(
  path: string,
): Promise<{ headBytes: number; headSha256: string; size: number }> {
  const fh = await openReplay(path);
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, size));
    await fh.read(buf, 0, buf.length, 0);
    return { headBytes: buf.length, headSha256: createHash('sha256').update(buf).digest('hex'), size };
  } finally {
    await fh.close();
  }
}

/** The same check against a recorded head: its first `headBytes` bytes still hash the same. */
export async function sameHead(path: string, headBytes: number, headSha256: string): Promise<boolean> {
  const fh = await openReplay(path);
  try {
    const buf = Buffer.alloc(headBytes);
    const { bytesRead } = await fh.read(buf, 0, headBytes, 0);
    return bytesRead === headBytes && createHash('sha256').update(buf).digest('hex') === headSha256;
  } finally {
    await fh.close();
  }
}

async function openReplay(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new UsageError(`Cannot read the replay file ${path}: ${(err as Error).message}`, {
      hint: 'Pass an existing JSON-lines file to --from-file.',
    });
  }
}

export async function runFileSource(
  o: FileSourceOptions,
): Promise<{ lines: number; position: number; stoppedBy: 'eof' | 'signal' }> {
  const handle = await openReplay(o.path);
  let position = o.resumeAt?.position ?? 0;
  let lines = Math.max(0, o.resumeAt?.lines ?? 0);
  if (position > 0)
    o.logger.info({ file: o.path, position }, 'archive: resuming the replay file where the lake left off');
  // A line is gathered as chunks (never by string concatenation) up to maxLineBytes.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let lineStart = position;
  const buf = Buffer.alloc(1 << 20);
  let readAt = position;
  const endLine = (end: number) => {
    lines++;
    if (tooLong) {
      o.archiver.addReject({
        message: { topic: '', partition: 0, offset: String(lines - 1), key: null, value: null, line: lines },
        reason: 'line-too-long',
        error: `Line ${lines} is longer than ${o.maxLineBytes} bytes; it was not read.`,
      });
    } else {
      const text = Buffer.concat(parts, partBytes).toString('utf8');
      if (text.trim() !== '') {
        const parsed = parseReplayLine(text, lines);
        if ('reject' in parsed) o.archiver.addReject(parsed.reject);
        else o.archiver.add(parsed.message, { size: partBytes, position: lineStart });
      }
    }
    parts = [];
    partBytes = 0;
    tooLong = false;
    lineStart = end;
    o.archiver.setReadPosition(end, lines);
  };
  try {
    for (;;) {
      if (o.signal.aborted) break;
      const { bytesRead } = await handle.read(buf, 0, buf.length, readAt);
      if (bytesRead === 0) {
        if (!o.follow) {
          if (partBytes > 0 || tooLong) endLine(readAt);
          break;
        }
        await o.archiver.flushDue();
        await sleep(200, undefined, { signal: o.signal }).catch(() => undefined);
        continue;
      }
      let from = 0;
      for (;;) {
        const nl = buf.indexOf(10, from);
        const stop = nl === -1 || nl >= bytesRead ? bytesRead : nl;
        if (!tooLong) {
          if (partBytes + (stop - from) > o.maxLineBytes) {
            tooLong = true;
            parts = [];
            partBytes = 0;
          } else if (stop > from) {
            parts.push(Buffer.from(buf.subarray(from, stop)));
            partBytes += stop - from;
          }
        }
        if (stop === bytesRead) break;
        endLine(readAt + nl + 1);
        from = nl + 1;
      }
      readAt += bytesRead;
      await o.archiver.flushDue();
    }
    position = lineStart;
  } finally {
    await handle.close();
  }
  return { lines, position, stoppedBy: o.signal.aborted ? 'signal' : 'eof' };
}
