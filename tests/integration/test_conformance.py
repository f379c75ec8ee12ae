"""Driver conformance matrix: every major client, each installed from its
own registry, against a real server in four modes.

Clients (programs in tests/conformance/, contract in its README):
  python         Python cassandra-driver, protocol v4 pinned
  python-v5-lz4  the same program, protocol v5 pinned, LZ4 frame compression
  node           Node.js cassandra-driver (negotiates; it knows v3/v4 only)
  java           Java driver 4.x (negotiates, newest first)
  go             gocql v2 (negotiates, newest first)
  go-v4          gocql v2 with protocol v4 pinned, so that its data path is
                 checked whatever negotiation does
  cqlsh          cqlsh, judged by what it prints
Modes: plain, auth (PasswordAuthenticator + CassandraAuthorizer, user
cassandra/cassandra), tls (client_encryption_options with a PEM keystore,
client certificates required), auth+tls.

Each (client, mode) cell runs its program once (bounded by CLIENT_TIMEOUT);
each check the program reports is its own test item, named
client-mode-check, so that a check the server does not support yet is
marked xfail(strict=True) on its own (XFAILS below: remove an entry when the
feature lands, and strictness makes the matrix say so).

Setup: scripts/install-deps.sh --test installs the clients under
build/conformance (scripts/install-conformance-deps.sh); a client whose
install is missing fails its tests, naming that script (never a skip: a
missing client must make the test command fail). The Java program is
compiled (offline) and the Go program built once per session, only if their
sources changed. Servers: one per mode, started on first use, stopped and
sanitizer-checked at the end of the module.
"""

import fnmatch
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import REPO, HelenusServer

pytestmark = pytest.mark.conformance

CLIENT_TIMEOUT = 120  # seconds per client run
SRC = os.path.join(REPO, "tests", "conformance")
OUT = os.path.join(REPO, "build", "conformance")
VENV_PY = os.path.join(REPO, "build", "venv", "bin", "python")
INSTALL = "scripts/install-deps.sh --test (scripts/install-conformance-deps.sh)"

MODES = ("plain", "auth", "tls", "auth+tls")
CLIENTS = ("python", "python-v5-lz4", "node", "java", "go", "go-v4", "cqlsh")
CHECKS = ("connect", "schema", "types", "paging", "batch", "error_syntax",
          "error_unknown_table")
AUTH_CHECKS = ("error_bad_password",)

ALL = "connect schema types paging batch error_syntax error_unknown_table error_bad_password"

# (client glob, mode glob, space-separated checks, reason): each matching
# cell check is xfail(strict=True). Only for what the server truly lacks,
# verified by running the matrix; keep the reasons specific, e.g.
#   ("*", "auth*", "error_bad_password", "server: authenticator not enforced yet"),
# Empty: every client passes every check in every mode.
XFAILS = []


def xfail_reason(client, mode, check):
    reasons = [r for c, m, checks, r in XFAILS
               if fnmatch.fnmatch(client, c) and fnmatch.fnmatch(mode, m)
               and check in checks.split()]
    return "; ".join(reasons) if reasons else None


def cells():
    for mode in MODES:
        for client in CLIENTS:
            for check in CHECKS + (AUTH_CHECKS if "auth" in mode else ()):
                reason = xfail_reason(client, mode, check)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(mode, client, check, marks=marks,
                                   id="%s-%s-%s" % (client, mode, check))


# ---------------------------------------------------------------------------
# certificates and server configurations


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost (keystore: key and
    certificate in one PEM) and a client certificate, EC P-256, PKCS#8 keys."""
    if shutil.which("openssl") is None:
        pytest.fail("no openssl CLI (install openssl)")
    d = tmp_path_factory.mktemp("certs")
    ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    openssl("genpkey", *ec, "-out", "ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Helenus conformance CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, cn, ext in (
            ("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                    "extendedKeyUsage=serverAuth\n"),
            ("client", "cassandra", "extendedKeyUsage=clientAuth\n")):
        (d / (name + ".ext")).write_text("basicConstraints=CA:FALSE\n"
                                         "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                         + ext)
        openssl("genpkey", *ec, "-out", name + ".key", cwd=d)
        openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + cn, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2",
                "-extfile", name + ".ext", cwd=d)
    (d / "server.pem").write_text((d / "server.key").read_text() + (d / "server.crt").read_text())
    return {k: str(d / v) for k, v in (("ca", "ca.pem"), ("keystore", "server.pem"),
                                       ("cert", "client.crt"), ("key", "client.key"))}


def server_yaml(mode, certs):
    lines = []
    if "auth" in mode:
        lines += ["authenticator: PasswordAuthenticator", "authorizer: CassandraAuthorizer"]
    if "tls" in mode:
        lines += ["client_encryption_options:",
                  "  enabled: true",
                  "  keystore: %s" % certs["keystore"],
                  "  require_client_auth: true",
                  "  truststore: %s" % certs["ca"]]
    return "\n".join(lines) + "\n"


def client_args(mode, certs):
    a = []
    if "auth" in mode:
        a += ["--user", "cassandra", "--password", "cassandra"]
    if "tls" in mode:
        a += ["--tls-ca", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"]]
    return a


@pytest.fixture(scope="module")
def mode_server(helenus_bin, certs, tmp_path_factory):
    """mode_server(mode) -> HelenusServer for that mode, started on first use;
    all are stopped (SIGTERM) and sanitizer-checked at the end of the module."""
    servers = {}

    def get(mode):
        if mode not in servers:
            base = tmp_path_factory.mktemp("conformance-" + mode.replace("+", "-"))
            cfg = base / "helenus.yaml"
            cfg.write_text(server_yaml(mode, certs))
            s = HelenusServer(helenus_bin, str(base / "data"), str(base / "logs"), shards=2,
                              config=str(cfg), name="conformance-" + mode.replace("+", "-"))
            servers[mode] = s
            s.start()
        s = servers[mode]
        assert s.alive(), "the %s server died (rc %r)\n%s" % (mode, s.proc.returncode, s.tail())
        return s

    yield get
    problems = []
    for mode, s in servers.items():
        was_alive = s.alive()
        try:
            rc = s.stop()
        except AssertionError as e:
            problems.append(str(e))
            continue
        if not was_alive or rc != 0:
            problems.append("%s server: alive %s, exit code %r after SIGTERM\n%s"
                            % (mode, was_alive, rc, s.tail()))
        problems.extend(s.sanitizer_reports())
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# client programs


def _newer(target, sources):
    try:
        t = os.path.getmtime(target)
    except OSError:
        return False
    return all(os.path.getmtime(s) <= t for s in sources)


def _run_build(argv, env=None, cwd=None, what=""):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        pytest.fail("building the %s conformance client failed (rc %d):\n%s\n%s"
                    % (what, p.returncode, p.stdout[-3000:], p.stderr[-3000:]))


def go_env():
    env = dict(os.environ)
    env.update(GOPATH=os.path.join(OUT, "go", "path"),
               GOMODCACHE=os.path.join(OUT, "go", "modcache"),
               GOCACHE=os.path.join(OUT, "go", "cache"), GOFLAGS="-modcacherw -mod=readonly",
               GOTOOLCHAIN="local", GOPROXY="off")
    return env


class MissingClient(Exception):
    """A conformance client whose install is missing: the test fails (a
    missing client must not let the run pass with that client untested)."""


_prepared = {}
_prepare_lock = threading.Lock()


def prepare(kind):
    """Builds (once per session) and returns the argv prefix of a client
    program, or fails when its install is missing."""
    with _prepare_lock:
        if kind in _prepared:
            how, val = _prepared[kind]
            if how == "missing":
                pytest.fail(val)
            return val
        try:
            argv = _prepare(kind)
        except MissingClient as e:
            _prepared[kind] = ("missing", str(e))
            pytest.fail(str(e))
        _prepared[kind] = ("ok", argv)
        return argv


def _prepare(kind):
    if kind == "python":
        if not os.path.exists(VENV_PY):
            raise MissingClient("no build/venv: run " + INSTALL)
        return [VENV_PY, os.path.join(SRC, "python", "conform.py")]
    if kind == "python-lz4":
        p = subprocess.run([VENV_PY, "-c", "import lz4.block"], capture_output=True, timeout=60)
        if p.returncode != 0:
            raise MissingClient("python lz4 is not installed in build/venv: run " + INSTALL)
        return [VENV_PY, os.path.join(SRC, "python", "conform.py")]
    if kind == "cqlsh":
        cqlsh = os.path.join(REPO, "build", "venv", "bin", "cqlsh")
        if not os.path.exists(cqlsh):
            raise MissingClient("no cqlsh in build/venv: run " + INSTALL)
        return [VENV_PY, os.path.join(SRC, "cqlsh", "conform.py"), "--cqlsh", cqlsh]
    if kind == "node":
        node = shutil.which("node")
        mods = os.path.join(OUT, "node", "node_modules")
        if node is None or not os.path.isdir(os.path.join(mods, "cassandra-driver")):
            raise MissingClient("Node.js cassandra-driver is not installed: run " + INSTALL)
        return [node, os.path.join(SRC, "node", "conform.js")]
    if kind == "java":
        java, mvn = shutil.which("java"), shutil.which("mvn")
        m2 = os.path.join(OUT, "m2")
        target = os.path.join(OUT, "java", "target")
        if java is None or mvn is None or not os.path.isdir(m2):
            raise MissingClient("the Java driver is not installed: run " + INSTALL)
        srcs = [os.path.join(SRC, "java", "pom.xml"),
                os.path.join(SRC, "java", "src", "main", "java", "Conform.java")]
        if not (_newer(os.path.join(target, "classes", "Conform.class"), srcs)
                and os.path.isdir(os.path.join(target, "lib"))):
            _run_build([mvn, "-B", "-q", "-o", "-Dstyle.color=never", "-Dmaven.repo.local=" + m2,
                        "-f", srcs[0], "compile"], what="Java")
        classpath = os.path.join(target, "classes") + ":" + os.path.join(target, "lib", "*")
        return [java, "-cp", classpath, "Conform"]
    if kind == "go":
        go = shutil.which("go")
        if go is None or not os.path.isdir(os.path.join(OUT, "go", "modcache")):
            raise MissingClient("gocql is not installed: run " + INSTALL)
        binary = os.path.join(OUT, "go", "conform")
        # go build is incremental: cheap when nothing changed.
        _run_build([go, "build", "-o", binary, "."], env=go_env(), cwd=os.path.join(SRC, "go"),
                   what="Go")
        return [binary]
    raise AssertionError(kind)


def client_argv(client):
    extra = {"python": ["--protocol", "4"],
             "python-v5-lz4": ["--protocol", "5", "--compression", "lz4"],
             "go-v4": ["--protocol", "4"]}.get(client, [])
    kind = {"python-v5-lz4": "python-lz4", "go-v4": "go"}.get(client, client)
    return prepare(kind), extra


_results = {}


def run_cell(mode, client, server, certs):
    """Runs one client against one server once; returns (summary or None,
    diagnostics)."""
    key = (mode, client)
    if key in _results:
        return _results[key]
    prefix, extra = client_argv(client)
    argv = prefix + ["127.0.0.1", str(server.port)] + extra + client_args(mode, certs)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["NODE_PATH"] = os.path.join(OUT, "node", "node_modules")  # conform.js's driver
    t0 = time.monotonic()
    # Own process group, so that a timeout also ends what the client started
    # (cqlsh processes, the JVM's children).
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=env, stdin=subprocess.DEVNULL,
                         cwd=str(server.log_dir), start_new_session=True)

    def kill_group():
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    try:
        out, err = p.communicate(timeout=CLIENT_TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        kill_group()
        out, err = p.communicate()
        _seconds[key] = time.monotonic() - t0
        _results[key] = (None, "client %s did not finish within %ds\nargv: %s\nstdout tail:\n%s\n"
                         "stderr tail:\n%s" % (client, CLIENT_TIMEOUT, " ".join(argv),
                                              out[-2000:], err[-4000:]))
        return _results[key]
    except BaseException:  # the suite's watchdog, ^C
        kill_group()
        p.wait()
        raise
    diag = "argv: %s\nrc %d\nstderr tail:\n%s" % (" ".join(argv), rc, err[-4000:])
    summary = None
    start = out.find("{")
    if start >= 0:
        try:
            summary = json.loads(out[start:])
        except ValueError:
            summary = None
    if summary is None or not isinstance(summary.get("checks"), list):
        _results[key] = (None, "client %s printed no JSON summary\nstdout tail:\n%s\n%s"
                         % (client, out[-2000:], diag))
    else:
        failed = [c["name"] for c in summary["checks"] if not c.get("ok")]
        if bool(failed) != (rc != 0):
            summary["_rc_mismatch"] = "exit code %d but failed checks %r" % (rc, failed)
        _results[key] = (summary, diag)
    _seconds[key] = time.monotonic() - t0
    return _results[key]


_seconds = {}


@pytest.fixture(scope="module", autouse=True)
def matrix_report(request):
    """At the end of the module, one line per cell on the terminal: client,
    mode, driver version, run time, failed checks (xfail or not)."""
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    cap = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is None or cap is None or not _results:
        return
    lines = ["", "conformance matrix (failed checks include expected failures):"]
    for (mode, client), (summary, _diag) in _results.items():
        if summary is None:
            what, version = "no summary (see the test failure)", "?"
        else:
            bad = [c["name"] for c in summary["checks"] if not c.get("ok")]
            what = "all %d checks pass" % len(summary["checks"]) if not bad else \
                "failed: " + ", ".join(bad)
            version = summary.get("driver_version", "?")
        lines.append("  %-14s %-9s %-8s %5.1fs  %s" % (
            client, mode, version, _seconds.get((mode, client), 0.0), what))
    with cap.global_and_fixture_disabled():
        for ln in lines:
            tr.write_line(ln)


@pytest.mark.parametrize("mode,client,check", list(cells()))
def test_conformance(mode, client, check, mode_server, certs):
    # Builds (or skips) before starting a server for a client that cannot run.
    client_argv(client)
    server = mode_server(mode)
    summary, diag = run_cell(mode, client, server, certs)
    assert summary is not None, diag
    assert "_rc_mismatch" not in summary, summary["_rc_mismatch"] + "\n" + diag
    by_name = {c["name"]: c for c in summary["checks"]}
    assert check in by_name, "client %s reported no %r check (it reported %s)\n%s" % (
        client, check, ", ".join(by_name), diag)
    c = by_name[check]
    assert c["ok"], "%s %s %s: %s\n%s" % (client, mode, check, c["detail"], diag)
