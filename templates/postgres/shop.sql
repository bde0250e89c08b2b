-- Source schema of the shop (docs/CONTRACT.md §4), database `shop`, schema `public`.
-- Idempotent: safe to run on every start of the local stack and on an existing database.

CREATE TABLE IF NOT EXISTS sellers (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  country    char(2),
  created_at timestamptz,
  updated_at timestamptz
);

CREATE TABLE IF NOT EXISTS users (
  id         bigint PRIMARY KEY,
  email      text UNIQUE NOT NULL,
  full_name  text,
  city       text,
  created_at timestamptz,
  updated_at timestamptz
);

CREATE TABLE IF NOT EXISTS auth_credentials (
  user_id       bigint PRIMARY KEY REFERENCES users,
  password_hash text NOT NULL,
  last_login_at timestamptz,
  failed_logins int NOT NULL DEFAULT 0,
  updated_at    timestamptz
);

CREATE TABLE IF NOT EXISTS products (
  id         bigint PRIMARY KEY,
  seller_id  bigint REFERENCES sellers,
  sku        text UNIQUE NOT NULL,
  name       text,
  category   text NOT NULL,
  price      numeric(12,2) NOT NULL,
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz,
  updated_at timestamptz
);

-- Replica identity decides what the WAL (and so Debezium) carries for UPDATE and DELETE.
-- FULL: deletes carry the whole old row (the lake and the vault can record the last state of a
-- deleted row, not just its key) and unchanged TOASTed text columns (names, long product names)
-- are sent as values instead of the `__debezium_unavailable_value` placeholder.
-- auth_credentials keeps DEFAULT (primary key): FULL would put every old password_hash into the
-- WAL stream, and PostgreSQL refuses a publication column list that leaves out a replica-identity
-- column. With DEFAULT the publication below can drop password_hash before it leaves PostgreSQL.
-- Its other columns are small scalars, so TOAST placeholders cannot occur.
-- ALTER only when needed: it takes an exclusive lock, and this file runs at every stack start.
DO $$
DECLARE
  want CONSTANT jsonb := '{"sellers": "f", "users": "f", "products": "f", "auth_credentials": "d"}';
  t text;
BEGIN
  FOR t IN SELECT jsonb_object_keys(want) LOOP
    IF (SELECT relreplident::text FROM pg_class WHERE oid = format('public.%I', t)::regclass) <> want->>t THEN
      EXECUTE format('ALTER TABLE public.%I REPLICA IDENTITY %s', t,
                     CASE want->>t WHEN 'f' THEN 'FULL' ELSE 'DEFAULT' END);
    END IF;
  END LOOP;
END
$$;

-- Publication for Debezium's pgoutput plugin (connector: publication.name=shopdata_publication,
-- publication.autocreate.mode=disabled). The column list keeps password_hash out of the stream;
-- the connector's initial snapshot reads with SELECT, so it still needs
-- column.exclude.list=public.auth_credentials.password_hash.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'shopdata_publication') THEN
    CREATE PUBLICATION shopdata_publication FOR TABLE
      sellers, users, products,
      auth_credentials (user_id, last_login_at, failed_logins, updated_at);
  END IF;
END
$$;
