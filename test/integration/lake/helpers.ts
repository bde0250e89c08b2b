import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { REPO_ROOT, stack, s3Env, uniqueName } from '../../helpers/stack.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';

/** Runs test/python/iceberg_tool.py in the stack's venv (pyiceberg, pyarrow). */
export function pyTool<T = unknown>(cmd: string, req: unknown, env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(stack.python, [`${REPO_ROOT}test/python/iceberg_tool.py`, cmd], {
      env: { ...process.env, ...s3Env, SHOPDATA_S3_ENDPOINT: stack.s3Endpoint, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`iceberg_tool ${cmd} exited ${code}: ${err.slice(-3000)}`));
      else
        resolve(
          JSON.parse(out, (_k, v: unknown, ctx?: { source?: string }) =>
            typeof v === 'number' && !Number.isSafeInteger(v) && ctx?.source && /^-?\d+$/.test(ctx.source)
              ? BigInt(ctx.source)
              : v,
          ) as T,
        );
    });
    child.stdin.end(
      JSON.stringify(req, (_k, v: unknown) => (typeof v === 'bigint' ? `__big__${v}` : v)).replace(
        /"__big__(-?\d+)"/g,
        '$1',
      ),
    );
  });
}

/** A fresh directory below the repository (chDB's icebergLocal/file only read below the cwd). */
const tmpDirs: string[] = [];
export function repoTmpDir(prefix: string): string {
  const dir = `${REPO_ROOT}.stack/tmp/${uniqueName(prefix)}`;
  mkdirSync(dir, { recursive: true });
  tmpDirs.push(dir);
  return dir;
}

/** Removes the directories repoTmpDir made in this test file (call after closing chDB). */
export function removeTmpDirs(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A unique `s3://shopdata-lake/<prefix>` lake. */
export function s3Lake(prefix: string): string {
  return `s3://${stack.s3Bucket}/${uniqueName(prefix)}`;
}

/** Change → the canonical row a reference reader returns (row values + the three meta columns). */
export function expectedRow(c: SourceChange): Record<string, unknown> {
  return { ...c.row, __op: c.op, __ts: c.commitTsUs, __deleted: c.op === 'd' };
}

/** Sort key for comparing row sets regardless of order. */
export function rowKey(r: Record<string, unknown>): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

export function sortRows<T extends Record<string, unknown>>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : 1));
}
