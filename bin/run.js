#!/usr/bin/env node
// shopdata needs Node >= 22. When started by an older system Node, re-run on the project's own
// Node 22 (the `node` devDependency) if it is installed, so `./bin/run.js` works either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write(
      `shopdata needs Node.js >= 22 (this is ${process.version}). Run \`npm install\` in the project, or install Node 22.\n`,
    );
    process.exit(2);
  }
  const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? (r.signal === 'SIGINT' ? 130 : 1));
}
// `--version` is asked by scripts and health checks: answer without loading oclif (~100 ms).
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(
    `shopdata/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`,
  );
} else {
  // Node's on-disk compile cache roughly halves oclif's load time on later runs.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache?.();
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
