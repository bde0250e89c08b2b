import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { stack } from '../../helpers/stack.js';

// Every query of the Grafana dashboard is valid PromQL for the stack's real Prometheus 2.42
// (Grafana's $__rate_interval replaced by what it would send).
const dashboard = JSON.parse(
  readFileSync(new URL('../../../templates/grafana/shopdata.json', import.meta.url), 'utf8'),
) as {
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
};

describe('Grafana dashboard queries on the real Prometheus', () => {
  it('all evaluate without error', async () => {
    const queries = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '1m') })),
    );
    expect(queries.length).toBeGreaterThan(15);
    for (const q of queries) {
      const res = await fetch(`${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q.expr)}`);
      const body = (await res.json()) as { status: string; error?: string };
      expect({ panel: q.panel, status: body.status, error: body.error }).toEqual({
        panel: q.panel,
        status: 'success',
        error: undefined,
      });
    }
  });
});
