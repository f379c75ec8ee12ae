"""cqlsh (the PyPI package, tests/integration/requirements.txt) against the
server: one-shot statements with -e, including server-side DESCRIBE
(cqlsh 6.x sends DESCRIBE to servers that report 4.0 or later)."""

import os
import shutil
import subprocess

import pytest

from conftest import unique_name

pytestmark = pytest.mark.cqlsh

from conftest import REPO



def _find_cqlsh():
    """PATH first (scripts/test.sh puts build/venv/bin there), then build/venv."""
    p = shutil.which("cqlsh")
    if p:
        return p
    p = os.path.join(REPO, "build", "venv", "bin", "cqlsh")
    return p if os.access(p, os.X_OK) else None


CQLSH = _find_cqlsh()


@pytest.fixture
def cqlsh(server, tmp_path):
    if CQLSH is None:
        # a missing conformance client fails the run: it must not pass unnoticed
        pytest.fail("cqlsh is neither on PATH nor in build/venv/bin: run scripts/install-deps.sh --test")
    home = tmp_path / "home"
    home.mkdir()
    rc_file = tmp_path / "cqlshrc"
    rc_file.write_text("")

    def run(cql, timeout=60):
        env = dict(os.environ)
        env["HOME"] = str(home)
        argv = [CQLSH, "--cqlshrc", str(rc_file), "--connect-timeout", "10",
                "--request-timeout", "20", "127.0.0.1", str(server.port), "-e", cql]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
        return p

    return run


def ok(p):
    assert p.returncode == 0, "cqlsh rc %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)
    return p.stdout


def test_cqlsh_select_release_version(cqlsh):
    out = ok(cqlsh("SELECT release_version FROM system.local"))
    assert "release_version" in out
    lines = [ln.strip() for ln in out.splitlines()]
    assert any(ln.startswith("5.0.") for ln in lines), out


def test_cqlsh_write_and_read(cqlsh):
    ks = unique_name()
    out = ok(cqlsh(
        "CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
        "'replication_factor': 1}; "
        "CREATE TABLE %s.t (k int, c int, v text, b blob, f float, ts timestamp, "
        "PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC); "
        "INSERT INTO %s.t (k, c, v, b, f, ts) VALUES (1, 1, 'one', 0xcafe, 1.5, "
        "'2024-01-02 03:04:05+0000'); "
        "INSERT INTO %s.t (k, c, v) VALUES (1, 2, 'two'); "
        "SELECT * FROM %s.t WHERE k = 1; "
        "DROP KEYSPACE %s;" % ((ks,) * 6)))
    assert "one" in out and "two" in out and "0xcafe" in out, out
    assert "(2 rows)" in out, out
    assert out.index("two") < out.index("one"), "DESC order not kept:\n" + out
    assert "2024-01-02 03:04:05" in out, out


def test_cqlsh_describe_keyspaces(cqlsh, keyspace):
    out = ok(cqlsh("DESCRIBE KEYSPACES"))
    names = out.split()
    assert keyspace in names, out
    assert "system" in names and "system_schema" in names, out


def test_cqlsh_describe_table(cqlsh, session, keyspace):
    session.execute("CREATE TABLE %s.d (a int, b text, c int, v blob, PRIMARY KEY ((a, b), c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % keyspace)
    out = ok(cqlsh("DESCRIBE TABLE %s.d" % keyspace))
    assert "CREATE TABLE %s.d" % keyspace in out, out
    assert "PRIMARY KEY ((a, b), c)" in out, out
    assert "CLUSTERING ORDER BY (c DESC)" in out, out


def test_cqlsh_describe_keyspace_and_cluster(cqlsh, session, keyspace):
    session.execute("CREATE TABLE %s.k (k int PRIMARY KEY, v text)" % keyspace)
    out = ok(cqlsh("DESCRIBE KEYSPACE %s" % keyspace))
    assert "CREATE KEYSPACE %s WITH replication" % keyspace in out, out
    assert "CREATE TABLE %s.k (" % keyspace in out, out
    assert "k int PRIMARY KEY" in out, out
    out = ok(cqlsh("DESCRIBE CLUSTER"))
    assert "Murmur3Partitioner" in out, out


def describe_rows(session, cql):
    return [(r.keyspace_name, r.type, r.name, r.create_statement)
            for r in session.execute(cql)]


def test_describe_keyspace_round_trip(session):
    """DESCRIBE KEYSPACE's statements recreate the keyspace: drop it, run
    them back, and DESCRIBE gives the same text."""
    ks = unique_name()
    session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'NetworkTopologyStrategy', "
                    "'datacenter1': 1} AND durable_writes = false" % ks)
    session.execute("CREATE TABLE %s.a (k int PRIMARY KEY, \"Mixed\" text, b blob) "
                    "WITH comment = 'it''s' AND gc_grace_seconds = 10" % ks)
    session.execute("CREATE TABLE %s.b (p int, q text, c timestamp, d int, v double, "
                    "PRIMARY KEY ((p, q), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC) "
                    "AND compaction = {'class': 'LeveledCompactionStrategy'} "
                    "AND caching = {'keys': 'NONE'} AND default_time_to_live = 5" % ks)
    before = describe_rows(session, "DESCRIBE KEYSPACE %s" % ks)
    assert [r[1] for r in before] == ["keyspace", "table", "table"], before
    assert [r[2] for r in before] == [ks, "a", "b"], before
    assert "CLUSTERING ORDER BY (c DESC, d ASC)" in before[2][3], before[2][3]
    session.execute("DROP KEYSPACE %s" % ks)
    for row in before:
        session.execute(row[3])
    after = describe_rows(session, "DESCRIBE KEYSPACE %s" % ks)
    assert after == before
    session.execute("DROP KEYSPACE %s" % ks)


def test_describe_listings(session, keyspace):
    session.execute("CREATE TABLE %s.t1 (k int PRIMARY KEY)" % keyspace)
    rows = list(session.execute("DESCRIBE KEYSPACES"))
    assert rows[0]._fields == ("keyspace_name", "type", "name")
    assert (keyspace, "keyspace", keyspace) in [tuple(r) for r in rows]
    names = [r.name for r in rows]
    assert names == sorted(names)
    tables = [tuple(r) for r in session.execute("DESC TABLES")]
    assert (keyspace, "table", "t1") in tables
    schema = describe_rows(session, "DESCRIBE SCHEMA")
    assert all(not r[0].startswith("system") for r in schema), schema
    assert (keyspace, "keyspace", keyspace) in [r[:3] for r in schema]
    full = describe_rows(session, "DESCRIBE FULL SCHEMA")
    assert any(r[0] == "system_schema" for r in full)
    (c,) = list(session.execute("DESCRIBE CLUSTER"))
    assert c.partitioner == "Murmur3Partitioner"
    t = describe_rows(session, "DESCRIBE TABLE %s.t1" % keyspace)
    assert t[0][3].startswith("CREATE TABLE %s.t1 (\n    k int PRIMARY KEY\n) WITH " % keyspace)


def test_describe_errors(session):
    from cassandra import InvalidRequest
    with pytest.raises(InvalidRequest, match="not found in keyspaces"):
        session.execute("DESCRIBE KEYSPACE nosuchks")
    with pytest.raises(InvalidRequest, match="not found in keyspace"):
        session.execute("DESCRIBE TABLE system.nosuchtable")


def test_cqlsh_reports_errors(cqlsh):
    p = cqlsh("SELECT * FROM nosuchks.nosuchtable")
    assert p.returncode != 0
    assert "InvalidRequest" in p.stderr or "nosuchks" in p.stderr, p.stderr
    p = cqlsh("SELEKT 1")
    assert p.returncode != 0
    assert "syntax" in p.stderr.lower(), p.stderr
