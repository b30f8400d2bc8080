"""rq_jobs.py - fills a Redis db the way RQ 1.x does, with RQ's own
Queue, registries and an in-process worker, and prints RQ's counts.

    python3 rq_jobs.py PORT DB ACTION

ACTION: fill    queue "default": 3 pending jobs, 1 scheduled
                (enqueue_in), 1 deferred (depends on a pending job),
                1 started (StartedJobRegistry.add, a worker mid-job);
                queue "work": 1 finished and 1 failed job, run by
                SimpleWorker in burst mode
        drain   empties every queue (Queue.empty) and the started
                registries (as workers that finished)
        counts  prints {"<case name>": N, ...}: Queue.count and every
                registry's .count for each queue RQ lists
The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
"""
import json
import os
import sys
from datetime import timedelta

from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import (CanceledJobRegistry, DeferredJobRegistry,
                         FailedJobRegistry, FinishedJobRegistry,
                         ScheduledJobRegistry, StartedJobRegistry)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

REGISTRIES = (("wip", StartedJobRegistry), ("scheduled", ScheduledJobRegistry),
              ("deferred", DeferredJobRegistry), ("failed", FailedJobRegistry),
              ("finished", FinishedJobRegistry),
              ("canceled", CanceledJobRegistry))


def ok(n):
    return n


def boom(n):
    raise RuntimeError("boom %d" % n)


def fill(conn):
    q = Queue("default", connection=conn)
    first = q.enqueue("rq_jobs.ok", 0)
    q.enqueue("rq_jobs.ok", 1)
    q.enqueue("rq_jobs.ok", 2)
    q.enqueue_in(timedelta(hours=1), "rq_jobs.ok", 3)
    q.enqueue("rq_jobs.ok", 4, depends_on=first)
    started = q.create_job("rq_jobs.ok", args=(5,))
    started.save()
    StartedJobRegistry(queue=q).add(started, 3600)
    work = Queue("work", connection=conn)
    work.enqueue("rq_jobs.ok", 6)
    work.enqueue("rq_jobs.boom", 7)
    SimpleWorker([work], connection=conn).work(burst=True)


def drain(conn):
    for q in Queue.all(connection=conn):
        q.empty()
        reg = StartedJobRegistry(queue=q)
        for job_id in reg.get_job_ids():
            reg.remove(job_id)


def counts(conn):
    out = {}
    for q in Queue.all(connection=conn):
        out["rq:queue:" + q.name] = q.count
        for name, cls in REGISTRIES:
            out["rq:%s:%s" % (name, q.name)] = cls(queue=q).count
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: rq_jobs.py PORT DB ACTION")
    port, db, action = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    conn = Redis(host="127.0.0.1", port=port, db=db,
                 password=os.environ.get("CUTOVER_TB_REDIS_PASSWORD"))
    if action == "fill":
        fill(conn)
    elif action == "drain":
        drain(conn)
    elif action == "counts":
        print(json.dumps(counts(conn)))
    else:
        sys.exit("unknown action " + action)


if __name__ == "__main__":
    main()
