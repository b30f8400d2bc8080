#!/usr/bin/env python3
"""listener.py - the test bed's two misbehaving TCP servers.

  silent  127.0.0.1:SILENT_PORT  accepts every connection, reads and
          discards what the client sends, never writes a byte: a TCP
          connect succeeds, every protocol handshake then times out.
  full    127.0.0.1:FULL_PORT    listens with backlog 0 and never calls
          accept(); the listener fills its own accept queue with a
          connection to itself, after which the kernel drops every new
          SYN, so a client's connect() hangs until its timeout (what an
          egress firewall that drops packets looks like).

    listener.py SILENT_PORT FULL_PORT

Runs in the foreground until SIGTERM; ci/services backgrounds it and keeps
its pid file. Binds loopback only.
"""
import select
import socket
import sys


def listen(port, backlog):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def connects(port, timeout):
    """True when a connect to port completes within timeout seconds."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        c.connect(("127.0.0.1", port))
    except OSError:
        c.close()
        return None
    return c


def fill_queue(port):
    """Connects to our own never-accepting listener until the kernel stops
    completing handshakes; returns the sockets, which must stay open."""
    fillers = []
    for _ in range(8):
        c = connects(port, 0.5)
        if c is None:
            return fillers
        fillers.append(c)
    raise SystemExit("listener: accept queue of :%d never filled" % port)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    silent = listen(int(argv[0]), 64)
    # Both stay referenced (and open) for the life of the process.
    full = listen(int(argv[1]), 0)
    fillers = fill_queue(int(argv[1]))
    print("listener: silent on :%s, full queue on :%s (%d fillers, fd %d)"
          % (argv[0], argv[1], len(fillers), full.fileno()), flush=True)
    clients = []
    while True:
        ready, _, _ = select.select([silent] + clients, [], [])
        for s in ready:
            if s is silent:
                conn, _ = silent.accept()
                clients.append(conn)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:  # the client gave up: forget it
                clients.remove(s)
                s.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
