-- ci/testbed/demo-seed.sql - the demo's "half-done migration", loaded by
-- ci/demo into database cutover_demo on each test-bed cluster:
--   psql -v side=source|target -f demo-seed.sql
-- Both sides get the same shop schema and data, then the target is made
-- to differ the way a botched cutover would:
--   * orders: the last 3 rows never arrived           (pg.rowcount)
--   * customers: one email changed after the dump     (pg.checksum)
--   * orders_id_seq: not advanced past the copied ids (pg.sequences)
--   * index orders_customer_idx: forgotten            (pg.schema)
--   * extension pgcrypto: never installed on target  (pg.extensions)
-- Deterministic (no random(), no now()), so every run reports the same.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;

CREATE TABLE shop.customers (
    id    serial PRIMARY KEY,
    name  text NOT NULL,
    email text NOT NULL UNIQUE
);
CREATE TABLE shop.orders (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES shop.customers (id),
    total       numeric(10, 2) NOT NULL CHECK (total >= 0),
    created_at  timestamptz NOT NULL
);

INSERT INTO shop.customers (name, email)
SELECT 'customer ' || g, 'c' || g || '@example.test'
FROM generate_series(1, 500) AS g;

INSERT INTO shop.orders (customer_id, total, created_at)
SELECT 1 + (g * 7) % 500, (g % 997) * 1.25,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 2000) AS g;

SELECT :'side' = 'target' AS is_target \gset
\if :is_target
  DROP EXTENSION IF EXISTS pgcrypto;
  DELETE FROM shop.orders WHERE id > 1997;
  UPDATE shop.customers SET email = 'changed@example.test' WHERE id = 42;
  SELECT setval('shop.orders_id_seq', 1990) AS seq_set \gset
\else
  -- pgcrypto is a trusted extension: the database owner may create it.
  CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;
  CREATE INDEX orders_customer_idx ON shop.orders (customer_id);
\endif
ANALYZE shop.customers;
ANALYZE shop.orders;
