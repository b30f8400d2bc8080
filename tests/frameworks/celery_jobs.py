"""celery_jobs.py - fills a Redis db the way Celery 5 with kombu's Redis
transport does, with Celery's own producer, and prints kombu's counts.

    python3 celery_jobs.py PORT DB ACTION [GLOBAL_KEYPREFIX]

ACTION: fill     2 tasks in the default queue "celery", 3 in "reports"
                 (one of them with priority 9, kept in kombu's priority
                 list "reports\\x06\\x169")
        unacked  takes one message of "reports" without acknowledging it
                 and dies without closing (a worker killed mid-task):
                 the message stays in kombu's unacked hash
        drain    purges every queue (Celery's control.purge)
        counts   prints {"<case name>": N, ...}: the channel's _size() of
                 each queue (what queue_declare().message_count reports:
                 kombu sums the priority lists), and the length of the
                 unacked hash
GLOBAL_KEYPREFIX: kombu's broker_transport_options global_keyprefix.
The password comes from CUTOVER_TB_REDIS_PASSWORD, never argv.
"""
import json
import os
import sys
from urllib.parse import quote

import redis
from celery import Celery
from kombu import Queue

QUEUES = ("celery", "reports")


def make_app(port, db, prefix):
    pw = os.environ.get("CUTOVER_TB_REDIS_PASSWORD") or ""
    app = Celery("cutover_test",
                 broker="redis://:%s@127.0.0.1:%d/%d" % (quote(pw, safe=""),
                                                         port, db))
    opts = {"priority_steps": [0, 3, 6, 9],
            "queue_order_strategy": "priority"}
    if prefix:
        opts["global_keyprefix"] = prefix
    app.conf.broker_transport_options = opts
    app.conf.task_queues = [Queue(q, routing_key=q) for q in QUEUES]
    app.conf.task_default_queue = "celery"
    app.conf.broker_connection_retry_on_startup = False
    return app


def fill(app):
    for i in range(2):
        app.send_task("cutover_test.add", args=(i, i))
    for i in range(2):
        app.send_task("cutover_test.report", args=(i,), queue="reports")
    app.send_task("cutover_test.report", args=(9,), queue="reports",
                  priority=9)


def take_unacked(app):
    conn = app.connection_for_read()
    ch = conn.default_channel
    msg = ch.basic_get("reports", no_ack=False)
    if msg is None:
        sys.exit("no message in reports")
    sys.stdout.flush()
    # die as a killed worker does: no ack, no close, nothing restored
    os._exit(0)


def counts(app, port, db, prefix):
    out = {}
    with app.connection_for_write() as conn:
        ch = conn.default_channel
        for q in QUEUES:
            # what queue_declare(...).message_count reports: the sum of the
            # queue's priority lists (passive declare itself checks EXISTS
            # without the global_keyprefix, a kombu 5.2 bug)
            out[prefix + q] = ch._size(q)
    # kombu has no counting API for its unacked hash (HLEN is not among
    # the commands its prefixing client prefixes): read it directly
    raw = redis.Redis(host="127.0.0.1", port=port, db=db,
                      password=os.environ.get("CUTOVER_TB_REDIS_PASSWORD"))
    out[prefix + "unacked"] = raw.hlen(prefix + "unacked")
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: celery_jobs.py PORT DB ACTION [GLOBAL_KEYPREFIX]")
    port, db, action = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    prefix = sys.argv[4] if len(sys.argv) > 4 else ""
    app = make_app(port, db, prefix)
    if action == "fill":
        fill(app)
    elif action == "unacked":
        take_unacked(app)
    elif action == "drain":
        app.control.purge()
    elif action == "counts":
        print(json.dumps(counts(app, port, db, prefix)))
    else:
        sys.exit("unknown action " + action)


if __name__ == "__main__":
    main()
