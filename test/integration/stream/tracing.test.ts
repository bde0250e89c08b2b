import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { SALT, createVault, dropVault, encodeAll, makeChanges, namespace } from './support.js';

// The W3C trace context in message headers continues into one span per batch, exported over
// OTLP/HTTP (JSON) to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT — here a local HTTP server
// standing in for a collector.

const ns = namespace('strace');
const dir = mkdtempSync(join(tmpdir(), 'shopdata-trace-'));
const file = join(dir, 'events.jsonl');
let wh: Warehouse;
let server: Server;
let port = 0;
const bodies: unknown[] = [];

interface OtlpSpan {
  name: string;
  traceId: string;
  parentSpanId?: string;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

const hex = (s: string | undefined) =>
  s && /^[0-9a-f]+$/i.test(s) ? s.toLowerCase() : Buffer.from(s ?? '', 'base64').toString('hex');

describe('stream: batch spans continue the producer trace', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await dropVault(wh, ns);
    await wh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports a stream.batch span whose parent is the first traceparent and links the others', async () => {
    const messages = encodeAll(makeChanges(30, 3), ns.router, { light: true });
    const traceA = '0af7651916cd43dd8448eb211c80319c';
    const traceB = '4bf92f3577b34da6a3ce929d0e0e4736';
    const lines = messages.map((m, i) =>
      JSON.stringify({
        topic: m.topic,
        partition: 0,
        offset: i,
        key: m.key,
        value: m.value,
        headers:
          i === 0
            ? { traceparent: `00-${traceA}-b7ad6b7169203331-01` }
            : i === 5
              ? { traceparent: `00-${traceB}-00f067aa0ba902b7-01` }
              : {},
      }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
    const res = await runCli(
      [
        'stream',
        '--from-file',
        file,
        '--until-idle',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--postgres-topic-prefix',
        ns.router.prefixes.postgres,
        '--mongo-topic-prefix',
        ns.router.prefixes.mongo,
        '--db-suffix',
        ns.suffix,
        '--batch-size',
        '1000',
      ],
      {
        env: {
          SHOPDATA_PII_SALT: SALT,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_SERVICE_NAME: 'stream-test',
        },
      },
    );
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    const spans = bodies.flatMap((b) =>
      (b as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }).resourceSpans.flatMap(
        (rs) => rs.scopeSpans.flatMap((ss) => ss.spans),
      ),
    );
    const batch = spans.find((s) => s.name === 'stream.batch');
    expect(batch, JSON.stringify(bodies).slice(0, 500)).toBeDefined();
    expect(hex(batch!.traceId)).toBe(traceA);
    expect(hex(batch!.parentSpanId)).toBe('b7ad6b7169203331');
    expect(batch!.links?.map((l) => hex(l.traceId))).toEqual([traceB]);
    const attr = (k: string) => batch!.attributes.find((a) => a.key === k)?.value;
    expect(attr('messaging.batch.message_count')).toEqual({ intValue: messages.length });
    expect(JSON.stringify(attr('shopdata.tables'))).toContain('hub_');
    expect(Number((attr('shopdata.rows') as { intValue: number | string }).intValue)).toBeGreaterThan(0);
  });
});
