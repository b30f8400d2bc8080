#!/usr/bin/env python3
"""record_resp.py - makes the seed corpus of fuzz_resp from a real Redis.

Starts a private redis-server on a free 127.0.0.1 port (requirepass set,
nothing saved), plants keys for every queue framework and a few patterns,
and puts a recording proxy in front of it. For each (mode, options) pair
it runs the built `cutover check --only <check>` on the same config that
fuzz_resp.c's config_text() writes, pointed at the proxy, and saves what
the server answered on the source connection, one reply per chunk, as
    <mode byte> <options byte> reply "---\n" reply "---\n" ...
in tests/fuzz/corpus/fuzz_resp/rec-<check>-<mode>-<options>.

Usage: tests/fuzz/record_resp.py BUILD_DIR   (BUILD_DIR/cutover must exist)
Only loopback is used; the test bed is not touched.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SEP = b"---\n"
PW = "Sentinel-Pw-4711"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_resp")
FRAMEWORKS = ["sidekiq", "resque", "celery", "bullmq"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def reply_end(buf, i):
    """Index just past the RESP reply starting at i, or None if cut."""
    nl = buf.find(b"\r\n", i)
    if nl < 0:
        return None
    kind, line = buf[i:i + 1], buf[i + 1:nl]
    j = nl + 2
    if kind in (b"+", b"-", b":"):
        return j
    if kind == b"$":
        n = int(line)
        return j if n < 0 else (j + n + 2 if len(buf) >= j + n + 2 else None)
    if kind == b"*":
        n = int(line)
        for _ in range(max(n, 0)):
            j = reply_end(buf, j)
            if j is None:
                return None
        return j
    raise ValueError("not RESP: %r" % buf[i:i + 20])


def split_replies(buf):
    out, i = [], 0
    while i < len(buf):
        j = reply_end(buf, i)
        if j is None:
            out.append(buf[i:])
            break
        out.append(buf[i:j])
        i = j
    return out


class Proxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.recordings = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.lsock.accept()
            u = socket.create_connection(("127.0.0.1", self.upstream))
            rec = bytearray()
            self.recordings.append(rec)
            threading.Thread(target=self.pipe, args=(c, u, None),
                             daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, rec),
                             daemon=True).start()

    @staticmethod
    def pipe(src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if rec is not None:
                    rec.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def cli(port, *args, db=0):
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port),
                    "-n", str(db)] + list(args), check=True,
                   stdout=subprocess.DEVNULL,
                   env=dict(os.environ, REDISCLI_AUTH=PW))


def plant(port):
    for db in (0, 3):
        cli(port, "SADD", "queues", "default", "mailers", db=db)
        cli(port, "RPUSH", "queue:default", "job1", "job2", db=db)
        cli(port, "ZADD", "schedule", "1", "j", db=db)
        cli(port, "ZADD", "retry", "1", "r", db=db)
        cli(port, "SADD", "resque:queues", "high", db=db)
        cli(port, "RPUSH", "resque:queue:high", "x", db=db)
        cli(port, "SADD", "_kombu.binding.celery",
            "celery\x06\x16\x06\x16celery", db=db)
        cli(port, "RPUSH", "celery", "t1", db=db)
        cli(port, "HSET", "bull:email:meta", "opts", "{}", db=db)
        cli(port, "RPUSH", "bull:email:wait", "1", db=db)
        cli(port, "SADD", "rq:queues", "rq:queue:default", db=db)
        cli(port, "RPUSH", "rq:queue:default", "id1", db=db)
        for i in range(5):
            cli(port, "SET", "cache:%d" % i, "v%d" % i, db=db)
        cli(port, "SET", "session:a", "x", "EX", "1000", db=db)
        cli(port, "HSET", "s:h", "f", "v", db=db)


def config_text(port, mode, opt):
    fw = "rq" if opt & 0x40 else FRAMEWORKS[(mode - 4) % 4] if mode >= 4 \
        else None
    url = "redis://%s127.0.0.1:%d%s" % (":" + PW + "@" if opt & 1 else "",
                                       port, "/3" if opt & 2 else "")
    t = ("version: 1\nsettings: { jobs: 1, timeout: 10s,"
         " resolvers: [\"127.0.0.1:45353\"] }\nredis:\n  fz:\n")
    t += "    source: %s\n" % url
    if not (opt & 4) or mode >= 3:
        t += "    target: %s\n" % url
    t += "    queues: %s\n" % (fw if mode >= 4 else
                               ("sidekiq" if opt & 8 else "none"))
    if opt & 0x10:
        t += "    patterns: [\"cache:*\", \"s*\"]\n"
    t += "checks:\n"
    t += "  redis.keyspace: { sample: %d, types: %d }\n" % (
        3 if opt & 0x20 else 0, 2 if opt & 0x80 else 0)
    if opt & 0x80:
        t += "  redis.queues: { queues: [mailers, \"a b\"] }\n"
    return t


def check_of(mode):
    return ["redis.connect", "redis.config", "redis.keyspace",
            "redis.queues"][min(mode, 4) - 1]


def phase_of(mode, opt):
    cid = check_of(mode)
    if cid == "redis.config":
        return "pre"
    if cid == "redis.queues":
        return "pre" if opt & 0x20 else "post"
    return "post"


def record(cutover, proxy, mode, opt, tmp):
    cfg = os.path.join(tmp, "cutover.yml")
    with open(cfg, "w") as f:
        f.write(config_text(proxy.port, mode, opt))
    proxy.recordings.clear()
    subprocess.run([cutover, "check", "-c", cfg, "--only", check_of(mode),
                    "--phase", phase_of(mode, opt), "--quiet",
                    "--json", os.path.join(tmp, "r.json")],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.1)
    rec = max((bytes(r) for r in proxy.recordings), key=len, default=b"")
    name = "rec-%s-%d-%02x" % (check_of(mode), mode, opt)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([mode, opt]) + SEP.join(split_replies(rec)))
    return name, len(split_replies(rec))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cutover = os.path.join(sys.argv[1], "cutover")
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="record-resp-")
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind",
                            "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--requirepass", PW, "--dir", tmp],
                           stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        plant(port)
        proxy = Proxy(port)
        # (mode, options): every check, with and without SELECT, patterns,
        # sampling, both queue phases; always AUTH (the server wants it).
        runs = [(1, 0x01), (1, 0x05), (2, 0x01), (2, 0x0b), (3, 0x01),
                (3, 0x13), (3, 0x31), (3, 0xb1), (4, 0x01), (4, 0x23),
                (4, 0x81), (5, 0x01), (6, 0x01), (6, 0x21), (7, 0x01),
                (4, 0x41)]
        for mode, opt in runs:
            print("%s: %d replies" % record(cutover, proxy, mode, opt, tmp))
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
