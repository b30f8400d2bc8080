-- ci/testbed/demo-target.sql - run by ci/demo on the TARGET database right
-- after `pg_restore`, as what a data copy that carries no sequence values
-- leaves behind (logical replication, a COPY-based loader, a
-- `pg_restore --data-only` into a schema made by `rails db:schema:load`):
--   * users_id_seq back at its start: the next sign-up would get id 1,
--     which exists                          pg.sequences
\set ON_ERROR_STOP on
SELECT setval('public.users_id_seq', 1, false) AS users_id_seq \gset
