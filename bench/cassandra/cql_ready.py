#!/usr/bin/env python3
"""cql_ready.py HOST PORT -- exit 0 iff a CQL server answers there.

Sends one native-protocol v4 OPTIONS request on a raw socket and checks that a
SUPPORTED response comes back. No driver: this is polled in a loop while the
peer starts, and must be quick and silent. Exit 1: nothing listening or a
wrong answer; the caller retries.
"""
import socket
import struct
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    # header: version 4 request, flags 0, stream 1, opcode OPTIONS (5), body length 0
    frame = struct.pack(">BBhBi", 0x04, 0, 1, 0x05, 0)
    try:
        with socket.create_connection((host, port), timeout=2.0) as s:
            s.settimeout(2.0)
            s.sendall(frame)
            hdr = b""
            while len(hdr) < 9:
                chunk = s.recv(9 - len(hdr))
                if not chunk:
                    return 1
                hdr += chunk
    except OSError:
        return 1
    version, _flags, _stream, opcode, _length = struct.unpack(">BBhBi", hdr)
    # response to v4: version byte 0x84; SUPPORTED is opcode 6
    return 0 if version == 0x84 and opcode == 0x06 else 1


if __name__ == "__main__":
    sys.exit(main())
