import { MART_VIEWS, martSelectSql } from '../../vault/marts.js';
import type { Migration } from './types.js';

/** The BI views of docs/CONTRACT.md §6 (repeatable: re-created whenever their SQL changes). */
const migration: Migration = {
  description: 'mart views daily_orders, daily_sales_by_category, product_ratings',
  statements: ({ dbs, dialect }) =>
    Object.keys(MART_VIEWS).flatMap((name) =>
      dialect.replaceView(`${dbs.mart}.${name}`, martSelectSql(name, dbs, dialect)),
    ),
};
export default migration;
