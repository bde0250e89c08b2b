import { spawn } from 'node:child_process';
import { REPO_ROOT, ports, s3Env, stack } from '../../helpers/stack.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import type { SourceTable } from '../../../src/lib/vault/types.js';

/** The stack's Iceberg REST catalog (scripts/stack/services/iceberg-rest.sh). */
export const catalogUri = `http://127.0.0.1:${ports.ICEBERG_REST_PORT}`;

export interface ScannedTable {
  rows: Array<Record<string, unknown>>;
  snapshots: Array<{ id: number; summary: Record<string, string> }>;
  files: Array<{ path: string; partition: string; records: number }>;
  schema: { fields: Array<{ id: number; name: string; type: unknown; required: boolean }> };
  spec: Array<[string, string]>;
}

/** Runs catalog_tool.py (pyiceberg) in the stack's venv. */
export function catalogTool<T>(cmd: 'scan' | 'create' | 'append', req: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(stack.python, [`${REPO_ROOT}test/integration/lake-sink/catalog_tool.py`, cmd], {
      env: { ...process.env, ...s3Env, SHOPDATA_S3_ENDPOINT: stack.s3Endpoint },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`catalog_tool ${cmd} exited ${code}: ${err.slice(-3000)}`));
      else resolve(JSON.parse(out) as T);
    });
    child.stdin.end(JSON.stringify(req));
  });
}

export function scanLake(
  namespace: string,
  tables: readonly string[],
): Promise<Record<string, ScannedTable>> {
  return catalogTool<Record<string, ScannedTable>>('scan', { uri: catalogUri, namespace, tables });
}

/** GET on the catalog's REST API (status and JSON body). */
export async function catalogGet(path: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${catalogUri}${path}`);
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** The row's key as the contract declares it (id, user_id or _id), as text. */
export function keyOf(table: SourceTable, row: Record<string, unknown>): string {
  return LAKE_SCHEMAS[table].key.map((k) => String(row[k])).join('|');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value (not undefined) or fails after timeoutMs with `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  pollMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} did not happen within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await sleep(pollMs);
  }
}

/** Drops every table of the namespaces (with their files) and the namespaces; best effort. */
export async function dropNamespaces(namespaces: string[]): Promise<void> {
  for (const ns of namespaces) {
    const list = await catalogGet(`/v1/namespaces/${ns}/tables`).catch(() => undefined);
    const ids = (list?.body as { identifiers?: Array<{ name: string }> } | undefined)?.identifiers ?? [];
    for (const t of ids)
      await fetch(`${catalogUri}/v1/namespaces/${ns}/tables/${t.name}?purgeRequested=true`, {
        method: 'DELETE',
      }).catch(() => undefined);
    await fetch(`${catalogUri}/v1/namespaces/${ns}`, { method: 'DELETE' }).catch(() => undefined);
  }
}

/**
 * Rows in each table's current snapshot (`total-records` of its summary), from the catalog's REST
 * API: a cheap progress probe; the rows themselves are read with pyiceberg.
 */
export async function lakeTotals(
  namespace: string,
  tables: readonly SourceTable[],
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const { status, body } = await catalogGet(`/v1/namespaces/${namespace}/tables/${t}`);
    if (status !== 200) throw new Error(`table ${namespace}.${t}: HTTP ${status}`);
    const meta = (
      body as {
        metadata: {
          'current-snapshot-id'?: number;
          snapshots?: Array<{ 'snapshot-id': number; summary: Record<string, string> }>;
        };
      }
    ).metadata;
    const snap = meta.snapshots?.find((s) => s['snapshot-id'] === meta['current-snapshot-id']);
    out[t] = Number(snap?.summary['total-records'] ?? 0);
  }
  return out;
}
