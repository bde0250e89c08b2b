/**
 * Start-up cost of the CLI: wall time of `shopdata --version` next to `node -e 0` on the same Node,
 * in the same run, as a ratio (target: under 3×). Run: npx node bench/startup.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 20);
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url));

function medianMs(args: string[]): number {
  const times: number[] = [];
  spawnSync(process.execPath, args); // warm the page cache
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const baseline = medianMs(['-e', '0']);
const cli = medianMs([bin, '--version']);
const help = medianMs([bin, 'backfill', '--help']);
console.log(`node -e 0                 median ${baseline.toFixed(1)} ms (${runs} runs, ${process.version})`);
console.log(
  `shopdata --version        median ${cli.toFixed(1)} ms  ratio ${(cli / baseline).toFixed(2)}x  (target < 3x)`,
);
console.log(`shopdata backfill --help  median ${help.toFixed(1)} ms  ratio ${(help / baseline).toFixed(2)}x`);
