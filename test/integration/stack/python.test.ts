import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { s3Env, stack, uniqueName } from '../../helpers/stack.js';
import { s3Endpoint } from './ports.js';

const run = promisify(execFile);
// Needs scripts/stack/up python (and s3 for the S3 case).
const scratch = mkdtempSync(join(tmpdir(), 'stack-python-'));

/** Runs a Python snippet in the stack's venv; Airflow gets a throwaway home instead of ~/airflow. */
async function py(code: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(stack.python, ['-c', code], {
    env: { ...process.env, AIRFLOW_HOME: join(scratch, 'airflow'), ...env },
    timeout: 120_000,
  });
  return stdout.trim();
}

// Writes a two-row Iceberg table through a SQLite SQL catalog and reads it back.
const icebergRoundTrip = `
import json, sys, pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
catalog_db, warehouse, table = sys.argv[1:4]
props = {"uri": f"sqlite:///{catalog_db}", "warehouse": warehouse}
props.update(json.loads(sys.argv[4]))
cat = SqlCatalog("probe", **props)
cat.create_namespace_if_not_exists("probe")
data = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]})
t = cat.create_table(f"probe.{table}", schema=data.schema)
t.append(data)
back = cat.load_table(f"probe.{table}").scan().to_arrow().sort_by("id")
print(json.dumps({"rows": back.to_pylist(), "location": t.location(), "format_version": t.format_version}))
`;

async function iceberg(
  warehouse: string,
  extraProps: Record<string, string>,
  env: Record<string, string> = {},
) {
  const table = uniqueName('t');
  const { stdout } = await run(
    stack.python,
    ['-c', icebergRoundTrip, join(scratch, `${table}.db`), warehouse, table, JSON.stringify(extraProps)],
    { env: { ...process.env, ...env }, timeout: 120_000 },
  );
  return JSON.parse(stdout) as { rows: unknown[]; location: string; format_version: number };
}

describe('stack: python venv', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('imports pyiceberg, pyarrow and airflow at the pinned versions', async () => {
    const out = await py(
      'import json, pyiceberg, pyarrow, airflow; print(json.dumps({"pyiceberg": pyiceberg.__version__, "pyarrow": pyarrow.__version__, "airflow": airflow.__version__}))',
    );
    const versions = JSON.parse(out) as Record<string, string>;
    expect(versions).toEqual({ pyiceberg: '0.12.0', pyarrow: '26.0.1', airflow: '3.3.2' });
  });

  it('writes and reads an Iceberg table on local files', async () => {
    const res = await iceberg(`file://${join(scratch, 'warehouse')}`, {});
    expect(res.rows).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);
    expect(res.location.startsWith(`file://${scratch}`)).toBe(true);
    expect(res.format_version).toBe(2);
  });

  it('writes and reads an Iceberg table on the stack S3 server', async () => {
    const prefix = uniqueName('stack-python');
    const res = await iceberg(
      `s3://${stack.s3Bucket}/${prefix}`,
      {
        's3.endpoint': s3Endpoint,
        's3.access-key-id': s3Env.AWS_ACCESS_KEY_ID,
        's3.secret-access-key': s3Env.AWS_SECRET_ACCESS_KEY,
        's3.region': s3Env.AWS_REGION,
      },
      { ...s3Env },
    );
    expect(res.rows).toHaveLength(2);
    expect(res.location.startsWith(`s3://${stack.s3Bucket}/${prefix}/`)).toBe(true);
  });
});
