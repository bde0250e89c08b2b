/**
 * The one plain-text table renderer of the CLI (`top --once`, `vault check`, `backfill`,
 * `connectors status`): columns as wide as their widest cell, two spaces apart, numbers right-
 * aligned when asked, and one column that may be cut (with …) so a line fits the terminal.
 */

export interface Column {
  header: string;
  /** Default left. */
  align?: 'left' | 'right';
  /** This column is cut to make lines fit `width` (at most one column should flex). */
  flex?: boolean;
}

export interface TableOptions {
  /** Line width to fit by cutting the flex column (default: no limit). */
  width?: number;
  /** Put in front of every line, e.g. two spaces under a heading. */
  indent?: string;
  /** The flex column never gets narrower than this (default 20). */
  minFlex?: number;
}

/** The lines of a table: the header line, then one per row. Trailing spaces are trimmed. */
export function renderTable(
  columns: ReadonlyArray<Column | string>,
  rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>,
  opts: TableOptions = {},
): string[] {
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const cells = rows.map((r) => cols.map((_, i) => text(r[i])));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const flex = cols.findIndex((c) => c.flex);
  const indent = opts.indent ?? '';
  if (flex >= 0 && opts.width !== undefined) {
    const others = widths.reduce((sum, w, i) => (i === flex ? sum : sum + w + 2), indent.length);
    widths[flex] = Math.min(widths[flex]!, Math.max(opts.minFlex ?? 20, opts.width - others));
  }
  const line = (row: string[]) =>
    indent +
    row
      .map((cell, i) => {
        const w = widths[i]!;
        const fitted = cell.length > w ? `${cell.slice(0, w - 1)}…` : cell;
        return cols[i]!.align === 'right' ? fitted.padStart(w) : fitted.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)];
}

function text(v: string | number | null | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}
