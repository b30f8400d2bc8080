#!/usr/bin/env python3
"""scan_count.py - `redis-cli --scan --count 1000` for redis-cli before 7.2
(which has no --count): SCAN MATCH COUNT 1000 to the end, a key a line.

    scan_count.py PORT [PATTERN]
"""
import socket
import sys


def command(sock, *args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    sock.sendall(b"".join(parts))


def reply(f):
    line = f.readline()
    kind, value = line[:1], line[1:-2]
    if kind == b"*":
        return [reply(f) for _ in range(int(value))]
    if kind == b"$":
        return f.read(int(value) + 2)[:-2]
    return value


def main(argv):
    port = int(argv[0])
    pattern = (argv[1] if len(argv) > 1 else "*").encode()
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    out = sys.stdout.buffer
    cursor = b"0"
    while True:
        command(sock, b"SCAN", cursor, b"MATCH", pattern, b"COUNT", b"1000")
        cursor, keys = reply(f)
        for k in keys:
            out.write(k + b"\n")
        if cursor == b"0":
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
