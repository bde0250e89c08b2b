import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';

// Runs the built CLI (npm run build first) against the stack's ClickHouse 18.16 with a unique
// database suffix, and checks every stderr line is an ECS document Filebeat can ship as it is.
const suffix = uniqueName('ecs');
const dbs = ['vault', 'mart', 'ops'].map((d) => `${d}__${suffix}`);

afterAll(async () => {
  for (const db of dbs)
    await fetch(`http://127.0.0.1:${new URL(stack.clickhouseUrl).port}/`, {
      method: 'POST',
      body: `DROP DATABASE IF EXISTS ${db}`,
    });
});

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** What Filebeat's ndjson parser with expand_keys does to "a.b": 1 — and where it would clash. */
function expandConflicts(doc: Record<string, unknown>): string[] {
  const keys = Object.keys(doc);
  return keys.filter((k) => keys.some((other) => other !== k && other.startsWith(`${k}.`)));
}

describe('ECS log lines of a CLI run', () => {
  it('are one JSON object per line with the ECS fields, for every line of `warehouse migrate --log-level debug`', async () => {
    const r = await runCli(
      [
        'warehouse',
        'migrate',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--db-suffix',
        suffix,
        '--log-level',
        'debug',
      ],
      {
        env: { SHOPDATA_LOG_LEVEL: undefined },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`stderr line is not JSON: ${line}`);
      }
      expect(typeof doc['@timestamp']).toBe('string');
      expect(new Date(doc['@timestamp'] as string).toISOString()).toBe(doc['@timestamp']);
      expect(LEVELS).toContain(doc['log.level']);
      expect(typeof doc.message).toBe('string');
      expect(doc['service.name']).toBe('shopdata');
      expect(doc['process.pid']).toEqual(expect.any(Number));
      expect(doc['event.action']).toBe('warehouse:migrate');
      // No pino defaults left under non-ECS names.
      expect(Object.keys(doc)).not.toEqual(
        expect.arrayContaining(['level', 'time', 'msg', 'pid', 'hostname']),
      );
      // ECS field sets are objects: a plain `error` or `url` value would break the index mapping.
      for (const set of ECS_FIELD_SETS)
        expect(typeof doc[set] === 'object' || doc[set] === undefined, `field ${set} in ${line}`).toBe(true);
      expect(expandConflicts(doc), line).toEqual([]);
    }
  });

  it('matches the Filebeat template: ndjson into the root, keys expanded, our @timestamp and message kept', () => {
    const inputs = parse(readFileSync(`${REPO_ROOT}templates/filebeat/shopdata.yml`, 'utf8')) as Array<
      Record<string, unknown>
    >;
    expect(inputs).toHaveLength(1);
    const input = inputs[0]!;
    expect(input).toMatchObject({ type: 'filestream', id: 'shopdata', enabled: true });
    const parsers = input.parsers as Array<Record<string, Record<string, unknown>>>;
    expect(parsers[0]!.ndjson).toEqual({
      target: '',
      overwrite_keys: true,
      expand_keys: true,
      add_error_key: true,
      message_key: 'message',
    });
  });
});

/** ECS field sets whose name must never be a plain top-level value (they are objects in ECS). */
const ECS_FIELD_SETS = [
  'agent',
  'as',
  'client',
  'cloud',
  'code_signature',
  'container',
  'data_stream',
  'destination',
  'device',
  'dll',
  'dns',
  'ecs',
  'email',
  'error',
  'event',
  'faas',
  'file',
  'geo',
  'group',
  'hash',
  'host',
  'http',
  'interface',
  'log',
  'network',
  'observer',
  'orchestrator',
  'organization',
  'os',
  'package',
  'pe',
  'process',
  'registry',
  'related',
  'rule',
  'server',
  'service',
  'source',
  'span',
  'threat',
  'tls',
  'trace',
  'transaction',
  'url',
  'user',
  'user_agent',
  'vlan',
  'vulnerability',
  'x509',
] as const;
