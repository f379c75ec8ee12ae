"""cqlsh (the PyPI package, tests/integration/requirements.txt) against the
server: one-shot statements with -e, including server-side DESCRIBE
(cqlsh 6.x sends DESCRIBE to servers that report 4.0 or later)."""

import os
import shutil
import subprocess

import pytest

from conftest import unique_name

pytestmark = pytest.mark.cqlsh

CQLSH = shutil.which("cqlsh")


@pytest.fixture
def cqlsh(server, tmp_path):
    if CQLSH is None:
        pytest.skip("cqlsh is not on PATH (pip install -r tests/integration/requirements.txt)")
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


def require_server_describe(session):
    """cqlsh 6.x sends DESCRIBE to the server (Cassandra 4.0+ implements it
    server-side); without it cqlsh cannot describe anything."""
    from cassandra.protocol import SyntaxException
    try:
        session.execute("DESCRIBE KEYSPACES")
    except SyntaxException as e:
        pytest.skip("server has no server-side DESCRIBE yet (%s)" % e)


def test_cqlsh_describe_keyspaces(cqlsh, session, keyspace):
    require_server_describe(session)
    out = ok(cqlsh("DESCRIBE KEYSPACES"))
    names = out.split()
    assert keyspace in names, out
    assert "system" in names and "system_schema" in names, out


def test_cqlsh_describe_table(cqlsh, session, keyspace):
    require_server_describe(session)
    session.execute("CREATE TABLE %s.d (a int, b text, c int, v blob, PRIMARY KEY ((a, b), c)) "
                    "WITH CLUSTERING ORDER BY (c DESC)" % keyspace)
    out = ok(cqlsh("DESCRIBE TABLE %s.d" % keyspace))
    assert "CREATE TABLE %s.d" % keyspace in out, out
    assert "PRIMARY KEY ((a, b), c)" in out, out
    assert "CLUSTERING ORDER BY (c DESC)" in out, out


def test_cqlsh_reports_errors(cqlsh):
    p = cqlsh("SELECT * FROM nosuchks.nosuchtable")
    assert p.returncode != 0
    assert "InvalidRequest" in p.stderr or "nosuchks" in p.stderr, p.stderr
    p = cqlsh("SELEKT 1")
    assert p.returncode != 0
    assert "syntax" in p.stderr.lower(), p.stderr
