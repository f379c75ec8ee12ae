#!/usr/bin/env python3
"""
Records tests/compat/expected/<feature>.json from the real Apache Cassandra 5.0
of bench/cassandra: the only way expected files are ever produced.

    build/venv/bin/python tests/compat/record.py                 # every case file
    build/venv/bin/python tests/compat/record.py types_int ttl   # some of them
    build/venv/bin/python tests/compat/record.py --host 127.0.0.1 --port 19142 ...

Without --port it starts a node with bench/cassandra/start.sh in a temporary
run directory (needs bench/cassandra/setup.sh once, ~2.5 GB RAM, 15-40 s) and
stops it at the end with bench/cassandra/stop.sh. With --port it uses the node
already listening there and leaves it running.
"""

import argparse
import datetime
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compatlib as cl  # noqa: E402

REPO = os.path.abspath(os.path.join(cl.HERE, "..", ".."))
CASS = os.path.join(REPO, "bench", "cassandra")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", help="case files or feature names (default: all)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="use a Cassandra already listening here")
    ap.add_argument("--start-port", type=int, default=19142,
                    help="CQL port for the node this script starts (default 19142)")
    ap.add_argument("--run-dir", help="run directory for the started node (default: a temp dir)")
    args = ap.parse_args()

    files = cl.case_files(args.cases)
    for p in files:
        if not os.path.exists(p):
            ap.error("no case file %s" % p)
        cl.parse_case_file(p)  # syntax of the case files first, before the slow start

    started = None
    temp_dir = None
    port = args.port
    if port is None:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = temp_dir = tempfile.mkdtemp(prefix="compat-cassandra-")
        print("record: starting Cassandra in %s on port %d" % (run_dir, args.start_port), flush=True)
        subprocess.run([os.path.join(CASS, "start.sh"), run_dir, str(args.start_port)], check=True)
        started = run_dir
        port = args.start_port
    cl.DriverPatches().apply()  # for good: this process only records
    try:
        cluster = cl.make_cluster(args.host, port)
        session = cl.make_session(cluster)
        version = session.execute("SELECT release_version FROM system.local").one()[0]
        if not version.startswith("5.0"):
            raise SystemExit("record: %s:%d is Cassandra %s, want 5.0.x" % (args.host, port, version))
        import cassandra
        cmd = "build/venv/bin/python tests/compat/record.py" + "".join(
            " " + shlex.quote(a) for a in sys.argv[1:])
        header = {
            "recorded_by": cmd,
            "cassandra_version": version,
            "driver": "cassandra-driver %s" % cassandra.__version__,
            "protocol_version": cl.PROTOCOL_VERSION,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        os.makedirs(cl.EXPECTED_DIR, exist_ok=True)
        total = 0
        skipped = []
        for p in files:
            feature = cl.feature_of(p)
            # a file whose @requires settings the node does not have is not
            # recorded (its expected file stays as it was); reported at the end
            wrong = []
            for name, want in sorted(cl.file_settings(p).items()):
                r = session.execute("SELECT value FROM system_views.settings WHERE name = %s",
                                    (name,)).one()
                have = r[0] if r else None
                if have != want:
                    wrong.append("%s=%s (the node has %s)" % (name, want, have))
            if wrong:
                skipped.append("%s requires %s" % (os.path.basename(p), ", ".join(wrong)))
                print("record: %-24s SKIPPED: requires %s" % (feature, ", ".join(wrong)),
                      flush=True)
                continue
            results = cl.run_case_file(session, p)
            cl.drop_keyspace(session, feature)
            h = dict(header, case_file="tests/compat/cases/%s.cql" % feature)
            cl.write_expected(cl.expected_path(feature), h, results)
            nerr = sum(1 for _, e in results if "error" in e)
            drv = [st.index for st, e in results
                   if "error" in e and e["error"]["code"] == "driver"]
            total += len(results)
            print("record: %-24s %4d statements, %3d errors%s" % (
                feature, len(results), nerr,
                ("  DRIVER-SIDE FAILURES at %s" % drv) if drv else ""), flush=True)
        print("record: %d files, %d statements, Cassandra %s" % (
            len(files) - len(skipped), total, version))
        cluster.shutdown()
        if skipped:
            raise SystemExit(
                "record: not recorded (start a node with CASS_EXTRA_YAML naming a file with "
                "the setting and record them with --port):\n  " + "\n  ".join(skipped))
    finally:
        if started:
            rc = subprocess.run([os.path.join(CASS, "stop.sh"), started]).returncode
            if rc == 0 and temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
