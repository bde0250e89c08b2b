import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack, s3Env, uniqueName, REPO_ROOT } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1 } from '../../fixtures/lake/changes.js';
import { s3Lake } from '../lake/helpers.js';
import {
  SALT,
  createVault,
  dropVault,
  loadLikeStream,
  vaultSnapshot,
  openServer,
} from '../backfill/helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

const airflowHome = mkdtempSync(join(tmpdir(), 'airflow-'));
const airflowEnv = {
  AIRFLOW_HOME: airflowHome,
  AIRFLOW__CORE__DAGS_FOLDER: `${REPO_ROOT}dags`,
  AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
};

function py(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      args[0] === 'airflow' ? `${stack.python.replace(/python$/, 'airflow')}` : stack.python,
      args[0] === 'airflow' ? args.slice(1) : args,
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...airflowEnv, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

let wh: Warehouse;
let io: LakeIO;
let lake: string;
const dbsList: VaultDatabases[] = [];
const changes = sampleChanges(20, 21);

beforeAll(async () => {
  wh = await openServer();
  lake = s3Lake('airflow');
  io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
});
afterAll(async () => {
  for (const d of dbsList) await dropVault(wh, d);
  io?.close();
  await wh?.close();
  rmSync(airflowHome, { recursive: true, force: true });
});

describe('dags/shopdata_daily.py in Airflow 3', () => {
  it('imports without errors (DagBag): backfill → vault_check with retries', async () => {
    const res = await py([
      '-c',
      `import json
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.bash import BashOperator
bag = DagBag(dag_folder=${JSON.stringify(`${REPO_ROOT}dags`)})
d = bag.dags['shopdata_daily']
t = {x.task_id: x for x in d.tasks}
import importlib.util
spec = importlib.util.spec_from_file_location("dagfile", ${JSON.stringify(`${REPO_ROOT}dags/shopdata_daily.py`)})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": sorted(t), "downstream": sorted(t['backfill'].downstream_task_ids), "retries": t['backfill'].retries, "cmd": t['backfill'].bash_command, "bash": isinstance(t['backfill'], BashOperator), "catchup": d.catchup, "doc": m.__doc__}))`,
    ]);
    expect(res.code, res.out).toBe(0);
    const info = JSON.parse(res.out.trim().split('\n').at(-1)!) as {
      errors: object;
      tasks: string[];
      downstream: string[];
      retries: number;
      cmd: string;
      bash: boolean;
      catchup: boolean;
      doc: string;
    };
    expect(info.errors).toEqual({});
    expect(info.tasks).toEqual(['backfill', 'vault_check']);
    expect(info.downstream).toEqual(['vault_check']);
    expect(info.retries).toBeGreaterThanOrEqual(1);
    expect(info.bash).toBe(true);
    // The docstring describes the DAG as it is: no catch-up, and how to rebuild missed days.
    expect(info.catchup).toBe(false);
    expect(info.doc).toMatch(/catchup=False/);
    expect(info.doc).not.toMatch(/catchup` replays/);
    expect(info.cmd).toContain('backfill --date {{ ds }}');
  });

  it('fails a task at once on exit 2 (usage), and leaves exit 3 (dependency down) to the retries', async () => {
    const migrate = await py(['airflow', 'db', 'migrate']);
    expect(migrate.code, migrate.out.slice(-2000)).toBe(0);
    const base = { SHOPDATA_BIN: `${REPO_ROOT}bin/run.js`, SHOPDATA_PII_SALT: SALT, SHOPDATA_LAKE: lake };
    const usage = await py(['airflow', 'tasks', 'test', 'shopdata_daily', 'backfill', DAY1], {
      ...base,
      AIRFLOW_VAR_SHOPDATA_BACKFILL_ARGS: '--to not-a-day',
    });
    expect(usage.out).toMatch(/--to "not-a-day" is not a calendar day/);
    expect(usage.out).toMatch(/new_state=failed/);
    expect(usage.out).not.toMatch(/new_state=up_for_retry/);
    const down = await py(['airflow', 'tasks', 'test', 'shopdata_daily', 'backfill', DAY1], {
      ...base,
      ...s3Env,
      SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
      SHOPDATA_CLICKHOUSE_URL: 'http://default:@127.0.0.1:1',
    });
    expect(down.out).toMatch(/exit code 3/);
    expect(down.out).toMatch(/new_state=up_for_retry/);
  });

  it('a task run executes the CLI: `airflow tasks test shopdata_daily backfill` loads the day', async () => {
    const migrate = await py(['airflow', 'db', 'migrate']);
    expect(migrate.code, migrate.out.slice(-2000)).toBe(0);
    const suffix = uniqueName('af');
    const dbs = await createVault(wh, 'af', suffix);
    dbsList.push(dbs);
    const res = await py(['airflow', 'tasks', 'test', 'shopdata_daily', 'backfill', DAY1], {
      ...s3Env,
      SHOPDATA_BIN: `${REPO_ROOT}bin/run.js`,
      // One setting from an Airflow Variable, the others from the worker's environment.
      AIRFLOW_VAR_SHOPDATA_LAKE: lake,
      AIRFLOW_VAR_SHOPDATA_BACKFILL_ARGS: `--db-suffix ${suffix} --mode push`,
      SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
      SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
      SHOPDATA_PII_SALT: SALT,
      SHOPDATA_LAKE: 's3://wrong-bucket/not-used',
    });
    expect(res.code, res.out.slice(-3000)).toBe(0);
    expect(res.out).toMatch(/Backfilled 2026-11-23 \(push mode/);
    const { dbs: exp } = { dbs: await createVault(wh, 'afexp') };
    dbsList.push(exp);
    await loadLikeStream(
      wh,
      exp,
      onDay(
        SOURCE_TABLES.flatMap((t) => changes[t]),
        DAY1,
      ),
    );
    expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, exp));
  });
});
