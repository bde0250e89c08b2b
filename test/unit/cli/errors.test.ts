import { describe, it, expect } from 'vitest';
import {
  ConfigError,
  DataProblemError,
  DependencyUnavailableError,
  InterruptedError,
  UsageError,
  exitCodeFor,
  isNetworkError,
  toShopdataError,
} from '../../../src/lib/errors/index.js';

describe('error → exit code mapping (docs/CONTRACT.md §3)', () => {
  it('maps each error class to its code', () => {
    expect(exitCodeFor(new DataProblemError('2 orphans'))).toBe(1);
    expect(exitCodeFor(new UsageError('bad date'))).toBe(2);
    expect(exitCodeFor(new ConfigError('bad key'))).toBe(2);
    expect(exitCodeFor(new DependencyUnavailableError('kafka', 'down'))).toBe(3);
    expect(exitCodeFor(new InterruptedError('SIGINT'))).toBe(130);
  });

  it('treats oclif parse errors as usage errors', () => {
    const parseErr = Object.assign(new Error('Nonexistent flag: --bogus'), { oclif: { exit: 2 } });
    expect(exitCodeFor(parseErr)).toBe(2);
  });

  it('treats connection failures, also nested, as unavailable dependencies', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(isNetworkError(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(exitCodeFor(refused)).toBe(3);
  });

  it('never reports an unexpected failure as success', () => {
    const e = toShopdataError(new TypeError('x is undefined'));
    expect(e.exitCode).toBe(1);
    expect(e.toJSON()).toMatchObject({ code: 'INTERNAL', message: 'x is undefined' });
  });
});
