import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDemoDir, DEMO_MARKER } from '../../../src/lib/demo/dir.js';
import { UsageError } from '../../../src/lib/errors/index.js';

const ENTRIES = ['lake', 'warehouse', 'replay'];

describe('demo --dir: deletes only what a demo created', () => {
  it('creates a missing folder with its marker and entries', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'demo-dir-')), 'new');
    await prepareDemoDir(dir, ENTRIES);
    expect(readdirSync(dir).sort()).toEqual([DEMO_MARKER, ...ENTRIES].sort());
  });

  it('empties the marked entries of an earlier demo and keeps everything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-dir-'));
    await prepareDemoDir(dir, ENTRIES);
    writeFileSync(join(dir, 'lake', 'old.parquet'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    mkdirSync(join(dir, 'my-lake'));
    await prepareDemoDir(dir, ENTRIES);
    expect(existsSync(join(dir, 'lake', 'old.parquet'))).toBe(false);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
    expect(existsSync(join(dir, 'my-lake'))).toBe(true);
  });

  it('refuses a non-empty folder without the marker, deleting nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-dir-'));
    mkdirSync(join(dir, 'warehouse'));
    writeFileSync(join(dir, 'warehouse', 'data.bin'), 'real data');
    await expect(prepareDemoDir(dir, ENTRIES)).rejects.toBeInstanceOf(UsageError);
    expect(readdirSync(dir)).toEqual(['warehouse']);
    expect(readdirSync(join(dir, 'warehouse'))).toEqual(['data.bin']);
  });

  it('a marker cannot name paths outside the folder', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'demo-dir-'));
    const dir = join(parent, 'demo');
    mkdirSync(dir);
    writeFileSync(join(parent, 'sibling.txt'), 'keep');
    writeFileSync(join(dir, DEMO_MARKER), JSON.stringify({ entries: ['..', '../sibling.txt', '/etc'] }));
    await prepareDemoDir(dir, ENTRIES);
    expect(existsSync(join(parent, 'sibling.txt'))).toBe(true);
  });
});
