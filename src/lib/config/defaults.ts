/** The Debezium topics of docs/CONTRACT.md §4. */
export const POSTGRES_TABLES = ['sellers', 'users', 'auth_credentials', 'products'] as const;
export const MONGO_COLLECTIONS = ['purchases', 'cancellations', 'ratings'] as const;
export const SOURCE_TOPICS_DEFAULT = [
  ...POSTGRES_TABLES.map((t) => `shop.public.${t}`),
  ...MONGO_COLLECTIONS.map((c) => `shopev.shop_events.${c}`),
] as const;
