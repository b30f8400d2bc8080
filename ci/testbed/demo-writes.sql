-- ci/testbed/demo-writes.sql - what the Heroku app wrote after the final
-- dump had been taken (nobody turned on maintenance mode), run by ci/demo
-- on the SOURCE database between `pre` and `post`:
--   * three new orders, ids 3001..3003   pg.rowcount, pg.checksum, and
--                                        pg.sequences (orders_id_seq)
--   * user 42 changed their email         pg.checksum names key 42
\set ON_ERROR_STOP on
INSERT INTO public.orders (account_id, public_id, status, total_cents,
                           created_at, updated_at)
SELECT 1 + g, md5('late-order-' || g)::uuid, 'paid', 4900,
       timestamp '2024-06-01 23:58:00' + g * interval '10 seconds',
       timestamp '2024-06-01 23:58:00' + g * interval '10 seconds'
FROM generate_series(1, 3) AS g;
UPDATE public.users
   SET email = 'user42.new@example.test',
       updated_at = timestamp '2024-06-01 23:59:00'
 WHERE id = 42;
