#!/usr/bin/env python3
"""probe.py HOST PORT TIMEOUT_S -- wait until a CQL server answers a real query.

Polls with a raw native-protocol v4 connection: OPTIONS, STARTUP, then
QUERY "SELECT release_version FROM system.local". Succeeds (exit 0) on the
first ROWS answer and prints one JSON line:
    {"seconds": <time since this probe started>, "release_version": "..."}
so that "start-up time to first answered query" is measured the same way
for Helenus and for Cassandra. Exit 1 on timeout. No driver needed.
"""
import json
import socket
import struct
import sys
import time


def frame(stream, opcode, body=b""):
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body


def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def recv_frame(s):
    hdr = b""
    while len(hdr) < 9:
        c = s.recv(9 - len(hdr))
        if not c:
            raise OSError("closed")
        hdr += c
    _v, _f, stream, opcode, n = struct.unpack(">BBhBi", hdr)
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            raise OSError("closed")
        body += c
    return stream, opcode, body


def try_once(host, port):
    with socket.create_connection((host, port), timeout=2.0) as s:
        s.settimeout(5.0)
        s.sendall(frame(0, 0x05))
        if recv_frame(s)[1] != 0x06:
            return None
        startup = struct.pack(">H", 1) + string("CQL_VERSION") + string("3.0.0")
        s.sendall(frame(1, 0x01, startup))
        if recv_frame(s)[1] != 0x02:
            return None
        q = b"SELECT release_version FROM system.local"
        body = struct.pack(">i", len(q)) + q + struct.pack(">HB", 1, 0)
        s.sendall(frame(2, 0x07, body))
        _st, op, body = recv_frame(s)
        if op != 0x08 or struct.unpack(">i", body[:4])[0] != 2:
            return None
        # rows: flags, ncols, [global spec], col specs, nrows, cells
        flags, ncols = struct.unpack(">ii", body[4:12])
        off = 12
        if flags & 0x02:
            n = struct.unpack(">i", body[off:off + 4])[0]
            off += 4 + max(n, 0)

        def skip_string(o):
            n = struct.unpack(">H", body[o:o + 2])[0]
            return o + 2 + n

        if not flags & 0x04:
            if flags & 0x01:
                off = skip_string(skip_string(off))
            for _ in range(ncols):
                if not flags & 0x01:
                    off = skip_string(skip_string(off))
                off = skip_string(off)
                off += 2  # type id (varchar)
        nrows = struct.unpack(">i", body[off:off + 4])[0]
        off += 4
        version = ""
        if nrows > 0:
            n = struct.unpack(">i", body[off:off + 4])[0]
            version = body[off + 4:off + 4 + max(n, 0)].decode("utf-8", "replace")
        return version


def main():
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            v = try_once(host, port)
            if v is not None:
                print(json.dumps({"seconds": round(time.monotonic() - t0, 3),
                                  "release_version": v}))
                return 0
        except (OSError, struct.error):
            pass
        time.sleep(0.02)
    return 1


if __name__ == "__main__":
    sys.exit(main())
