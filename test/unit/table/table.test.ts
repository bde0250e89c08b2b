import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/lib/table/index.js';

describe('renderTable', () => {
  it('pads columns to their widest cell, right-aligns numbers when asked, trims line ends', () => {
    const lines = renderTable(
      ['name', { header: 'rows', align: 'right' }, 'note'],
      [
        ['hub_user', 12, ''],
        ['sat_order_items', 3456, null],
      ],
    );
    expect(lines).toEqual(['name             rows  note', 'hub_user           12', 'sat_order_items  3456']);
  });

  it('cuts the flex column with … so every line fits the width, never below minFlex', () => {
    const rows = [['a', 'x'.repeat(100)]];
    const lines = renderTable(['id', { header: 'message', flex: true }], rows, { width: 40, indent: '  ' });
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines[1]).toMatch(/^ {2}a {3}x+…$/);
    const narrow = renderTable(['id', { header: 'message', flex: true }], rows, { width: 10, minFlex: 20 });
    expect(narrow[1]!.length).toBe(2 + 2 + 20);
  });
});

describe('one table renderer', () => {
  it('no other module computes column widths', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join, relative } = await import('node:path');
    const { REPO_ROOT } = await import('../../helpers/stack.js');
    const found: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(n) && /\bwidths\b/.test(readFileSync(p, 'utf8')))
          found.push(relative(REPO_ROOT, p));
      }
    };
    walk(join(REPO_ROOT, 'src'));
    expect(found).toEqual(['src/lib/table/index.ts']);
  });
});
