#!/usr/bin/env python3
"""Conformance program for the Python cassandra-driver (PyPI).

Runs the checks described in tests/conformance/README.md against one server
and prints a JSON summary on stdout; exits 1 if any check failed, 2 on bad
usage. Driver logs go to stderr.

    conform.py HOST PORT [--user U --password P] [--tls-ca F]
               [--tls-cert F --tls-key F] [--protocol 4|5] [--compression lz4]

--protocol pins the protocol version (default 4; the driver does not
downgrade a pinned version, so --protocol 5 fails to connect to a server
without v5). --compression asks for a compression algorithm; with protocol
v5 that is the frame (segment) compression. The `connect` check fails if the
negotiated version or compression is not what was asked for.
"""

import argparse
import datetime
import json
import logging
import re
import ssl
import sys
import time
import traceback
import uuid

import cassandra
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, SimpleStatement

PAGED_ROWS = 20000
PAGE_SIZE = 1000
ROWS_PER_PARTITION = 100


def error_code(exc):
    """The native-protocol error code carried by a driver exception: the
    attribute when the driver keeps it, else the 'code=XXXX' of its message."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    m = re.search(r"code=([0-9a-fA-F]{4})", str(exc))
    return int(m.group(1), 16) if m else None


def error_code_deep(exc):
    """Like error_code, looking inside NoHostAvailable's per-host errors."""
    if isinstance(exc, NoHostAvailable):
        for e in (exc.errors or {}).values():
            c = error_code_deep(e)
            if c is not None:
                return c
    return error_code(exc)


class CheckFailed(Exception):
    pass


class Runner:
    def __init__(self):
        self.checks = []
        self.failed = set()

    def run(self, name, fn, needs=()):
        t0 = time.monotonic()
        missing = [n for n in needs if n in self.failed]
        if missing:
            ok, detail = False, "not run: %s failed" % ", ".join(missing)
        else:
            try:
                detail = fn()
                ok = True
            except Exception as e:  # every failure becomes a failed check
                ok = False
                detail = "%s: %s" % (type(e).__name__, e)
                traceback.print_exc(file=sys.stderr)
        if not ok:
            self.failed.add(name)
        self.checks.append({"name": name, "ok": ok, "detail": str(detail),
                            "seconds": round(time.monotonic() - t0, 3)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--tls-ca")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--protocol", type=int, default=4)
    ap.add_argument("--compression", choices=["lz4", "snappy"])
    ap.add_argument("--keyspace", default="conform_py_" + uuid.uuid4().hex[:8])
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    ks = args.keyspace
    r = Runner()
    state = {}

    def cluster_kw(password=None):
        kw = dict(port=args.port, protocol_version=args.protocol, connect_timeout=10,
                  control_connection_timeout=10, max_schema_agreement_wait=10)
        if args.compression:
            kw["compression"] = args.compression
        else:
            kw["compression"] = False
        if args.user is not None:
            kw["auth_provider"] = PlainTextAuthProvider(
                username=args.user, password=password if password is not None else args.password)
        if args.tls_ca:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.tls_ca)
            if args.tls_cert:
                ctx.load_cert_chain(args.tls_cert, args.tls_key)
            kw["ssl_context"] = ctx
            kw["ssl_options"] = {"server_hostname": args.host}
        return kw

    def connect():
        cluster = Cluster([args.host], **cluster_kw())
        state["cluster"] = cluster
        session = cluster.connect()
        session.default_timeout = 30
        state["session"] = session
        conn = cluster.control_connection._connection
        version = conn.protocol_version
        compression = "lz4" if conn.compressor is not None and args.compression == "lz4" else (
            args.compression if conn.compressor is not None else "none")
        rel = session.execute("SELECT release_version FROM system.local").one()[0]
        detail = "protocol v%d, compression %s, release_version %s, tls %s, auth %s" % (
            version, compression, rel, "yes" if args.tls_ca else "no",
            "yes" if args.user else "no")
        if version != args.protocol:
            raise CheckFailed("negotiated protocol v%d, wanted v%d" % (version, args.protocol))
        if args.compression and conn.compressor is None:
            raise CheckFailed("asked for %s compression, connection has none (%s)"
                              % (args.compression, detail))
        if version >= 5 and not conn._is_checksumming_enabled:
            raise CheckFailed("protocol v5 without v5 framing (%s)" % detail)
        return detail

    def schema():
        s = state["session"]
        s.execute("CREATE KEYSPACE %s WITH replication = "
                  "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        s.execute("CREATE TABLE %s.types (k int PRIMARY KEY, i int, bi bigint, t text, bl blob, "
                  "bo boolean, d double, ts timestamp, u uuid)" % ks)
        s.execute("CREATE TABLE %s.paged (p int, c int, v text, PRIMARY KEY (p, c))" % ks)
        s.execute("CREATE TABLE %s.events (k int, seq int, note text, PRIMARY KEY (k, seq))" % ks)
        meta = state["cluster"].metadata.keyspaces.get(ks)
        tables = sorted(meta.tables) if meta else []
        if tables != ["events", "paged", "types"]:
            raise CheckFailed("driver metadata shows tables %r in %s" % (tables, ks))
        return "keyspace %s with tables %s" % (ks, ", ".join(tables))

    def types():
        s = state["session"]
        ins = s.prepare("INSERT INTO %s.types (k, i, bi, t, bl, bo, d, ts, u) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" % ks)
        sel = s.prepare("SELECT k, i, bi, t, bl, bo, d, ts, u FROM %s.types WHERE k = ?" % ks)
        utc = datetime.timezone.utc
        rows = [
            (1, 2147483647, 9223372036854775807, "h\u00e9llo w\u00f6rld \u2713",
             b"\x00\x01\xfe\xff", True, 3.141592653589793,
             datetime.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=utc), uuid.uuid4()),
            (2, -2147483648, -9223372036854775808, "", b"", False, -1.5e-300,
             datetime.datetime(1969, 12, 31, 23, 59, 59, 1000, tzinfo=utc), uuid.uuid1()),
        ]
        for row in rows:
            s.execute(ins, row)
        for row in rows:
            got = s.execute(sel, (row[0],)).one()
            if got is None:
                raise CheckFailed("row k=%d not found" % row[0])
            got = list(got)
            want = list(row)
            ts = got[7]
            if ts is not None and ts.tzinfo is None:
                got[7] = ts.replace(tzinfo=utc)
            if got != want:
                raise CheckFailed("k=%d: wrote %r, read %r" % (row[0], want, got))
        return "prepared insert+select of int, bigint, text, blob, boolean, double, " \
               "timestamp, uuid: %d rows round-tripped" % len(rows)

    def paging():
        s = state["session"]
        ins = s.prepare("INSERT INTO %s.paged (p, c, v) VALUES (?, ?, ?)" % ks)
        params = [(i // ROWS_PER_PARTITION, i % ROWS_PER_PARTITION, "v%d" % i)
                  for i in range(PAGED_ROWS)]
        results = execute_concurrent_with_args(s, ins, params, concurrency=64,
                                               raise_on_first_error=True)
        bad = [res for ok, res in results if not ok]
        if bad:
            raise CheckFailed("%d inserts failed, first: %r" % (len(bad), bad[0]))
        sel = s.prepare("SELECT p, c, v FROM %s.paged" % ks)
        sel.fetch_size = PAGE_SIZE
        rs = s.execute(sel)
        seen = set()
        pages = 0
        biggest = 0
        total = 0
        wrong = 0
        while True:
            page = rs.current_rows
            pages += 1
            biggest = max(biggest, len(page))
            for p, c, v in page:
                total += 1
                seen.add((p, c))
                if v != "v%d" % (p * ROWS_PER_PARTITION + c):
                    wrong += 1
            if not rs.has_more_pages:
                break
            if pages > 10 * PAGED_ROWS // PAGE_SIZE:
                raise CheckFailed("more than %d pages" % pages)
            rs.fetch_next_page()
        detail = "%d rows (%d distinct) in %d pages, largest page %d rows" % (
            total, len(seen), pages, biggest)
        if total != PAGED_ROWS or len(seen) != PAGED_ROWS or wrong:
            raise CheckFailed("wanted %d rows: %s, %d wrong values" % (PAGED_ROWS, detail, wrong))
        if biggest > PAGE_SIZE or pages < PAGED_ROWS // PAGE_SIZE:
            raise CheckFailed("not paged by %d: %s" % (PAGE_SIZE, detail))
        return detail

    def batch():
        s = state["session"]
        ins = s.prepare("INSERT INTO %s.events (k, seq, note) VALUES (?, ?, ?)" % ks)
        b = BatchStatement(batch_type=BatchType.LOGGED)
        b.add(ins, (1, 1, "one"))
        b.add(ins, (1, 2, "two"))
        b.add(ins, (2, 1, "other partition"))
        b.add(SimpleStatement("INSERT INTO %s.events (k, seq, note) VALUES (1, 3, 'three')" % ks))
        b.add("UPDATE %s.events SET note = %%s WHERE k = %%s AND seq = %%s" % ks,
              ("two, updated", 1, 2))
        s.execute(b)
        u = BatchStatement(batch_type=BatchType.UNLOGGED)
        u.add(ins, (3, 1, "unlogged a"))
        u.add(ins, (3, 2, "unlogged b"))
        s.execute(u)
        got = sorted(tuple(row) for row in s.execute(
            "SELECT k, seq, note FROM %s.events" % ks))
        want = [(1, 1, "one"), (1, 2, "two, updated"), (1, 3, "three"),
                (2, 1, "other partition"), (3, 1, "unlogged a"), (3, 2, "unlogged b")]
        if got != want:
            raise CheckFailed("after the batches the table holds %r, wanted %r" % (got, want))
        return "logged batch (3 prepared, 1 simple, 1 update, 2 partitions) and unlogged " \
               "batch applied; %d rows read back" % len(got)

    def expect_error(cql, want):
        s = state["session"]
        try:
            s.execute(cql)
        except Exception as e:
            code = error_code(e)
            if code != want:
                raise CheckFailed("%r: wanted error 0x%04x, got %s (code %s)"
                                  % (cql, want, e, None if code is None else "0x%04x" % code))
            return "0x%04x %s: %s" % (code, type(e).__name__, e)
        raise CheckFailed("%r succeeded, wanted error 0x%04x" % (cql, want))

    def bad_password():
        bad = (args.password or "") + "-wrong"
        c = Cluster([args.host], **cluster_kw(password=bad))
        try:
            c.connect()
        except Exception as e:
            code = error_code_deep(e)
            if code != 0x0100:
                raise CheckFailed("wanted error 0x0100, got %s (code %s)" % (e, code))
            return "0x0100: %s" % e
        finally:
            c.shutdown()
        raise CheckFailed("connected with a wrong password")

    r.run("connect", connect)
    r.run("schema", schema, needs=("connect",))
    r.run("types", types, needs=("schema",))
    r.run("paging", paging, needs=("schema",))
    r.run("batch", batch, needs=("schema",))
    r.run("error_syntax", lambda: expect_error("SELEC * FROM system.local", 0x2000),
          needs=("connect",))
    r.run("error_unknown_table",
          lambda: expect_error("SELECT * FROM %s.no_such_table" % ks, 0x2200), needs=("connect",))
    if args.user is not None:
        r.run("error_bad_password", bad_password)

    if "session" in state:
        try:
            state["session"].execute("DROP KEYSPACE IF EXISTS %s" % ks)
        except Exception:
            pass
    if "cluster" in state:
        state["cluster"].shutdown()

    summary = {
        "client": "python cassandra-driver",
        "driver_version": cassandra.__version__,
        "protocol": args.protocol,
        "compression": args.compression or "none",
        "ok": not r.failed,
        "checks": r.checks,
    }
    print(json.dumps(summary, indent=1))
    return 0 if not r.failed else 1


if __name__ == "__main__":
    sys.exit(main())
