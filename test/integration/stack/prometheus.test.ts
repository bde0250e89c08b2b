import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STACK_DIR, stack, uniqueName } from '../../helpers/stack.js';

// Needs scripts/stack/up prometheus (Prometheus + Pushgateway, scrape interval 2s).
interface QueryResponse {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** Polls an instant query until it returns a sample or the deadline passes. */
async function waitForSample(
  query: string,
  timeoutMs = 30_000,
): Promise<{ metric: Record<string, string>; value: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await res.json()) as QueryResponse;
    const first = body.data.result[0];
    if (first) return { metric: first.metric, value: first.value[1] };
    if (Date.now() > deadline) throw new Error(`no sample for ${query} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('stack: prometheus', () => {
  const id = uniqueName('stack_probe');
  const targetFile = join(STACK_DIR, 'prometheus', 'targets', `${id}.json`);
  let server: Server | undefined;

  afterAll(async () => {
    rmSync(targetFile, { force: true });
    await fetch(`${stack.pushgatewayUrl}/metrics/job/${id}`, { method: 'DELETE' });
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it('Prometheus and Pushgateway are ready', async () => {
    expect((await fetch(`${stack.prometheusUrl}/-/ready`)).status).toBe(200);
    expect((await fetch(`${stack.pushgatewayUrl}/-/ready`)).status).toBe(200);
  });

  it('scrapes a target dropped into targets/ under job shopdata-stream', async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE stack_probe_gauge gauge\nstack_probe_gauge 7\n`);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { probe: id } }]));
    const sample = await waitForSample(`stack_probe_gauge{job="shopdata-stream",probe="${id}"}`);
    expect(sample.value).toBe('7');
  });

  it('scrapes pushed metrics keeping their job label', async () => {
    const res = await fetch(`${stack.pushgatewayUrl}/metrics/job/${id}`, {
      method: 'PUT',
      body: `# TYPE stack_probe_pushed gauge\nstack_probe_pushed 42\n`,
    });
    expect(res.status).toBe(200);
    const sample = await waitForSample(`stack_probe_pushed{job="${id}"}`);
    expect(sample.value).toBe('42');
  });

  it('reloads its configuration on POST /-/reload', async () => {
    expect((await fetch(`${stack.prometheusUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
  });
});
