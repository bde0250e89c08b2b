import { describe, expect, it } from 'vitest';
import { Masker, MASK } from '../../../src/lib/connect/mask.js';
import {
  combineFailures,
  diffConfigs,
  formatChanges,
  looksUnreachable,
  traceReason,
  validationError,
} from '../../../src/lib/connect/operations.js';
import { ConfigError } from '../../../src/lib/errors/index.js';

describe('diffConfigs', () => {
  const m = new Masker();
  it('lists added, removed and changed keys, ignoring Connect’s own name', () => {
    const changes = diffConfigs({ a: '1', b: '2', c: '3' }, { name: 'x', a: '1', b: '20', d: '4' }, m);
    expect(changes).toEqual([
      { key: 'b', change: 'change', live: '20', rendered: '2' },
      { key: 'c', change: 'add', rendered: '3' },
      { key: 'd', change: 'remove', live: '4' },
    ]);
    expect(formatChanges(changes)).toEqual(['  ~ b: 20 → 2', '  + c: 3', '  - d: 4']);
  });
  it('is empty when only name differs, and all-added for a missing connector', () => {
    expect(diffConfigs({ a: '1' }, { name: 'n', a: '1' }, m)).toEqual([]);
    expect(diffConfigs({ a: '1' }, undefined, m)).toEqual([{ key: 'a', change: 'add', rendered: '1' }]);
  });
  it('never shows inline secrets, and says when two masked values differ', () => {
    const changes = diffConfigs(
      { 'database.password': 'new-secret' },
      { 'database.password': 'old-secret' },
      m,
    );
    expect(changes).toEqual([
      { key: 'database.password', change: 'change', live: MASK, rendered: `${MASK} (differs)` },
    ]);
    expect(
      diffConfigs({ 'database.password': '${env:B}' }, { 'database.password': '${env:A}' }, m)[0],
    ).toMatchObject({ live: '${env:A}', rendered: '${env:B}' });
  });
});

describe('failure classification', () => {
  it('recognises an unreachable database in Debezium messages', () => {
    expect(looksUnreachable('Error while validating connector config: The connection attempt failed.')).toBe(
      true,
    );
    expect(
      looksUnreachable('Connection to 127.0.0.1:55439 refused. Check that the hostname and port are correct'),
    ).toBe(true);
    expect(
      looksUnreachable(
        'Unable to connect: Timed out while waiting for a server that matches ReadPreferenceServerSelector',
      ),
    ).toBe(true);
    expect(looksUnreachable('FATAL: password authentication failed for user "cdc"')).toBe(false);
    expect(
      looksUnreachable('Publication autocreation is disabled, please create one and restart the connector.'),
    ).toBe(false);
  });

  it('maps validation errors to exit 3 (database unreachable) or 2 (bad config)', () => {
    const unreachable = validationError(
      {
        connector: 'c',
        template: 't',
        errors: [{ key: 'database.hostname', messages: ['The connection attempt failed.'] }],
        unknownKeys: [],
      },
      'http://w',
    );
    expect((unreachable as unknown as { exitCode: number }).exitCode).toBe(3);
    const bad = validationError(
      {
        connector: 'c',
        template: 't',
        errors: [{ key: 'topic.prefix', messages: ['invalid format'] }],
        unknownKeys: [],
      },
      'http://w',
    );
    expect(bad).toBeInstanceOf(ConfigError);
  });

  it('combines failures of several connectors with the most telling exit code', () => {
    const e2 = new ConfigError('bad');
    const e3 = validationError(
      {
        connector: 'c',
        template: 't',
        errors: [{ key: 'h', messages: ['Connection refused'] }],
        unknownKeys: [],
      },
      'http://w',
    );
    expect(combineFailures([{ connector: 'a', error: e2 }], {})).toBe(e2);
    expect(
      (
        combineFailures(
          [
            { connector: 'a', error: e2 },
            { connector: 'b', error: e3 },
          ],
          {},
        ) as unknown as { exitCode: number }
      ).exitCode,
    ).toBe(3);
    expect(
      (
        combineFailures(
          [
            { connector: 'a', error: e2 },
            { connector: 'b', error: new ConfigError('x') },
          ],
          {},
        ) as unknown as { exitCode: number }
      ).exitCode,
    ).toBe(2);
    expect(
      (
        combineFailures(
          [
            { connector: 'a', error: e2 },
            { connector: 'b', error: new Error('boom') },
          ],
          {},
        ) as unknown as { exitCode: number }
      ).exitCode,
    ).toBe(1);
  });
});

describe('traceReason', () => {
  it('keeps the exception chain, drops the frames', () => {
    const trace = [
      'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.',
      '\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)',
      '\tat java.base/java.lang.Thread.run(Thread.java:1583)',
      'Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed',
      '\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)',
      '\t... 12 more',
    ].join('\n');
    expect(traceReason(trace)).toBe(
      'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.\nCaused by: org.postgresql.util.PSQLException: FATAL: password authentication failed',
    );
    expect(traceReason(undefined)).toBe('(no trace given)');
  });
});
