import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/lib/config/index.js';
import { createLogger } from '../../../src/lib/log/index.js';
import { encodeChange, type EncodeOptions } from '../../helpers/debezium.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { runStream, type StreamResult } from '../../../src/lib/stream/index.js';
import { VAULT_TABLES, META, type VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { stack } from '../../helpers/stack.js';

/** The vault, mart and ops databases of one test, migrated like `shopdata warehouse migrate` does. */
export async function migrated(wh: Warehouse, dbs: VaultDatabases): Promise<VaultDatabases> {
  await migrate(wh, { dbs });
  return dbs;
}

/** One replay-file line holding a Debezium event as Kafka would hand it over (key and value as JSON text). */
export function replayLine(
  c: SourceChange,
  offset: number,
  opts: EncodeOptions = {},
  edit: (text: string) => string = (t) => t,
): string {
  const ev = encodeChange(c, opts);
  return JSON.stringify({ topic: ev.topic, partition: 0, offset, key: ev.key, value: edit(ev.value!) });
}

/** Encoder flavours in turn (schema on and off; decimals precise, string, double), as Debezium may send them. */
export function flavour(i: number): EncodeOptions {
  const withSchema = i % 2 === 0;
  const decimalMode = withSchema
    ? (['precise', 'string', 'double'] as const)[i % 3]!
    : (['string', 'double'] as const)[i % 2]!;
  return { withSchema, decimalMode };
}

export interface StreamRun {
  result: StreamResult;
  /** FILE.rejects.jsonl parsed, one object per dead letter ([] when there is none). */
  rejects: Record<string, unknown>[];
  rejectsText: string;
  rejectsPath: string;
}

/**
 * `shopdata stream --from-file FILE --until-idle` in this process (runStream, the command's own
 * code), so it can share an embedded chDB with the test. `batchSize` 1 makes every event its own
 * insert: first sightings then meet in the table, not in one batch.
 */
export async function streamReplay(
  dir: string,
  clickhouseUrl: string,
  dbs: VaultDatabases,
  salt: string,
  lines: string[],
  batchSize = 1,
): Promise<StreamRun> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `replay-${dbs.vault}.jsonl`);
  writeFileSync(file, lines.join('\n') + '\n');
  const config = loadConfig({
    env: {},
    flags: { 'clickhouse.url': clickhouseUrl, 'pii.salt': salt },
    configFile: undefined,
    cwd: dir,
  }).config;
  const result = await runStream({
    config,
    logger: createLogger({ level: 'error' }),
    signal: new AbortController().signal,
    fromFile: file,
    untilIdle: true,
    idleMs: 200,
    topics: [],
    groupId: 'values-test',
    dlqTopic: 'values-test.dlq',
    batchSize,
    batchMaxMs: 100,
    router: new TopicRouter(),
    vaultDatabase: dbs.vault,
    opsDatabase: dbs.ops,
    giveUpAfterMs: 60_000,
    shutdownGraceMs: 5_000,
  });
  const rejectsPath = `${file}.rejects.jsonl`;
  const rejectsText = existsSync(rejectsPath) ? readFileSync(rejectsPath, 'utf8') : '';
  const rejects = rejectsText
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { result, rejects, rejectsText, rejectsPath };
}

/** Every vault table's rows through FINAL, all columns but load_ts, sorted: for exact comparison. */
export async function vaultRows(wh: Warehouse, dbs: VaultDatabases): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of VAULT_TABLES) {
    const cols = t.columns.filter((c) => c.name !== META.loadTs).map((c) => c.name);
    out[t.name] = await wh.query(
      `SELECT ${cols.join(', ')} FROM ${dbs.vault}.${t.name} FINAL ORDER BY ${cols.join(', ')}`,
    );
  }
  return out;
}

/**
 * Writes products changelog rows as another writer would, with pyarrow, the price as
 * decimal(14, 3): wide enough for values the vault's Decimal(12, 2) must refuse.
 */
export async function writeProductsWithPyarrow(path: string, changes: SourceChange[]): Promise<void> {
  const rows = changes.map((c) => ({
    ...c.row,
    price: c.row.price === null ? null : String(c.row.price),
    __op: c.op,
    __ts: c.commitTsUs,
    __deleted: c.op === 'd',
  }));
  const script = `
import json, sys, decimal
import pyarrow as pa, pyarrow.parquet as pq
req = json.load(sys.stdin)
ts = pa.timestamp('us', tz='UTC')
schema = pa.schema([('id', pa.int64()), ('seller_id', pa.int64()), ('sku', pa.string()), ('name', pa.string()),
    ('category', pa.string()), ('price', pa.decimal128(14, 3)), ('active', pa.bool_()), ('created_at', ts),
    ('updated_at', ts), ('__op', pa.string()), ('__ts', ts), ('__deleted', pa.bool_())])
cols = {f.name: [] for f in schema}
for r in req['rows']:
    for f in schema:
        v = r.get(f.name)
        cols[f.name].append(decimal.Decimal(v) if f.name == 'price' and v is not None else v)
pq.write_table(pa.Table.from_pydict(cols, schema=schema), req['path'], compression='zstd')
`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(stack.python, ['-c', script], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`pyarrow exited ${code}: ${err}`)),
    );
    child.stdin.end(JSON.stringify({ path, rows }));
  });
}
