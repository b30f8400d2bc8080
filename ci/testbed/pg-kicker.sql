-- ci/testbed/pg-kicker.sql - works around a pglogical 2.4.2 bug that
-- makes every DROP DATABASE hang on PostgreSQL 15.
--
-- PostgreSQL 15's DROP DATABASE waits until every process has accepted a
-- ProcSignalBarrier (it makes them close files of the dropped database).
-- pglogical's workers, preloaded on both test-bed clusters, sleep in loops
-- that never reach CHECK_FOR_INTERRUPTS, so the barrier is never accepted
-- and the DROP waits forever (2ndQuadrant/pglogical#399, #418; fixed
-- upstream by #403, not in Debian 12's package). Terminating the
-- supervisor unblocks the DROP but leaves pglogical dead until restart.
--
-- This procedure, run by ci/services in a database of its own
-- (cutover_testbed) with statement logging off, watches for a backend
-- stuck on the barrier and then:
--  1. creates and drops a throw-away pglogical node. The commit marks
--     "subscriptions changed" and wakes the supervisor, which rescans
--     pg_database, checks interrupts there and accepts the barrier. With
--     no live subscription anywhere, that is all it takes.
--  2. if a backend still waits 3 s later, a pglogical manager, apply or
--     sync worker (idle replication) is what blocks: it terminates those
--     workers and kicks the supervisor again, which starts the managers
--     anew, and they their apply workers: replication pauses for a
--     moment, the DROP DATABASE completes.
--
-- It commits every iteration (a read-only transaction: no WAL, no xid) so
-- it never holds back vacuum, and it only touches this database.
CREATE EXTENSION IF NOT EXISTS pglogical;

CREATE OR REPLACE PROCEDURE public.cutover_testbed_kick_supervisor()
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pglogical.drop_node('cutover_testbed_kick', true);
  PERFORM pglogical.create_node(node_name := 'cutover_testbed_kick',
                                dsn := 'dbname=cutover_testbed');
  PERFORM pglogical.drop_node('cutover_testbed_kick');
END
$$;

CREATE OR REPLACE PROCEDURE public.cutover_testbed_kicker()
LANGUAGE plpgsql AS $$
DECLARE
  waited integer := 0;  -- iterations (0.25 s) a DROP has been waiting
BEGIN
  LOOP
    IF EXISTS (SELECT 1 FROM pg_stat_activity
               WHERE wait_event = 'ProcSignalBarrier') THEN
      waited := waited + 1;
      IF waited = 1 THEN
        CALL public.cutover_testbed_kick_supervisor();
      ELSIF waited >= 12 THEN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE backend_type LIKE 'pglogical manager%'
           OR backend_type LIKE 'pglogical apply%'
           OR backend_type LIKE 'pglogical sync%';
        CALL public.cutover_testbed_kick_supervisor();
        waited := 0;
      END IF;
    ELSE
      waited := 0;
    END IF;
    COMMIT;
    PERFORM pg_sleep(0.25);
  END LOOP;
END
$$;
