#!/usr/bin/env python3
"""dnsq.py - a tiny DNS client for the test bed (no dig on a bare Debian).

Sends one query to a local server over UDP (or TCP with --tcp) and prints
the response code and every answer record as "NAME TTL TYPE DATA", one a
line.  ci/services uses it as a readiness probe and tests can use it to
see what the dnsmasq instances really answer.

    dnsq.py [--tcp] [--timeout S] SERVER:PORT NAME [TYPE]

Exit status: 0 when an answer arrived (whatever its rcode), 1 otherwise.
Only loopback servers are accepted: the test bed never talks elsewhere.
"""
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28,
         "ANY": 255}
NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def read_name(msg, off):
    """Returns (name, offset after the name), following compression."""
    labels, end, jumps = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 32:
                raise ValueError("compression loop")
            continue
        if n == 0:
            return ".".join(labels) + ".", (end if end is not None
                                            else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def rdata_text(msg, rtype, off, rdlen):
    data = msg[off:off + rdlen]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5):
        return read_name(msg, off)[0]
    if rtype == 16:
        parts, i = [], 0
        while i < len(data):
            parts.append('"%s"' % data[i + 1:i + 1 + data[i]].decode())
            i += 1 + data[i]
        return " ".join(parts)
    return data.hex()


def query(server, port, name, qtype, tcp, timeout):
    qid = random.randint(0, 0xFFFF)
    # RD set: dnsmasq only answers local data for RD=1 queries; it never
    # recurses here because it has no upstream server at all.
    req = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    req += encode_name(name) + struct.pack(">HH", qtype, 1)
    if tcp:
        with socket.create_connection((server, port), timeout) as s:
            s.sendall(struct.pack(">H", len(req)) + req)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(
                    ">H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    raise OSError("connection closed")
                buf += chunk
            return buf[2:]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(req, (server, port))
        while True:
            msg, _ = s.recvfrom(65535)
            if struct.unpack(">H", msg[:2])[0] == qid:
                return msg


def main(argv):
    tcp, timeout = False, 2.0
    args = []
    it = iter(argv)
    for a in it:
        if a == "--tcp":
            tcp = True
        elif a == "--timeout":
            timeout = float(next(it))
        else:
            args.append(a)
    if len(args) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, _, port = args[0].rpartition(":")
    if host not in ("127.0.0.1", "::1", "localhost"):
        print("dnsq: only loopback servers", file=sys.stderr)
        return 2
    qtype = TYPES[args[2].upper()] if len(args) == 3 else 1
    try:
        msg = query(host, int(port), args[1], qtype, tcp, timeout)
    except (OSError, socket.timeout) as e:
        print("dnsq: no answer from %s: %s" % (args[0], e), file=sys.stderr)
        return 1
    flags, qd, an = struct.unpack(">HHH", msg[2:8])
    print("rcode %s%s" % (RCODES.get(flags & 0xF, flags & 0xF),
                          " aa" if flags & 0x0400 else ""))
    off = 12
    for _ in range(qd):
        off = read_name(msg, off)[1] + 4
    for _ in range(an):
        rname, off = read_name(msg, off)
        rtype, _cls, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        print("%s %d %s %s" % (rname, ttl, NAMES.get(rtype, rtype),
                               rdata_text(msg, rtype, off, rdlen)))
        off += rdlen
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
