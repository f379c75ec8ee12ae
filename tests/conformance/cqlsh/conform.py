#!/usr/bin/env python3
"""Conformance program for cqlsh (the PyPI package): a script of `cqlsh -e`
(and one `cqlsh -f`) runs against one server, judged by what cqlsh prints.

    conform.py HOST PORT [--user U --password P] [--tls-ca F]
               [--tls-cert F --tls-key F] [--cqlsh PATH]

Prints a JSON summary of the checks in tests/conformance/README.md on
stdout; exits 1 if any check failed, 2 on bad usage. Standard library only:
cqlsh is run as a program, as a user would run it (own HOME, own cqlshrc,
TZ=UTC so that timestamps print in UTC).

What differs from the driver programs, because cqlsh is a shell:
  * `types` writes with literals and reads the vertical (EXPAND ON) output;
    cqlsh does not prepare statements.
  * `paging` loads 20,000 rows of one partition with `cqlsh -f` and reads
    them back with PAGING 1000. cqlsh prints no page boundaries when not on
    a terminal, but it sizes each column to the widest value *of the page*,
    which gives them away: column v holds 1 + c/1000 characters and column w
    holds two characters only where c % 1000 == 999. Every row padded to
    exactly its own v length means no page spans two thousands; every w
    padded to 2 means every page holds the last row of its thousand; together:
    exactly 20 pages of 1000 rows.
  * `batch` sends BEGIN BATCH ... APPLY BATCH statements (a QUERY message,
    not a BATCH message).
  * error codes come from the class name cqlsh prints (SyntaxException is
    0x2000) or the "code=XXXX" it prints for other server errors.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

PAGED_ROWS = 20000
PAGE_SIZE = 1000
RUN_TIMEOUT = 60

CLASS_CODES = {"SyntaxException": 0x2000, "InvalidRequest": 0x2200, "AuthenticationFailed": 0x0100}


class CheckFailed(Exception):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--tls-ca")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--cqlsh", default=shutil.which("cqlsh") or os.path.join(
        os.path.dirname(sys.executable), "cqlsh"))
    ap.add_argument("--keyspace", default="conform_cqlsh_" + uuid.uuid4().hex[:8])
    args = ap.parse_args()
    ks = args.keyspace
    work = tempfile.mkdtemp(prefix="conform-cqlsh-")
    home = os.path.join(work, "home")
    os.makedirs(home)
    rc_path = os.path.join(work, "cqlshrc")
    with open(rc_path, "w") as f:
        f.write("[ui]\ncolor = off\ndouble_precision = 15\n")
        if args.tls_ca:
            f.write("[ssl]\ncertfile = %s\nvalidate = true\n" % args.tls_ca)
            if args.tls_cert:
                f.write("usercert = %s\nuserkey = %s\n" % (args.tls_cert, args.tls_key))
    env = dict(os.environ, HOME=home, TZ="UTC", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")
    for k in ("SSL_CERTFILE", "SSL_VALIDATE", "SSL_VERSION", "CQLSH_HOST", "CQLSH_PORT"):
        env.pop(k, None)

    def cqlsh(cql=None, file=None, password=None, timeout=RUN_TIMEOUT):
        argv = [args.cqlsh, "--cqlshrc", rc_path, "--connect-timeout", "10",
                "--request-timeout", "30"]
        if args.tls_ca:
            argv.append("--ssl")
        if args.user is not None:
            argv += ["-u", args.user, "-p", password if password is not None else
                     (args.password or "")]
        argv += [args.host, str(args.port)]
        argv += ["-f", file] if file else ["-e", cql]
        p = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8",
                           errors="replace", timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        return p

    noise = ("WARNING: cqlsh was built against",  # server version newer than cqlsh's
             "Warning: Using a password on the command line",  # -p
             "Recommendation: use the credentials file")

    def errors_of(p):
        """The error lines cqlsh printed (its warnings excluded)."""
        return [ln for ln in p.stderr.splitlines()
                if ln.strip() and not ln.startswith(noise)]

    def must(p, what):
        errs = errors_of(p)
        if p.returncode != 0 or errs:
            raise CheckFailed("%s: cqlsh rc %d: %s" % (what, p.returncode,
                                                      " / ".join(errs)[-600:] or p.stdout[-600:]))
        return p.stdout

    def table_rows(out):
        """Rows of cqlsh's horizontal output as lists of stripped cells."""
        lines = out.splitlines()
        rows = []
        for i, ln in enumerate(lines):
            if re.match(r"^-+(\+-+)*$", ln) and i > 0:
                for data in lines[i + 1:]:
                    if not data.startswith(" "):
                        break
                    rows.append([c.strip() for c in data[1:].split(" | ")])
                break
        return rows

    checks = []
    failed = set()

    def run(name, fn, needs=()):
        t0 = time.monotonic()
        missing = [n for n in needs if n in failed]
        if missing:
            ok, detail = False, "not run: %s failed" % ", ".join(missing)
        else:
            try:
                detail = fn()
                ok = True
            except subprocess.TimeoutExpired as e:
                ok, detail = False, "cqlsh did not finish within %ss" % e.timeout
            except Exception as e:
                ok, detail = False, "%s: %s" % (type(e).__name__, e)
        if not ok:
            failed.add(name)
            print("check %s failed: %s" % (name, detail), file=sys.stderr)
        checks.append({"name": name, "ok": ok, "detail": str(detail),
                       "seconds": round(time.monotonic() - t0, 3)})

    def connect():
        out = must(cqlsh("SELECT release_version FROM system.local"), "connect")
        rows = table_rows(out)
        if not rows:
            raise CheckFailed("no release_version row in %r" % out[-300:])
        return "release_version %s, tls %s, auth %s" % (
            rows[0][0], "yes" if args.tls_ca else "no", "yes" if args.user else "no")

    def schema():
        out = must(cqlsh(
            "CREATE KEYSPACE %(ks)s WITH replication = {'class': 'SimpleStrategy', "
            "'replication_factor': 1}; "
            "CREATE TABLE %(ks)s.types (k int PRIMARY KEY, i int, bi bigint, t text, bl blob, "
            "bo boolean, d double, ts timestamp, u uuid); "
            "CREATE TABLE %(ks)s.paged (p int, c int, v text, w text, PRIMARY KEY (p, c)); "
            "CREATE TABLE %(ks)s.events (k int, seq int, note text, PRIMARY KEY (k, seq)); "
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = '%(ks)s'"
            % {"ks": ks}), "DDL")
        names = sorted(r[0] for r in table_rows(out))
        if names != ["events", "paged", "types"]:
            raise CheckFailed("system_schema.tables lists %r for %s" % (names, ks))
        return "keyspace %s with tables %s" % (ks, ", ".join(names))

    u1, u2 = str(uuid.uuid4()), str(uuid.uuid1())

    def types():
        want = {
            "1": {"k": "1", "i": "2147483647", "bi": "9223372036854775807",
                  "t": "h\u00e9llo w\u00f6rld \u2713", "bl": "0x0001feff", "bo": "True",
                  "d": "3.141592653589793", "ts": "2024-02-29 12:34:56.789000+0000", "u": u1},
            "2": {"k": "2", "i": "-2147483648", "bi": "-9223372036854775808", "t": "",
                  "bl": "0x", "bo": "False", "d": "-1.5e-300",
                  "ts": "1969-12-31 23:59:59.001000+0000", "u": u2},
        }
        out = must(cqlsh(
            "INSERT INTO %(ks)s.types (k, i, bi, t, bl, bo, d, ts, u) VALUES (1, 2147483647, "
            "9223372036854775807, 'h\u00e9llo w\u00f6rld \u2713', 0x0001feff, true, "
            "3.141592653589793, '2024-02-29 12:34:56.789+0000', %(u1)s); "
            "INSERT INTO %(ks)s.types (k, i, bi, t, bl, bo, d, ts, u) VALUES (2, -2147483648, "
            "-9223372036854775808, '', 0x, false, -1.5e-300, '1969-12-31 23:59:59.001+0000', "
            "%(u2)s); "
            "EXPAND ON; "
            "SELECT k, i, bi, t, bl, bo, d, ts, u FROM %(ks)s.types WHERE k = 1; "
            "SELECT k, i, bi, t, bl, bo, d, ts, u FROM %(ks)s.types WHERE k = 2"
            % {"ks": ks, "u1": u1, "u2": u2}), "INSERT, SELECT")
        records = []
        for ln in out.splitlines():
            if ln.startswith("@ Row"):
                records.append({})
                continue
            m = re.match(r"^ (\w+) +\| ?(.*)$", ln)
            if m and records:
                records[-1][m.group(1)] = m.group(2).rstrip()
        got = {r.get("k"): r for r in records}
        for k, w in want.items():
            if got.get(k) != w:
                raise CheckFailed("k=%s: wanted %r, cqlsh printed %r" % (k, w, got.get(k)))
        return "literal insert, select of int, bigint, text, blob, boolean, double, timestamp, " \
               "uuid: 2 rows printed as written"

    def paging():
        path = os.path.join(work, "load.cql")
        with open(path, "w") as f:
            for c in range(PAGED_ROWS):
                f.write("INSERT INTO %s.paged (p, c, v, w) VALUES (0, %d, '%s', '%s');\n" % (
                    ks, c, "x" * (1 + c // PAGE_SIZE), "yy" if c % PAGE_SIZE == PAGE_SIZE - 1
                    else "y"))
            f.write("PAGING %d;\nSELECT c, v, w FROM %s.paged WHERE p = 0;\n" % (PAGE_SIZE, ks))
        out = must(cqlsh(file=path, timeout=90),
                   "cqlsh -f with %d INSERTs and the SELECT" % PAGED_ROWS)
        m = re.search(r"^\((\d+) rows\)$", out, re.M)
        printed = int(m.group(1)) if m else None
        cs = []
        spans_two = 0  # rows padded wider than their own v: page crosses a thousand
        lacks_end = 0  # rows whose w is not padded to 2: page misses its thousand's last row
        for ln in out.splitlines():
            if not ln.startswith(" "):
                continue
            cells = ln[1:].split(" | ")
            if len(cells) != 3 or not cells[0].strip().isdigit():
                continue
            c = int(cells[0])
            cs.append(c)
            if len(cells[1]) != 1 + c // PAGE_SIZE:
                spans_two += 1
            if len(cells[2]) != 2:
                lacks_end += 1
        detail = "%d rows loaded by cqlsh -f, then PAGING %d and a SELECT that printed %d rows " \
                 "(count line %s)" % (PAGED_ROWS, PAGE_SIZE, len(cs), printed)
        if cs != list(range(PAGED_ROWS)) or printed != PAGED_ROWS:
            raise CheckFailed("wanted rows c = 0..%d in order: %s" % (PAGED_ROWS - 1, detail))
        if spans_two or lacks_end:
            raise CheckFailed("not paged by %d: %s; column widths: %d rows on a page that spans "
                              "two thousands, %d rows on a page without its thousand's last row"
                              % (PAGE_SIZE, detail, spans_two, lacks_end))
        return detail + "; column widths show %d pages of %d rows" % (
            PAGED_ROWS // PAGE_SIZE, PAGE_SIZE)

    def batch():
        out = must(cqlsh(
            "BEGIN BATCH "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (1, 1, 'one'); "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (1, 2, 'two'); "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (2, 1, 'other partition'); "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (1, 3, 'three'); "
            "UPDATE %(ks)s.events SET note = 'two, updated' WHERE k = 1 AND seq = 2; "
            "APPLY BATCH; "
            "BEGIN UNLOGGED BATCH "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (3, 1, 'unlogged a'); "
            "INSERT INTO %(ks)s.events (k, seq, note) VALUES (3, 2, 'unlogged b'); "
            "APPLY BATCH; "
            "SELECT k, seq, note FROM %(ks)s.events" % {"ks": ks}), "BATCH")
        got = sorted((int(r[0]), int(r[1]), r[2]) for r in table_rows(out))
        want = [(1, 1, "one"), (1, 2, "two, updated"), (1, 3, "three"),
                (2, 1, "other partition"), (3, 1, "unlogged a"), (3, 2, "unlogged b")]
        if got != want:
            raise CheckFailed("after the batches the table holds %r, wanted %r" % (got, want))
        return "BEGIN BATCH (4 inserts, 1 update, 2 partitions) and BEGIN UNLOGGED BATCH " \
               "applied; %d rows read back" % len(got)

    def code_in(text):
        m = re.search(r"code=([0-9a-fA-F]{4})", text)
        if m:
            return int(m.group(1), 16)
        for name, code in CLASS_CODES.items():
            if re.search(r"\b%s\b" % name, text):
                return code
        return None

    def expect_error(cql, want):
        p = cqlsh(cql)
        errs = " / ".join(errors_of(p))
        code = code_in(errs)
        if code != want:
            raise CheckFailed("%r: wanted error 0x%04x, cqlsh rc %d printed %r (code %s)" % (
                cql, want, p.returncode, errs[-500:], None if code is None else "0x%04x" % code))
        return "0x%04x: %s" % (code, errs[-400:])

    def bad_password():
        p = cqlsh("SELECT release_version FROM system.local",
                  password=(args.password or "") + "-wrong")
        text = p.stdout + " / " + " / ".join(errors_of(p))
        if p.returncode == 0 and "release_version" in p.stdout:
            raise CheckFailed("connected with a wrong password")
        code = code_in(text)
        if code != 0x0100:
            raise CheckFailed("wanted error 0x0100, cqlsh rc %d printed %r" % (
                p.returncode, text[-500:]))
        return "0x0100: %s" % text.strip(" /\n")[-400:]

    version = "?"
    try:  # the cqlsh package's version, without starting cqlsh
        p = subprocess.run([os.path.join(os.path.dirname(args.cqlsh), "python"), "-c",
                            "import importlib.metadata as m; print(m.version('cqlsh'))"],
                           capture_output=True, text=True, timeout=30)
        version = p.stdout.strip() or "?"
    except Exception:
        pass

    run("connect", connect)
    run("schema", schema, needs=("connect",))
    run("types", types, needs=("schema",))
    run("paging", paging, needs=("schema",))
    run("batch", batch, needs=("schema",))
    run("error_syntax", lambda: expect_error("SELEC * FROM system.local", 0x2000),
        needs=("connect",))
    run("error_unknown_table",
        lambda: expect_error("SELECT * FROM %s.no_such_table" % ks, 0x2200), needs=("connect",))
    if args.user is not None:
        run("error_bad_password", bad_password)

    if "connect" not in failed:
        try:
            cqlsh("DROP KEYSPACE IF EXISTS %s" % ks)
        except Exception:
            pass
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"client": "cqlsh", "driver_version": version, "ok": not failed,
                      "checks": checks}, indent=1))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
