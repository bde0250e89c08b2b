import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/stack.js';
import {
  batchParent,
  injectKafkaHeaders,
  startTracing,
  tracingEnabled,
  withSpan,
} from '../../../src/lib/observability/tracing.js';

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.tsx?$/.test(name)) yield p;
  }
}
const SRC = join(REPO_ROOT, 'src');
const files = [...sources(SRC)].map((f) => ({ path: relative(SRC, f), text: readFileSync(f, 'utf8') }));

describe('tracingEnabled: the one check', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
  it.each([
    [{}, false],
    [endpoint, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'None' }, false],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ ...endpoint, OTEL_TRACES_EXPORTER: 'console' }, false],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'true' }, false],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'false' }, true],
  ])('%j → %s', (env, on) => {
    expect(tracingEnabled(env as NodeJS.ProcessEnv)).toBe(on);
  });

  it('is the only place in src/ that reads the OTEL_* switches', () => {
    const readers = files
      .filter((f) => /OTEL_(TRACES_EXPORTER|SDK_DISABLED|EXPORTER_OTLP_(TRACES_)?ENDPOINT)/.test(f.text))
      .map((f) => f.path)
      .filter((p) => !p.startsWith('commands/')); // help texts may name them
    expect(readers.sort()).toEqual(['lib/observability/otel.ts', 'lib/observability/tracing.ts']);
  });

  it('with tracing off, loads nothing and changes nothing', async () => {
    const handle = await startTracing({ env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
    expect(handle.enabled).toBe(false);
    const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    expect(batchParent([headers])).toBeUndefined();
    expect(injectKafkaHeaders({ ...headers })).toEqual(headers);
    expect(await withSpan('x', {}, (span) => (span.setAttribute('a', 1), 42))).toBe(42);
  });
});

describe('observability module structure', () => {
  it('has no separate metrics/ or tracing/ modules beside observability/', () => {
    expect(existsSync(join(SRC, 'lib/metrics'))).toBe(false);
    expect(existsSync(join(SRC, 'lib/tracing'))).toBe(false);
  });

  it('observability/ does not import from top/; lag comes from kafka/lag.ts', () => {
    const arrows = files
      .filter((f) => f.path.startsWith('lib/observability/'))
      .filter((f) => /from '\.\.\/top\//.test(f.text) || /import\('\.\.\/top\//.test(f.text));
    expect(arrows.map((f) => f.path)).toEqual([]);
  });

  it('no hand-written traceparent parsing outside the W3C propagator', () => {
    const parsers = files.filter((f) => /traceparent/i.test(f.text) && /\[0-9a-f\]\{32\}/.test(f.text));
    expect(parsers.map((f) => f.path)).toEqual([]);
  });

  it('every span name in SPANS is emitted somewhere in src/', async () => {
    const { SPANS } = await import('../../../src/lib/observability/tracing.js');
    const code = files
      .filter((f) => f.path !== 'lib/observability/tracing.ts')
      .map((f) => f.text)
      .join('\n');
    for (const key of Object.keys(SPANS)) expect(code, `SPANS.${key}`).toContain(`SPANS.${key}`);
  });
});
