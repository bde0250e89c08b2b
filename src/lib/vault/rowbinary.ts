import { DataProblemError } from '../errors/index.js';
import type { VaultTable } from './tables.js';

/**
 * Vault rows (as the mapping builds them for JSONEachRow) encoded as ClickHouse RowBinary, the
 * cheapest input format for the server to parse and for Node to write: fixed-width integers,
 * length-prefixed strings, a null byte before Nullable values. RowBinary has no text to reject, so
 * the server would store an out-of-range value wrapped around; every value is therefore checked
 * against its column type here, and a row that does not fit is refused with the column and the
 * problem (never the value: it may be personal data).
 */

/** A value that does not fit its vault column; the change it came from is dead-lettered. */
export class RowValueError extends DataProblemError {
  override readonly code = 'ROW_VALUE_OUT_OF_RANGE';
  constructor(
    readonly table: string,
    readonly column: string,
    problem: string,
  ) {
    super(`${table}.${column}: ${problem}`);
  }
}

/** A growable output buffer; one per encode call. Never from Node's shared pool: it may be transferred. */
class Out {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(256, size));
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

type Writer = (out: Out, v: unknown) => void;
type Fail = (problem: string) => never;

const TWO32 = 4294967296;

/** Writes a safe integer as 8 little-endian bytes (two's complement for negatives). */
function write64(out: Out, v: number): void {
  const hi = Math.floor(v / TWO32);
  const lo = v - hi * TWO32;
  out.buf.writeUInt32LE(lo, out.pos);
  out.buf.writeInt32LE(hi | 0, out.pos + 4);
  out.pos += 8;
}

function intWriter(bits: 8 | 16 | 32 | 64, signed: boolean, fail: Fail): Writer {
  const lo = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const hi = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  const loN = Number(lo);
  const hiN = Number(hi);
  const range = `outside the range of ${signed ? 'Int' : 'UInt'}${bits}`;
  if (bits === 64) {
    return (out, v) => {
      out.ensure(8);
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) fail('not an integer');
        if (Number.isSafeInteger(v)) {
          if (v < loN) fail(range);
          write64(out, v);
          return;
        }
        v = BigInt(v);
      }
      let b: bigint;
      if (typeof v === 'bigint') b = v;
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
      else fail('not an integer');
      if (b < lo || b > hi) fail(range);
      if (signed) out.buf.writeBigInt64LE(b, out.pos);
      else out.buf.writeBigUInt64LE(b, out.pos);
      out.pos += 8;
    };
  }
  return (out, v) => {
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = Number(v);
    else if (typeof v === 'bigint') n = Number(v);
    else fail('not an integer');
    if (!Number.isInteger(n)) fail('not an integer');
    if (n < loN || n > hiN) fail(range);
    out.ensure(4);
    if (bits === 8) out.buf[out.pos] = n & 0xff;
    else if (bits === 16) out.buf.writeUInt16LE(n & 0xffff, out.pos);
    else if (signed) out.buf.writeInt32LE(n, out.pos);
    else out.buf.writeUInt32LE(n, out.pos);
    out.pos += bits / 8;
  };
}

/** Decimal(P, S) with P ≤ 18 is an Int64 of units of 10^-S. */
function decimalWriter(precision: number, scale: number, fail: Fail): Writer {
  if (precision > 18) throw new Error(`RowBinary: Decimal(${precision}, ${scale}) is not supported`);
  const factor = 10 ** scale;
  const limit = 10n ** BigInt(precision);
  const limitN = Number(limit);
  const range = `outside Decimal(${precision}, ${scale})`;
  return (out, v) => {
    out.ensure(8);
    if (typeof v === 'number') {
      const units = Math.round(v * factor);
      if (!Number.isFinite(v) || !Number.isSafeInteger(units)) fail(range);
      // The mapping sends at most 15 significant digits with at most `scale` decimals: exact.
      if (Math.abs(units) >= limitN) fail(range);
      write64(out, units);
      return;
    }
    const m = typeof v === 'string' ? /^(-?)(\d+)(?:\.(\d*))?$/.exec(v) : null;
    if (!m) fail('not a decimal number');
    const frac = m[3] ?? '';
    if (frac.length > scale && /[^0]/.test(frac.slice(scale))) fail(`more than ${scale} decimal places`);
    let units = BigInt(m[2]! + frac.slice(0, scale).padEnd(scale, '0'));
    if (m[1] === '-') units = -units;
    if (units >= limit || units <= -limit) fail(range);
    out.buf.writeBigInt64LE(units, out.pos);
    out.pos += 8;
  };
}

function stringWriter(fail: Fail): Writer {
  return (out, v) => {
    if (typeof v !== 'string') fail('not a string');
    const s = v;
    out.ensure(s.length * 3 + 10);
    // Assume a one-byte length prefix (< 128 bytes), move the bytes if it needs more.
    const start = out.pos;
    const n = out.buf.write(s, start + 1, 'utf8');
    if (n < 128) {
      out.buf[start] = n;
      out.pos = start + 1 + n;
      return;
    }
    let prefix = 1;
    for (let x = n >>> 7; x > 0; x >>>= 7) prefix++;
    out.buf.copyWithin(start + prefix, start + 1, start + 1 + n);
    let p = start;
    let x = n;
    while (x >= 0x80) {
      out.buf[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    out.buf[p] = x;
    out.pos = start + prefix + n;
  };
}

function fixedStringWriter(size: number, fail: Fail): Writer {
  return (out, v) => {
    // Hash keys and pseudonyms: hex digits, so one byte per character.
    if (typeof v !== 'string' || v.length !== size || !/^[\x20-\x7e]*$/.test(v))
      fail(`not ${size} ASCII characters`);
    out.ensure(size);
    out.buf.write(v, out.pos, size, 'latin1');
    out.pos += size;
  };
}

function writerFor(type: string, fail: Fail): Writer {
  const nullable = /^Nullable\((.*)\)$/.exec(type);
  if (nullable) {
    const inner = writerFor(nullable[1]!, fail);
    return (out, v) => {
      out.ensure(1);
      if (v === null || v === undefined) {
        out.buf[out.pos++] = 1;
        return;
      }
      out.buf[out.pos++] = 0;
      inner(out, v);
    };
  }
  const plain: Writer = (() => {
    let m: RegExpExecArray | null;
    if ((m = /^(U?)Int(8|16|32|64)$/.exec(type)))
      return intWriter(Number(m[2]) as 8 | 16 | 32 | 64, m[1] !== 'U', fail);
    if (/^DateTime(\(.*\))?$/.test(type)) return intWriter(32, false, fail);
    if ((m = /^Decimal\((\d+),\s*(\d+)\)$/.exec(type)))
      return decimalWriter(Number(m[1]), Number(m[2]), fail);
    if ((m = /^FixedString\((\d+)\)$/.exec(type))) return fixedStringWriter(Number(m[1]), fail);
    if (type === 'String') return stringWriter(fail);
    throw new Error(`RowBinary: column type ${type} is not supported`);
  })();
  return (out, v) => {
    if (v === null || v === undefined) fail('missing (the column is not Nullable)');
    plain(out, v);
  };
}

interface CompiledTable {
  columns: string[];
  writers: Writer[];
}

const compiled = new Map<string, CompiledTable>();

function compile(t: VaultTable): CompiledTable {
  let c = compiled.get(t.name);
  if (c) return c;
  const writers = t.columns.map((col) => {
    const fail: Fail = (problem) => {
      throw new RowValueError(t.name, col.name, problem);
    };
    return writerFor(col.type, fail);
  });
  c = { columns: t.columns.map((col) => col.name), writers };
  compiled.set(t.name, c);
  return c;
}

/** The column order of `encodeRowBinary`'s output (the table's columns). */
export function rowBinaryColumns(t: VaultTable): string[] {
  return compile(t).columns;
}

/**
 * Encodes rows of one vault table as RowBinary in the table's column order. Throws RowValueError
 * (with `rowIndex` in its details) for the first value that does not fit its column.
 */
export function encodeRowBinary(t: VaultTable, rows: readonly Record<string, unknown>[]): Uint8Array {
  const { columns, writers } = compile(t);
  const out = new Out(rows.length * 64 * columns.length);
  const n = columns.length;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    try {
      for (let i = 0; i < n; i++) writers[i]!(out, row[columns[i]!]);
    } catch (err) {
      if (err instanceof RowValueError) (err as { rowIndex?: number }).rowIndex = r;
      throw err;
    }
  }
  return out.buf.subarray(0, out.pos);
}
