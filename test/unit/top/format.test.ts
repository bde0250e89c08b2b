import { describe, expect, it } from 'vitest';
import { fmtDuration, fmtCount, sparkline, fit, fitTail } from '../../../src/lib/top/format.js';
import { parsePrometheusText, StreamMetricsSource } from '../../../src/lib/top/metrics-source.js';

describe('formatting', () => {
  it('sparkline scales to the max and pads to the width', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe('▁▂▃▅█');
    expect(sparkline([0, 0], 4)).toBe('  ▁▁');
    expect(sparkline([1, 2, 3, 4, 5, 6], 3)).toHaveLength(3);
  });
  it('durations and counts stay short', () => {
    expect(fmtDuration(0)).toBe('0s');
    expect(fmtDuration(75)).toBe('1m15s');
    expect(fmtDuration(7380)).toBe('2h03m');
    expect(fmtDuration(90_000)).toBe('1d1h');
    expect(fmtDuration(null)).toBe('-');
    expect(fmtCount(12_345)).toBe('12.3k');
    expect(fmtCount(250_000)).toBe('250k');
    expect(fmtCount(2_500_000)).toBe('2.5M');
    expect(fmtCount(25_000_000)).toBe('25.0M');
  });
  it('fit truncates with an ellipsis and pads', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4, 'right')).toBe('  ab');
    expect(fitTail('prefix.shop.public.users[3]', 12)).toBe('…ic.users[3]');
  });
});

describe('stream metrics', () => {
  const text = [
    '# HELP shopdata_stream_freshness_seconds Age of the newest loaded event.',
    '# TYPE shopdata_stream_freshness_seconds gauge',
    'shopdata_stream_freshness_seconds{source="postgres"} 3.5',
    'shopdata_stream_freshness_seconds{source="mongo"} 12',
    '# TYPE shopdata_stream_rows_inserted_total counter',
    'shopdata_stream_rows_inserted_total{table="hub_user"} 100',
    'shopdata_stream_rows_inserted_total{table="sat_user",note="a \\"quoted\\" label"} 50',
    'process_cpu_seconds_total 1.5',
  ].join('\n');

  it('parses the Prometheus text format with labels and escapes', () => {
    const s = parsePrometheusText(text);
    expect(s).toHaveLength(5);
    expect(s[3]!.labels).toEqual({ table: 'sat_user', note: 'a "quoted" label' });
  });

  it('freshness from the newest event time, latency the slowest table, insert rate from counter deltas', () => {
    const src = new StreamMetricsSource('http://x/metrics');
    const at = 1_800_000_000_000;
    const withEvents = `${text}\nshopdata_stream_last_event_timestamp_seconds{topic="a"} ${at / 1000 - 40}\nshopdata_stream_last_event_timestamp_seconds{topic="b"} ${at / 1000 - 7}`;
    const a = src.derive(parsePrometheusText(withEvents), at);
    expect(a.freshnessSeconds).toBe(7);
    expect(a.latencySeconds).toBe(12);
    expect(a.insertedTotal).toBe(150);
    expect(a.insertRate).toBeNull();
    const b = src.derive(parsePrometheusText(withEvents.replace('} 100', '} 300')), at + 2000);
    expect(b.insertRate).toBe(100);
    expect(b.freshnessSeconds).toBe(9);
    expect(b.metricNames).toEqual([
      'shopdata_stream_freshness_seconds',
      'shopdata_stream_last_event_timestamp_seconds',
      'shopdata_stream_rows_inserted_total',
    ]);
  });
});
