/**
 * Maps 1,000,000 source changes to Data Vault rows and compares with a baseline in the same run:
 * plain JSON.parse + MD5 of the same fields (business keys and payload), no vault logic.
 * Run: bash bench/mapping.sh [changes] (compiles with tsc, runs on the project's Node 22).
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mapChanges, rowSetSize, type SourceChange } from '../src/lib/vault/index.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const BATCH = 5_000;
const T0 = Date.UTC(2026, 10, 20) * 1000;

/** Deterministic mix close to the shop's: many events, fewer entity updates. */
function makeChange(i: number): SourceChange {
  const ts = T0 + i * 1000;
  const k = i % 100;
  const user = (i * 7919) % 50_000;
  const product = (i * 104_729) % 5_000;
  if (k < 40) {
    const items = Array.from({ length: 1 + (i % 3) }, (_, j) => ({
      product_id: (product + j * 17) % 5_000,
      qty: 1 + ((i + j) % 4),
      unit_price: `${(i + j) % 200}.${String((i * 13 + j) % 100).padStart(2, '0')}`,
    }));
    return {
      table: 'purchases',
      op: 'c',
      commitTsUs: ts,
      row: { _id: `p${i}`, order_id: `o-${i}`, user_id: user, ts, items },
    };
  }
  if (k < 70) {
    return {
      table: 'ratings',
      op: 'c',
      commitTsUs: ts,
      row: {
        _id: `r${i}`,
        user_id: user,
        product_id: product,
        stars: 1 + (i % 5),
        comment: i % 3 ? null : 'fine',
        ts,
      },
    };
  }
  if (k < 79) {
    return {
      table: 'cancellations',
      op: 'c',
      commitTsUs: ts,
      row: { _id: `c${i}`, order_id: `o-${i - 50}`, user_id: user, reason: 'changed mind', ts },
    };
  }
  if (k < 89) {
    return {
      table: 'users',
      op: 'u',
      commitTsUs: ts,
      row: {
        id: user,
        email: `user${user}@example.com`,
        full_name: `User ${user}`,
        city: 'Paris',
        created_at: T0,
        updated_at: ts,
      },
    };
  }
  if (k < 94) {
    return {
      table: 'auth_credentials',
      op: 'u',
      commitTsUs: ts,
      row: { user_id: user, last_login_at: ts, failed_logins: i % 3, updated_at: ts },
    };
  }
  if (k < 99) {
    return {
      table: 'products',
      op: 'u',
      commitTsUs: ts,
      row: {
        id: product,
        seller_id: product % 100,
        sku: `SKU-${product}`,
        name: `Product ${product}`,
        category: `cat${product % 20}`,
        price: '19.99',
        active: true,
        created_at: T0,
        updated_at: ts,
      },
    };
  }
  return {
    table: 'sellers',
    op: 'u',
    commitTsUs: ts,
    row: { id: i % 100, name: `Seller ${i % 100}`, country: 'FR', created_at: T0, updated_at: ts },
  };
}

function batchJson(start: number, n: number): string[] {
  const out: string[] = [];
  for (let i = start; i < start + n; i++) out.push(JSON.stringify(makeChange(i)));
  return out;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Baseline: parse, then MD5 of every key field and of the joined payload, per row (and per item). */
function baseline(lines: string[]): number {
  let hashes = 0;
  for (const line of lines) {
    const c = JSON.parse(line) as SourceChange;
    const r = c.row as Record<string, unknown>;
    const keys = ['id', 'user_id', 'product_id', 'seller_id', 'order_id'].filter(
      (f) => r[f] !== undefined && r[f] !== null,
    );
    for (const f of keys) {
      md5(String(r[f]));
      hashes++;
    }
    const payload = Object.entries(r)
      .filter(([f]) => f !== 'items')
      .map(([, v]) => String(v))
      .join('||');
    md5(payload);
    hashes++;
    const items = r.items as { product_id: number; qty: number; unit_price: string }[] | undefined;
    for (const it of items ?? []) {
      md5(String(it.product_id));
      md5(`${it.qty}||${it.unit_price}`);
      hashes += 2;
    }
  }
  return hashes;
}

/**
 * Both contenders run on the same batch one after the other (alternating who goes first), so load
 * from other processes on a shared machine hits both alike and the ratio stays meaningful.
 */
const ctx = {
  piiSalt: '5edde984e26046a340af7cbe4432c6f63bbd201982a6624f80ced1fc0e8578ee',
  loadTs: new Date(),
};
const mapBatch = (lines: string[]) =>
  rowSetSize(
    mapChanges(
      lines.map((l) => JSON.parse(l) as SourceChange),
      ctx,
    ),
  );

// warm-up (JIT) on a small slice, not counted
mapBatch(batchJson(0, 20_000));
baseline(batchJson(0, 20_000));

const base = { seconds: 0, out: 0 };
const mapped = { seconds: 0, out: 0 };
const timed = (acc: { seconds: number; out: number }, fn: (l: string[]) => number, lines: string[]) => {
  const t = performance.now();
  acc.out += fn(lines);
  acc.seconds += (performance.now() - t) / 1000;
};
for (let start = 0, n = 0; start < TOTAL; start += BATCH, n++) {
  const lines = batchJson(start, Math.min(BATCH, TOTAL - start)); // input generation is not timed
  if (n % 2 === 0) {
    timed(base, baseline, lines);
    timed(mapped, mapBatch, lines);
  } else {
    timed(mapped, mapBatch, lines);
    timed(base, baseline, lines);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const result = {
  changes: TOTAL,
  node: process.version,
  baseline: {
    seconds: +base.seconds.toFixed(3),
    changesPerSec: Math.round(TOTAL / base.seconds),
    md5s: base.out,
  },
  mapping: {
    seconds: +mapped.seconds.toFixed(3),
    changesPerSec: Math.round(TOTAL / mapped.seconds),
    vaultRows: mapped.out,
    vaultRowsPerSec: Math.round(mapped.out / mapped.seconds),
  },
  /** mapping throughput as a fraction of the baseline's (changes/s ÷ changes/s). */
  ratio: +(base.seconds / mapped.seconds).toFixed(3),
};
console.log(
  `baseline (JSON.parse + MD5 of the same fields): ${fmt(result.baseline.changesPerSec)} changes/s (${result.baseline.seconds} s)\n` +
    `mapping  (JSON.parse + mapChanges):            ${fmt(result.mapping.changesPerSec)} changes/s, ${fmt(result.mapping.vaultRowsPerSec)} vault rows/s (${result.mapping.seconds} s, ${fmt(result.mapping.vaultRows)} rows)\n` +
    `ratio mapping/baseline: ${result.ratio}`,
);
console.log(JSON.stringify(result));
