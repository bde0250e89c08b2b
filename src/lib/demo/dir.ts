import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';

/** The file that says a folder was made by `shopdata demo`, and which of its entries are the demo's. */
export const DEMO_MARKER = '.shopdata-demo.json';

/**
 * Makes `dir` ready for a demo run and deletes only what an earlier demo created: the entries its
 * marker file names. A folder without the marker must be empty (or missing); anything else is
 * refused (exit 2) and nothing is deleted — it may be a real lake or warehouse.
 */
export async function prepareDemoDir(dir: string, entries: readonly string[]): Promise<void> {
  let existing: string[];
  try {
    existing = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    existing = [];
  }
  if (existing.includes(DEMO_MARKER)) {
    const owned = await ownedEntries(dir);
    await Promise.all(
      owned
        .filter((e) => existing.includes(e))
        .map((e) => rm(join(dir, e), { recursive: true, force: true })),
    );
  } else if (existing.length > 0) {
    throw new UsageError(
      `The demo folder ${dir} already holds files that shopdata demo did not create (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}); nothing was deleted.`,
      { hint: 'Pass --dir with a new or empty folder (or one an earlier demo made).' },
    );
  }
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, DEMO_MARKER),
    JSON.stringify({ createdBy: 'shopdata demo', entries }, null, 2) + '\n',
  );
  for (const e of entries) await mkdir(join(dir, e), { recursive: true });
}

async function ownedEntries(dir: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, DEMO_MARKER), 'utf8')) as { entries?: unknown };
    if (Array.isArray(parsed.entries))
      return parsed.entries.filter(
        (e): e is string => typeof e === 'string' && /^[\w.-]+$/.test(e) && e !== '..',
      );
  } catch {
    // a damaged marker owns nothing
  }
  return [];
}
