import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { testDatabases, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack, uniqueName } from '../../helpers/stack.js';

/**
 * The two engines every vault test runs on: the stack's ClickHouse 18.16 server (HTTP) and
 * embedded chDB 26. chDB keeps one engine per process, so each test file uses one fresh temp
 * directory for all its chDB tests.
 */
let chdbPath: string | undefined;
export function chdbUrl(): string {
  chdbPath ??= mkdtempSync(join(tmpdir(), 'shopdata-vault-'));
  return `chdb:${chdbPath}`;
}

export const ENGINES = [
  { name: 'clickhouse 18.16 (http)', url: () => stack.clickhouseUrl },
  { name: 'chdb 26', url: () => chdbUrl() },
] as const;

export async function openEngine(url: string): Promise<Warehouse> {
  return openWarehouse(url, { retries: 2 });
}

/** Unique vault/mart/ops names for one test (parallel-safe on the shared server). */
export function uniqueDatabases(prefix = 't'): VaultDatabases {
  return testDatabases(uniqueName(prefix));
}

export async function dropDatabases(wh: Warehouse, dbs: VaultDatabases): Promise<void> {
  for (const db of [dbs.mart, dbs.vault, dbs.ops]) await wh.exec(`DROP DATABASE IF EXISTS ${db}`);
}
