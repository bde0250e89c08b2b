import type { ServerVersion, Warehouse } from './types.js';

/**
 * SQL that differs between ClickHouse versions, in one place, chosen by the server's version
 * (`warehouse.version()`). Measured on 18.16.1 (the stack's server) and 26.7 (chDB).
 */
export interface Dialect {
  readonly version: ServerVersion;
  /**
   * A Decimal as text with exactly its scale ("12.50"). 18.16 `toString` keeps trailing zeros;
   * from 21.9 `toString` drops them (output_format_decimal_trailing_zeros = 0).
   */
  decimalText(expr: string, scale: number): string;
  /**
   * Statements that (re)create a view: CREATE OR REPLACE where it exists, else DROP + CREATE.
   * From 24.3 the view runs with its creator's rights (SQL SECURITY DEFINER), so a BI user needs
   * SELECT on mart only, not on the vault tables behind it.
   */
  replaceView(name: string, select: string): string[];
  /** Views can run with their creator's rights (SQL SECURITY DEFINER, ClickHouse ≥ 24.3). */
  readonly definerViews: boolean;
  /** SQL users, roles and GRANT (ClickHouse ≥ 20.4); older servers use users.d XML profiles. */
  readonly sqlAccessControl: boolean;
}

const atLeast = (v: ServerVersion, major: number, minor = 0) =>
  v.major > major || (v.major === major && v.minor >= minor);

/** Version-independent fixed-scale rendering via integer units (for 21.9 – 23.2). */
export function decimalTextPortable(expr: string, scale: number): string {
  if (scale === 0) return `toString(toInt64(${expr}))`;
  const p = 10 ** scale;
  const u = `abs(toInt64((${expr}) * ${p}))`;
  return `concat(if((${expr}) < 0, '-', ''), toString(intDiv(${u}, ${p})), '.', substring(toString(${p} + ${u} % ${p}), 2))`;
}

export function dialectFor(version: ServerVersion): Dialect {
  return {
    version,
    decimalText(expr, scale) {
      if (!atLeast(version, 21, 9)) return `toString(${expr})`;
      if (atLeast(version, 23, 3)) return `toDecimalString(${expr}, ${scale})`;
      return decimalTextPortable(expr, scale);
    },
    replaceView(name, select) {
      const definer = atLeast(version, 24, 3) ? ' SQL SECURITY DEFINER' : '';
      if (atLeast(version, 21, 1)) return [`CREATE OR REPLACE VIEW ${name}${definer} AS\n${select}`];
      // IF NOT EXISTS: two migrate runs racing (DROP, DROP, CREATE, CREATE) must not fail
      return [`DROP TABLE IF EXISTS ${name}`, `CREATE VIEW IF NOT EXISTS ${name} AS\n${select}`];
    },
    sqlAccessControl: atLeast(version, 20, 4),
    definerViews: atLeast(version, 24, 3),
  };
}

export async function warehouseDialect(wh: Warehouse): Promise<Dialect> {
  return dialectFor(await wh.version());
}
