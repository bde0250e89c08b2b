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
  /** lagInFrame() OVER (PARTITION BY … ORDER BY …): GA from 21.9 (experimental before; 18.16 has none). */
  readonly windowFunctions: boolean;
  /** s3/icebergS3/icebergLocal table functions with Parquet (pull-mode backfill): from 23.3. */
  readonly lakeTableFunctions: boolean;
  /**
   * HMAC-SHA-256 as upper-case hex of `message` keyed with `key` (both String expressions).
   * `HMAC('sha256', …)` from 25.12; before that RFC 2104 spelled out with SHA256, unhex and
   * bitXor (measured identical on 18.16.1 and 26.7).
   */
  hmacSha256Hex(message: string, key: string): string;
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
    windowFunctions: atLeast(version, 21, 9),
    lakeTableFunctions: atLeast(version, 23, 3),
    hmacSha256Hex(message, key) {
      if (atLeast(version, 25, 12)) return `hex(HMAC('sha256', ${message}, ${key}))`;
      return hmacSha256HexPortable(message, key);
    },
  };
}

/**
 * HMAC-SHA-256 (RFC 2104) from SHA256 alone, for servers without HMAC(): a key longer than the
 * 64-byte block is hashed first, then zero-padded; each pad is the key XOR 0x36 / 0x5c, byte by
 * byte, rebuilt as a string through hex/unhex (18.16 has no char()).
 */
export function hmacSha256HexPortable(message: string, key: string): string {
  const k = `if(length(${key}) > 64, toString(SHA256(${key})), ${key})`;
  const pad = (c: number) =>
    `unhex(arrayStringConcat(arrayMap(i -> hex(toUInt8(bitXor(reinterpretAsUInt8(substring(${k}, i + 1, 1)), ${c}))), range(64))))`;
  return `hex(SHA256(concat(${pad(0x5c)}, SHA256(concat(${pad(0x36)}, ${message})))))`;
}

export async function warehouseDialect(wh: Warehouse): Promise<Dialect> {
  return dialectFor(await wh.version());
}
