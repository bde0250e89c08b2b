import type { CanonicalRow, SourceTable } from '../vault/types.js';

/** Canonical rows of the four PostgreSQL tables and three MongoDB collections (docs/CONTRACT.md §4). */
export interface SellerRow extends CanonicalRow {
  id: number;
  name: string;
  country: string;
  created_at: number;
  updated_at: number;
}

export interface UserRow extends CanonicalRow {
  id: number;
  email: string;
  full_name: string;
  city: string;
  created_at: number;
  updated_at: number;
}

export interface AuthCredentialRow extends CanonicalRow {
  user_id: number;
  /** bcrypt; stays in PostgreSQL (the mapping drops it, the publication excludes it). */
  password_hash: string;
  last_login_at: number | null;
  failed_logins: number;
  updated_at: number;
}

export interface ProductRow extends CanonicalRow {
  id: number;
  seller_id: number;
  sku: string;
  name: string;
  category: string;
  /** numeric(12,2) as "12.50". */
  price: string;
  active: boolean;
  created_at: number;
  updated_at: number;
}

export interface PurchaseItem extends CanonicalRow {
  product_id: number;
  qty: number;
  unit_price: string;
}

export interface PurchaseRow extends CanonicalRow {
  _id: string;
  order_id: string;
  user_id: number;
  items: PurchaseItem[];
  ts: number;
}

export interface CancellationRow extends CanonicalRow {
  _id: string;
  order_id: string;
  user_id: number;
  reason: string;
  ts: number;
}

export interface RatingRow extends CanonicalRow {
  _id: string;
  user_id: number;
  product_id: number;
  stars: number;
  /** Absent in the MongoDB document when null. */
  comment: string | null;
  ts: number;
}

/** The key column of each source table. */
export const KEY_COLUMN: Record<SourceTable, string> = {
  sellers: 'id',
  users: 'id',
  auth_credentials: 'user_id',
  products: 'id',
  purchases: '_id',
  cancellations: '_id',
  ratings: '_id',
};

/** Column order of the PostgreSQL tables as in templates/postgres/shop.sql. */
export const PG_COLUMNS = {
  sellers: ['id', 'name', 'country', 'created_at', 'updated_at'],
  users: ['id', 'email', 'full_name', 'city', 'created_at', 'updated_at'],
  auth_credentials: ['user_id', 'password_hash', 'last_login_at', 'failed_logins', 'updated_at'],
  products: ['id', 'seller_id', 'sku', 'name', 'category', 'price', 'active', 'created_at', 'updated_at'],
} as const;
export type PgTable = keyof typeof PG_COLUMNS;
export const PG_TABLES = Object.keys(PG_COLUMNS) as PgTable[];
export const MONGO_TABLES = ['purchases', 'cancellations', 'ratings'] as const;
export type MongoTable = (typeof MONGO_TABLES)[number];

export function isPgTable(t: SourceTable): t is PgTable {
  return t in PG_COLUMNS;
}
