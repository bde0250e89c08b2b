import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Kafka } from 'kafkajs';
import { ALL_METRIC_NAMES } from '../../../src/lib/observability/metric-names.js';
import { StreamMetrics } from '../../../src/lib/observability/metrics.js';
import { LagExporter } from '../../../src/lib/observability/lag-exporter.js';
import { backfillDayMetrics, vaultCheckMetrics } from '../../../src/lib/observability/run-reports.js';
import { ArchiveMetrics } from '../../../src/lib/archive/metrics.js';

/**
 * What the program emits, read from its own registries (not a list kept by hand): the stream's
 * /metrics (without Node's process metrics), archive's /metrics, the lag exporter's /metrics, and the metrics the
 * batch commands push.
 */
async function emittedNames(): Promise<string[]> {
  const stream = new StreamMetrics({ processMetrics: false });
  const exporter = new LagExporter({ kafka: new Kafka({ brokers: ['127.0.0.1:1'] }), groups: [] });
  const at = new Date(Date.UTC(2026, 10, 24));
  const pushed = [
    ...Object.keys(
      backfillDayMetrics({
        day: '2026-11-24',
        success: true,
        startedAt: at,
        finishedAt: at,
        rowsWritten: { sat_user: 1 },
        rowsCorrected: { sat_user: 1 },
      }),
    ),
    ...Object.keys(vaultCheckMetrics({ scope: 'all', checks: [], startedAt: at, finishedAt: at })),
  ];
  const archive = new ArchiveMetrics({ processMetrics: false });
  const served = [
    ...(await stream.registry.getMetricsAsJSON()),
    ...(await archive.registry.getMetricsAsJSON()),
    ...(await exporter.registry.getMetricsAsJSON()),
  ];
  return [...new Set([...served.map((m) => m.name), ...pushed])].sort();
}

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../../templates/grafana/shopdata.json', import.meta.url), 'utf8'),
) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = queryPanels.flatMap((p) => p.targets ?? []).map((t) => t.expr);

/** `foo_bucket` of a histogram `foo` counts as `foo`. */
const baseName = (n: string) => n.replace(/_(bucket|sum|count)$/, '');

describe('Grafana dashboard templates/grafana/shopdata.json', () => {
  it('is a dashboard with a Prometheus datasource variable that every panel and query uses', () => {
    expect(dashboard.uid).toBe('shopdata-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    expect(queryPanels.length).toBeGreaterThanOrEqual(10);
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource.uid).toBe('${datasource}');
      expect(new Set(p.targets!.map((t) => t.refId)).size).toBe(p.targets!.length);
    }
  });

  it('has unique panel ids and a grid without overlaps inside 24 columns', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('queries only metric names the program emits, and every one of them', async () => {
    const emitted = await emittedNames();
    expect(emitted.length).toBeGreaterThanOrEqual(ALL_METRIC_NAMES.length);
    // metric-names.ts names everything the registries hold, and nothing else.
    expect(emitted).toEqual([...ALL_METRIC_NAMES].sort());
    const used = new Set(exprs.flatMap((e) => e.match(/\bshopdata_[a-z0-9_]+\b/g) ?? []).map(baseName));
    expect([...used].filter((n) => !emitted.includes(n))).toEqual([]);
    // Every metric the program emits is on the dashboard (the committed offset only feeds an alert).
    expect(emitted.filter((n) => !used.has(n))).toEqual(['shopdata_consumer_committed_offset']);
  });
});
