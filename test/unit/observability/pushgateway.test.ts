import { describe, expect, it } from 'vitest';
import { groupUrl, renderRunMetrics } from '../../../src/lib/observability/pushgateway.js';
import { backfillDayMetrics } from '../../../src/lib/observability/run-reports.js';

describe('Pushgateway helpers', () => {
  it('builds group URLs, base64-encoding values the path cannot carry', () => {
    expect(groupUrl('http://pg:9091/', 'shopdata_backfill', { day: '2026-11-24' })).toBe(
      'http://pg:9091/metrics/job/shopdata_backfill/day/2026-11-24',
    );
    expect(groupUrl('http://pg:9091', 'j', { path: 'a/b', empty: '' })).toBe(
      'http://pg:9091/metrics/job/j/path@base64/YS9i/empty@base64/=',
    );
    expect(groupUrl('http://pg:9091', 'j', { s: 'a b' })).toBe('http://pg:9091/metrics/job/j/s/a%20b');
  });

  it('renders a run as gauges in the text format, per-table series included', async () => {
    const text = await renderRunMetrics(
      backfillDayMetrics({
        day: '2026-11-24',
        success: true,
        startedAt: new Date('2026-11-25T01:00:00Z'),
        finishedAt: new Date('2026-11-25T01:00:12.5Z'),
        rowsWritten: { hub_user: 10 },
      }),
    );
    expect(text).toContain('# TYPE shopdata_backfill_day_success gauge\nshopdata_backfill_day_success 1\n');
    expect(text).toContain(
      `shopdata_backfill_day_timestamp_seconds ${Date.parse('2026-11-24T00:00:00Z') / 1000}\n`,
    );
    expect(text).toContain('shopdata_backfill_duration_seconds 12.5\n');
    expect(text).toContain('shopdata_backfill_rows_written{table="hub_user"} 10\n');
    expect(() =>
      backfillDayMetrics({ day: 'yesterday', success: true, startedAt: new Date(), finishedAt: new Date() }),
    ).toThrow(/YYYY-MM-DD/);
  });
});
