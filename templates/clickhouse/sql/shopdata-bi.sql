-- Read-only BI user for ClickHouse >= 20.4 (SQL users, roles and GRANT). Run as an admin, e.g.
--   clickhouse-client --multiquery < templates/clickhouse/sql/shopdata-bi.sql
-- Older servers (18.16) use ../users.d/shopdata-bi.xml instead.
-- Views run with the caller's rights (SQL SECURITY INVOKER, the default), so the role also reads
-- vault, which holds personal data only as salted SHA-256. ops stays closed.
-- Change the password before use.
CREATE ROLE IF NOT EXISTS shopdata_bi_role;
GRANT SELECT ON mart.* TO shopdata_bi_role;
GRANT SELECT ON vault.* TO shopdata_bi_role;
CREATE SETTINGS PROFILE IF NOT EXISTS shopdata_bi_profile SETTINGS readonly = 2, max_execution_time = 300, max_memory_usage = 4000000000;
CREATE USER IF NOT EXISTS shopdata_bi IDENTIFIED WITH sha256_password BY 'change-me' SETTINGS PROFILE 'shopdata_bi_profile';
GRANT shopdata_bi_role TO shopdata_bi;
SET DEFAULT ROLE shopdata_bi_role TO shopdata_bi;
