/**
 * Replay files: one huge line split by the stream's LineSplitter (src/lib/stream/file-runner.ts),
 * next to reading the same bytes without splitting, in the same run. Issue 18 §4: a 200 MB line
 * took 17.9 s and 1.7 GB and time grew quadratically; now a line costs time linear in its length
 * and at most `--max-line-bytes` of memory. Prints both ratios (split/read, and the growth of
 * time when the line is 4× longer: ≈ 4 for linear, ≈ 16 for quadratic).
 * Medians of three runs. Run: npm run build && node bench/replay-lines.ts [MB, default 32]
 */
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as FileRunner from '../src/lib/stream/file-runner.js';

// Node strips this file's types but does not map .js imports to .ts: the code comes from dist/.
const runnerModule: string = '../dist/lib/stream/file-runner.js';
const { LineSplitter } = (await import(runnerModule)) as typeof FileRunner;

const mb = Number(process.argv[2] ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'shopdata-bench-lines-'));

function writeLine(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x61);
  for (let left = bytes; left > 0; left -= chunk.length)
    writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  writeSync(fd, Buffer.from('\n'));
  closeSync(fd);
}

/** Reads the file in 1 MiB pieces, as runFile does; `split` feeds them to a LineSplitter. */
function timed(path: string, split: boolean, cap: number): number {
  const buf = Buffer.alloc(1 << 20);
  const s = new LineSplitter(cap);
  const fd = openSync(path, 'r');
  const t = process.hrtime.bigint();
  let lines = 0;
  for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
    if (split) for (const l of s.push(buf.subarray(0, n))) lines += l.text.length > 0 || l.tooLong ? 1 : 0;
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  closeSync(fd);
  if (split && lines !== 1) throw new Error(`expected one line, got ${lines}`);
  return ms;
}

try {
  const small = join(dir, 'small.jsonl');
  const large = join(dir, 'large.jsonl');
  writeLine(small, mb << 20);
  writeLine(large, (4 * mb) << 20);
  const median = (f: () => number) => {
    const t = [f(), f(), f()].sort((a, b) => a - b);
    return t[1]!;
  };
  timed(small, true, 1 << 30); // warm up
  const readSmall = median(() => timed(small, false, 1 << 30));
  const splitSmall = median(() => timed(small, true, 1 << 30));
  const splitLarge = median(() => timed(large, true, 1 << 30));
  const capped = median(() => timed(large, true, 16 << 20));
  console.log(`read only   ${mb} MB line: ${readSmall.toFixed(0)} ms`);
  console.log(
    `split       ${mb} MB line: ${splitSmall.toFixed(0)} ms  ratio to read ${(splitSmall / readSmall).toFixed(2)}x`,
  );
  console.log(
    `split   ${4 * mb} MB line: ${splitLarge.toFixed(0)} ms  growth for 4x bytes ${(splitLarge / splitSmall).toFixed(2)}x (linear ≈ 4, quadratic ≈ 16)`,
  );
  console.log(`capped at 16 MB, ${4 * mb} MB line rejected unread: ${capped.toFixed(0)} ms`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
