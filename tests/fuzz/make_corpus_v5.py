#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_frame_v5 (tests/fuzz/corpus/fuzz_frame_v5/).

Valid frames are built with the Python driver's own v5 codec
(cassandra.segment.SegmentCodec, with the driver's lz4 functions), so the
seeds do not depend on Helenus' encoder; the broken ones are those frames
with a byte changed. Each seed starts with the harness' mode byte (0 v5
frames, 1 v5 lz4 frames, 2 v4 lz4 body, 3 v4 snappy body).
Usage: python3 tests/fuzz/make_corpus_v5.py   (needs cassandra-driver, lz4,
python-snappy)"""

import io
import os
import struct

import snappy
from cassandra.connection import lz4_compress, lz4_decompress
from cassandra.segment import SegmentCodec, compute_crc24, compute_crc32, CRC32_INITIAL

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_frame_v5")


def envelope(opcode, body, stream=1, flags=0, version=5):
    return struct.pack(">BBhBI", version, flags, stream, opcode, len(body)) + body


def query_v5(cql, values=(), keyspace=None):
    b = cql.encode()
    flags = 0x01 if values else 0
    if keyspace:
        flags |= 0x80
    out = struct.pack(">I", len(b)) + b + struct.pack(">HI", 1, flags)
    if values:
        out += struct.pack(">H", len(values))
        for v in values:
            out += struct.pack(">i", len(v)) + v
    if keyspace:
        out += struct.pack(">H", len(keyspace)) + keyspace.encode()
    return out


def prepare_v5(cql, keyspace):
    b = cql.encode()
    return (struct.pack(">I", len(b)) + b + struct.pack(">I", 1) +
            struct.pack(">H", len(keyspace)) + keyspace.encode())


def execute_v5(qid, mdid):
    return (struct.pack(">H", len(qid)) + qid + struct.pack(">H", len(mdid)) + mdid +
            struct.pack(">HI", 4, 0x02))


def frames(msgs, lz4=False):
    codec = SegmentCodec(lz4_compress, lz4_decompress) if lz4 else SegmentCodec()
    buf = io.BytesIO()
    for m in msgs:
        codec.encode(buf, m)
    return buf.getvalue()


def packed(msgs):
    """several envelopes in one self-contained frame (the driver never packs)"""
    payload = b"".join(msgs)
    h = len(payload) | (1 << 17)
    return (h.to_bytes(3, "little") + compute_crc24(h, 3).to_bytes(3, "little") + payload +
            compute_crc32(payload, CRC32_INITIAL).to_bytes(4, "little"))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    q = envelope(0x07, query_v5("SELECT * FROM system.local"))
    big = envelope(0x07, query_v5("INSERT INTO ks.t (k, v) VALUES (?, ?)",
                                  [b"\x00\x00\x00\x01", bytes(range(256)) * 600], "ks"))
    write("v5_query", b"\x00" + frames([q]))
    write("v5_packed", b"\x00" + packed([q, envelope(0x05, b"", stream=2),
                                        envelope(0x09, prepare_v5("SELECT v FROM t", "ks"), 3),
                                        envelope(0x0A, execute_v5(b"\x11" * 16, b"\x22" * 16), 4)]))
    write("v5_multi_frame", b"\x00" + frames([big, q]))
    write("v5_lz4_query", b"\x01" + frames([q], lz4=True))
    write("v5_lz4_multi_frame", b"\x01" + frames([big, q], lz4=True))
    f = bytearray(frames([q]))
    f[1] ^= 0x01
    write("v5_bad_crc24", b"\x00" + bytes(f))
    f = bytearray(frames([q, q]))
    f[10] ^= 0x40
    write("v5_bad_crc32_then_good", b"\x00" + bytes(f))
    f = bytearray(frames([big]))
    f[20] ^= 0x01
    write("v5_bad_crc32_first_of_large", b"\x00" + bytes(f))
    f = bytearray(frames([big, q]))
    f[131071 + 10 + 30] ^= 0x01
    write("v5_bad_crc32_second_of_large", b"\x00" + bytes(f))
    # lz4 frame announcing a larger uncompressed length than the block holds
    fr = frames([envelope(0x07, query_v5("SELECT " + "x" * 500))], lz4=True)
    h = int.from_bytes(fr[:5], "little")
    clen, ulen = h & 0x1FFFF, (h >> 17) & 0x1FFFF
    assert ulen, "seed not compressed"
    h2 = clen | ((ulen + 1000) << 17) | (1 << 34)
    write("v5_lz4_lying_length", b"\x01" + h2.to_bytes(5, "little") +
          compute_crc24(h2, 5).to_bytes(3, "little") + fr[8:])
    junk = b"\xf0" * 40
    h3 = len(junk) | (500 << 17) | (1 << 34)
    write("v5_lz4_corrupt", b"\x01" + h3.to_bytes(5, "little") + compute_crc24(h3, 5).to_bytes(
        3, "little") + junk + compute_crc32(junk, CRC32_INITIAL).to_bytes(4, "little"))
    # v3/v4 bodies
    body = query_v5("SELECT * FROM system.local")
    write("v4_lz4_body", b"\x02" + lz4_compress(body))
    z = bytearray(lz4_compress(body))
    z[3] += 7
    write("v4_lz4_lying_length", b"\x02" + bytes(z))
    write("v4_lz4_huge_claim", b"\x02" + b"\x7f\xff\xff\xff\x10a")
    write("v4_snappy_body", b"\x03" + snappy.compress(body))
    write("v4_snappy_lying_length", b"\x03" + b"\xff\xff\xff\xff\x0f\x00a")
    write("v4_snappy_truncated", b"\x03" + snappy.compress(body * 10)[:-3])


if __name__ == "__main__":
    main()
