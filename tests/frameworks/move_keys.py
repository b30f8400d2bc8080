"""move_keys.py - what a migration of some keys leaves behind: each key
is copied to the target (DUMP, then RESTORE ... REPLACE, as MIGRATE
does) and then deleted from the source (as a FLUSHDB after a restore),
unless --copy is given.

    python3 move_keys.py [--copy] SRC_PORT TGT_PORT DB KEY|PATTERN...

An argument holding "*" is a SCAN MATCH pattern on the source. Keys that
do not exist are skipped. The password comes from
CUTOVER_TB_REDIS_PASSWORD, never argv.
"""
import os
import sys

import redis


def main():
    args = sys.argv[1:]
    copy = bool(args) and args[0] == "--copy"
    if copy:
        args = args[1:]
    if len(args) < 4:
        sys.exit("usage: move_keys.py [--copy] SRC_PORT TGT_PORT DB KEY...")
    src_port, tgt_port, db = (int(a) for a in args[:3])
    pw = os.environ.get("CUTOVER_TB_REDIS_PASSWORD")
    src = redis.Redis(host="127.0.0.1", port=src_port, db=db, password=pw)
    tgt = redis.Redis(host="127.0.0.1", port=tgt_port, db=db, password=pw)
    keys = []
    for a in args[3:]:
        if "*" in a:
            keys.extend(src.scan_iter(match=a, count=1000))
        else:
            keys.append(a)
    for key in keys:
        blob = src.dump(key)
        if blob is None:
            continue
        tgt.restore(key, 0, blob, replace=True)
        if not copy:
            src.delete(key)


if __name__ == "__main__":
    main()
