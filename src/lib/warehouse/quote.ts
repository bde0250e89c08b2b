/**
 * The one place that turns text into ClickHouse SQL: string literals, identifiers and lake path
 * globs. Anything that did not come from this codebase's own constants (values from users or
 * data, names read back from ClickHouse or from lake metadata) goes through these functions,
 * never into SQL by plain interpolation. Verified on 18.16.1 and on chDB 26.7
 * (test/unit/warehouse/quote.test.ts, test/integration/warehouse/quoting.test.ts).
 */

/** A ClickHouse string literal: `it's` → `'it\'s'`. Backslash first, so `\'` cannot be forged. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A ClickHouse identifier in back quotes, whatever characters it holds: a`b → `a\`b`. */
export function sqlIdent(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** `database`.`table`, both quoted. */
export function sqlTable(database: string, table: string): string {
  return `${sqlIdent(database)}.${sqlIdent(table)}`;
}

/** `'a', 'b'` for an IN list of string literals. */
export function sqlStringList(values: Iterable<string>): string {
  return [...values].map(sqlString).join(', ');
}

/**
 * Characters that ClickHouse's file()/s3() path globs interpret: `*`, `?`, `{…}` with `,`
 * alternatives and `{N..M}` ranges. ClickHouse has no escape for them (a backslash is taken
 * literally; measured on 26.7), so a lake file named `b}.parquet` cannot be spelled in a glob.
 */
const GLOB_META = /[*?{},]/g;

/**
 * A glob that matches the given paths exactly when combined with a filter on the `_path`
 * virtual column: every glob character in a path becomes `?` (any one character), so the glob
 * matches the file itself plus, at worst, same-length neighbours that the filter then drops.
 * Paths are listed as `{a,b}` alternatives; a single path is used as it is.
 */
export function pathsGlob(paths: readonly string[]): string {
  const safe = paths.map((p) => p.replace(GLOB_META, '?'));
  if (safe.length === 1) return safe[0]!;
  // The common directory prefix stays outside the braces (ClickHouse lists that directory once).
  const prefix = commonDirPrefix(safe);
  return `${prefix}{${safe.map((p) => p.slice(prefix.length)).join(',')}}`;
}

function commonDirPrefix(paths: readonly string[]): string {
  let prefix = paths[0]!;
  for (const p of paths) while (!p.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = prefix.lastIndexOf('/');
  return cut < 0 ? '' : prefix.slice(0, cut + 1);
}
