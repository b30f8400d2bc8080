#!/usr/bin/env python3
"""measure.py - run one command and print what it cost, for pg_bench.sh.

    measure.py CMD [ARG...]
    -> "wall_ms=1234 recv=56789 maxrss_kb=9876 rc=0"

wall_ms   wall-clock time of the command
recv      bytes the command received from sockets, counted by the
          recvcount.so shim (LD_PRELOAD) when RECVCOUNT_SO names it,
          else -1; what came over the wire, TLS records included
maxrss_kb peak resident set size of the command, as /usr/bin/time -v
          reports it (a process started from Python directly would
          inherit Python's own peak, so /usr/bin/time starts it)

The command's stdout is discarded, its stderr passes through; the line
above is the only thing printed on stdout.
"""
import os
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: measure.py CMD [ARG...]")
    env = dict(os.environ)
    so = os.environ.get("RECVCOUNT_SO")
    with tempfile.TemporaryDirectory() as tmp:
        counts = os.path.join(tmp, "recv")
        rss = os.path.join(tmp, "rss")
        if so:
            env["LD_PRELOAD"] = so
            env["RECVCOUNT_OUT"] = counts
        t0 = time.monotonic()
        rc = subprocess.call(["/usr/bin/time", "-q", "-f", "%M %x", "-o",
                              rss] + sys.argv[1:],
                             stdout=subprocess.DEVNULL, env=env)
        wall_ms = (time.monotonic() - t0) * 1000.0
        with open(rss) as f:
            maxrss, rc = f.read().split()[-2:]
        received = -1
        if so and os.path.exists(counts):
            with open(counts) as f:
                received = sum(int(x) for x in f.read().split())
    print(f"wall_ms={wall_ms:.0f} recv={received} maxrss_kb={maxrss} rc={rc}")


if __name__ == "__main__":
    main()
