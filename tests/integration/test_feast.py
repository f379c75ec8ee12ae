"""Feast on Helenus: feast 0.67.0 (PyPI, `feast[cassandra]`) with its
Cassandra online store, unchanged, against the real binary.

Feast and its dependencies live in build/venv-feast (pinned in
tests/integration/feast/requirements.txt, installed by
scripts/install-feast-deps.sh, which scripts/install-deps.sh --test calls):
their ranges need not agree with build/venv's pins, so Feast's steps run
in that venv as subprocesses (the `feast` command line and
tests/integration/feast/feast_steps.py), while this file checks the server
with build/venv's cassandra-driver. A missing venv fails the test, never
skips it.

What is checked, on the session server (2 shards), in a fresh keyspace:
  * a feature repository (feature_store.yaml with `online_store: type:
    cassandra` on the server's port, offline store `type: file` over a
    generated parquet file of two rows per entity, an old and a newer one);
  * `feast apply` creates the feature view's table (Feast's own CREATE
    TABLE IF NOT EXISTS, seen in system_schema);
  * `feast materialize START END` writes the newer row of every entity
    (Feast's prepared INSERTs through execute_concurrent): the row count
    and, for a sample of entities, every feature's stored Value protobuf
    and event_ts, decoded here from the CQL row;
  * get_online_features for all N entities in batches of 100 returns
    exactly the newer values, and entities never written come back empty;
  * `feast teardown` drops the table;
  * the same with authentication on (a server of its own with
    PasswordAuthenticator and CassandraAuthorizer): Feast logs in with
    username/password as a role granted only its keyspace.
Bounded: every subprocess has a timeout, the whole test takes ~30 s on
the ASan build (the conftest watchdog is 150 s).
"""

import json
import os
import struct
import subprocess
from datetime import datetime, timedelta

import pytest

from conftest import REPO

VENV = os.path.join(REPO, "build", "venv-feast")
STEPS = os.path.join(REPO, "tests", "integration", "feast", "feast_steps.py")
N = 2000
FEATURES = ("trips", "rating", "label")


def _venv_bin(name):
    p = os.path.join(VENV, "bin", name)
    if not os.access(p, os.X_OK):
        pytest.fail("%s is missing: run scripts/install-feast-deps.sh "
                    "(scripts/install-deps.sh --test does)" % p)
    return p


def _run(argv, cwd, timeout):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1"))
    assert p.returncode == 0, "%s: rc %d\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(argv), p.returncode, p.stdout[-4000:], p.stderr[-4000:])
    # Feast logs (and swallows) a failed concurrent read or write; any such
    # line means the server answered one of its statements with an error.
    assert "online store exception" not in p.stderr, p.stderr[-4000:]
    return p


def _last_json(p):
    return json.loads(p.stdout.strip().splitlines()[-1])


def _decode_value(b):
    """The one field of a feast.types.Value message as Feast stores it:
    int64_val (field 4, varint), double_val (5, fixed64), string_val (2)."""
    tag = b[0]
    if tag == 0x20:
        v, shift, i = 0, 0, 1
        while True:
            v |= (b[i] & 0x7F) << shift
            shift += 7
            if not b[i] & 0x80:
                break
            i += 1
        return v - (1 << 64) if v >= 1 << 63 else v
    if tag == 0x29:
        return struct.unpack("<d", b[1:9])[0]
    if tag == 0x12:
        n = b[1]  # the labels are shorter than 128 bytes
        return b[2:2 + n].decode()
    raise AssertionError("unexpected Value protobuf %r" % b)


def _feast_round(srv, session, keyspace, tmp_path, n, auth=()):
    """init, feast apply, feast materialize, read, CQL check, feast teardown."""
    py = _venv_bin("python")
    feast = _venv_bin("feast")
    repo = str(tmp_path / "repo")
    argv = [py, STEPS, "init", repo, "--port", str(srv.port), "--keyspace", keyspace,
            "--entities", str(n)]
    if auth:
        argv += ["--username", auth[0], "--password", auth[1]]
    init = _last_json(_run(argv, REPO, 60))
    assert init["parquet_rows"] == 2 * n
    table = init["table"]

    _run([feast, "apply"], repo, 90)
    cols = {r.column_name: r.type for r in session.execute(
        "SELECT column_name, type FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s", (keyspace, table))}
    assert cols == {"entity_key": "text", "feature_name": "text", "value": "blob",
                    "event_ts": "timestamp", "created_ts": "timestamp"}, cols

    start = init["materialize_start"][:19]
    end = init["materialize_end"][:19]
    _run([feast, "materialize", start, end], repo, 90)
    count = session.execute('SELECT count(*) FROM "%s"."%s"' % (keyspace, table)).one()[0]
    assert count == n * len(FEATURES), count

    got = _last_json(_run([py, STEPS, "read", repo, "--entities", str(n), "--batch", "100"],
                          REPO, 90))
    assert got["mismatch_count"] == 0, got["mismatches"]
    assert got["checked"] == n and got["missing_ok"] == 5, got

    # the stored rows themselves, read back over CQL and decoded here
    base = datetime(2026, 12, 1, 12, 0, 0)
    sel = session.prepare('SELECT feature_name, value, event_ts FROM "%s"."%s" '
                          'WHERE entity_key = ?' % (keyspace, table))
    assert len(got["sample"]) >= 20
    for i, s in got["sample"].items():
        i = int(i)
        rows = list(session.execute(sel, (s["entity_key"],)))
        assert [r.feature_name for r in rows] == sorted(FEATURES), (i, rows)
        for r in rows:
            assert _decode_value(r.value) == s["values"][r.feature_name], (i, r)
            assert r.event_ts == base - timedelta(hours=1) + timedelta(seconds=i % 600), (i, r)

    _run([feast, "teardown"], repo, 90)
    left = list(session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)))
    assert left == [], left


def test_feast_apply_materialize_online(server, session, keyspace, tmp_path):
    _feast_round(server, session, keyspace, tmp_path, N)


def test_feast_with_password_and_grants(make_server, connect, tmp_path):
    """Feast's username/password (PlainTextAuthProvider) as a role that is
    no superuser and holds permissions on its keyspace only: Feast's CREATE
    TABLE, prepared INSERTs and SELECTs and DROP TABLE all pass the
    authoriser; another keyspace stays out of its reach."""
    from cassandra import Unauthorized
    from cassandra.auth import PlainTextAuthProvider

    cfg = tmp_path / "helenus-auth.yaml"
    cfg.write_text("authenticator: PasswordAuthenticator\nauthorizer: CassandraAuthorizer\n"
                   "role_manager: CassandraRoleManager\n")
    srv = make_server(config=str(cfg))
    admin = connect(srv, auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
    simple = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    admin.execute("CREATE KEYSPACE feast_auth WITH replication = " + simple)
    admin.execute("CREATE KEYSPACE other WITH replication = " + simple)
    admin.execute("CREATE ROLE feast_user WITH PASSWORD = 'f3ast!' AND LOGIN = true")
    admin.execute("GRANT ALL PERMISSIONS ON KEYSPACE feast_auth TO feast_user")
    _feast_round(srv, admin, "feast_auth", tmp_path, 300, auth=("feast_user", "f3ast!"))
    user = connect(srv, auth_provider=PlainTextAuthProvider("feast_user", "f3ast!"))
    with pytest.raises(Unauthorized):
        user.execute("CREATE TABLE other.t (k int PRIMARY KEY)")
