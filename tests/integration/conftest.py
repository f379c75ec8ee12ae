"""
Integration-test harness: starts the real `helenus` binary and talks to it
with the real Python cassandra-driver, cqlsh and raw sockets.

What lives here:
  * binary discovery (env HELENUS_BIN, else build/asan/helenus, then
    build/debug/helenus under the repository root);
  * HelenusServer: one server process on a free 127.0.0.1 port with its own
    data directory, stderr captured to a file, bounded start/stop, SIGTERM
    (clean) and SIGKILL (crash) stops, and a sanitizer check of its stderr;
  * fixtures: `server` (session scoped, 2 shards), `make_server` (function
    scoped factory for restart/crash tests), `cluster`/`session` (driver on
    the session server), `connect` (driver factory with bounded waits);
  * a per-test watchdog (SIGALRM) so that no test can hang the suite, and a
    report hook that appends the tail of every involved server's stderr to
    a failing test's report.

Invariants: every server started here is killed by the end of the test (or
of the session for the shared one); every wait is bounded; servers listen on
127.0.0.1 only.
"""

import logging
import os
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

START_TIMEOUT = 30.0  # seconds for "listening on" to appear
STOP_TIMEOUT = 30.0  # seconds for a SIGTERM'd server to exit
TEST_TIMEOUT = 150  # seconds per test (watchdog)

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",  # UBSan
    "WARNING: ThreadSanitizer",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "restart: restarts a server on the same data dir")
    config.addinivalue_line("markers", "crash: kill -9 and recovery")
    config.addinivalue_line("markers", "badinput: malformed bytes on a raw socket")
    config.addinivalue_line("markers", "cqlsh: needs the cqlsh tool")
    config.addinivalue_line("markers", "conformance: the driver conformance matrix "
                            "(test_conformance.py; clients from scripts/install-deps.sh --test)")
    config.addinivalue_line("markers", "beyond: Cassandra behaviour beyond the walking-skeleton "
                            "acceptance list (deselect with -m 'not beyond')")


# ---------------------------------------------------------------------------
# binary discovery


def find_binary():
    env = os.environ.get("HELENUS_BIN")
    if env:
        return env if os.path.isabs(env) else os.path.join(REPO, env)
    for rel in ("build/asan/helenus", "build/debug/helenus"):
        p = os.path.join(REPO, rel)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def helenus_bin():
    b = find_binary()
    if b is None:
        pytest.fail("no helenus binary (set HELENUS_BIN or build build/asan or build/debug)")
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail("HELENUS_BIN=%s is not an executable file" % b)
    return b


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------------------
# server process

_TEST_SERVERS = []  # servers started while the current test ran
_SESSION_SERVER = []  # [HelenusServer] once started


class HelenusServer:
    """One `helenus serve` process. Data dir survives stop/start so that
    restart tests can reopen it."""

    def __init__(self, binary, data_dir, log_dir, shards=2, sync=None, config=None,
                 extra_args=(), name="helenus"):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.shards = shards
        self.sync = sync
        self.config = config
        self.extra_args = list(extra_args)
        self.name = name
        self.port = None
        self.proc = None
        self.generation = 0
        self.log_path = None
        self.logs = []  # every stderr file of every start, in order
        self.returncodes = []
        os.makedirs(data_dir, exist_ok=True)
        os.makedirs(log_dir, exist_ok=True)
        _TEST_SERVERS.append(self)

    # -- lifecycle ---------------------------------------------------------

    def argv(self):
        a = [self.binary, "serve", "--data-dir", self.data_dir, "--address", "127.0.0.1",
             "--port", str(self.port), "--shards", str(self.shards), "--admin-port", "0"]
        if self.sync:
            a += ["--commitlog-sync", self.sync]
        if self.config:
            a += ["--config", self.config]
        return a + self.extra_args

    def start(self, timeout=START_TIMEOUT, new_port=False):
        """Starts (or restarts, on the same port unless new_port) and waits for
        'listening on' and an accepting socket."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        last_err = None
        # A fresh port may be taken by someone else meanwhile: retry with
        # another. A restart keeps its port (a server that cannot rebind its
        # own port after a clean exit is a bug worth seeing).
        fresh = self.port is None or new_port
        for attempt in range(3 if fresh else 1):
            if fresh:
                self.port = free_port()
            self.generation += 1
            self.log_path = os.path.join(self.log_dir,
                                         "%s.%d.stderr" % (self.name, self.generation))
            self.logs.append(self.log_path)
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
            with open(self.log_path, "wb") as f:
                self.proc = subprocess.Popen(self.argv(), stdout=f, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env, cwd=self.log_dir,
                                             start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                text = self.stderr_text()
                if "listening on" in text:
                    if self._port_open():
                        return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            else:
                self.kill()
                raise AssertionError("helenus did not print 'listening on' within %.0fs\n%s"
                                     % (timeout, self.tail()))
            text = self.stderr_text()
            last_err = "helenus exited with %s before listening\n%s" % (
                self.proc.returncode, self.tail())
            if "in use" not in text.lower():
                break
        raise AssertionError(last_err)

    def admin_port(self):
        """The admin HTTP port this start bound (the banner says it)."""
        m = re.search(r"admin port (\d+)\)", self.stderr_text())
        assert m and int(m.group(1)) > 0, "no admin port in the banner\n%s" % self.tail()
        return int(m.group(1))

    def admin(self, *args, check=True):
        """Runs `helenus admin -p PORT args...`; returns its stdout (and
        asserts exit 0 when check)."""
        p = subprocess.run([self.binary, "admin", "-p", str(self.admin_port())] + list(args),
                           capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, "helenus admin %s: rc %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr)
        return p if not check else p.stdout

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code (kills on timeout and fails)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("helenus did not exit within %.0fs of SIGTERM\n%s"
                                     % (timeout, self.tail()))
        rc = self.proc.returncode
        self.returncodes.append(rc)
        return rc

    def kill(self):
        """SIGKILL (kill -9) and reap."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        rc = self.proc.returncode
        self.returncodes.append(rc)
        return rc

    def restart(self, kill=False):
        if kill:
            self.kill()
        else:
            rc = self.stop()
            assert rc == 0, "clean shutdown exit code %r\n%s" % (rc, self.tail())
        self.check_sanitizers()
        return self.start()

    # -- logs ----------------------------------------------------------------

    def stderr_text(self, path=None):
        try:
            with open(path or self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def tail(self, lines=80):
        out = []
        for p in self.logs[-2:]:
            t = self.stderr_text(p).splitlines()
            out.append("---- %s (last %d of %d lines) ----" % (p, min(lines, len(t)), len(t)))
            out.extend(t[-lines:])
        return "\n".join(out)

    def sanitizer_reports(self):
        bad = []
        for p in self.logs:
            t = self.stderr_text(p)
            for m in SANITIZER_MARKERS:
                if m in t:
                    i = t.index(m)
                    bad.append("%s: %s" % (p, t[max(0, i - 200):i + 3000]))
                    break
        return bad

    def check_sanitizers(self):
        bad = self.sanitizer_reports()
        assert not bad, "sanitizer reported errors:\n" + "\n".join(bad)

    def contact(self):
        return ("127.0.0.1", self.port)


# ---------------------------------------------------------------------------
# watchdog and failure reports


class TestTimeout(Exception):
    pass


def data_api_port(srv):
    """The Data API port a server started with --data-api-port 0 took,
    from its log line."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = re.search(r"Data API listening on [^:\s]+:(\d+)", srv.stderr_text())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    raise AssertionError("no Data API port in the log\n%s" % srv.tail())


def _alarm(signum, frame):
    raise TestTimeout("test exceeded %d s watchdog" % TEST_TIMEOUT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    del _TEST_SERVERS[:]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TEST_TIMEOUT)
    item._hln_old_alarm = old
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, getattr(item, "_hln_old_alarm", signal.SIG_DFL))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    for s in list(_TEST_SERVERS) + list(_SESSION_SERVER):
        if id(s) in seen:
            continue
        seen.add(id(s))
        rep.sections.append(("helenus %s (port %s) stderr" % (s.name, s.port), s.tail()))


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def server(helenus_bin, tmp_path_factory):
    """The shared server (2 shards, default settings) for most tests."""
    base = tmp_path_factory.mktemp("session-server")
    s = HelenusServer(helenus_bin, str(base / "data"), str(base / "logs"), shards=2,
                      name="session")
    s.start()
    _SESSION_SERVER.append(s)
    yield s
    _SESSION_SERVER.remove(s)
    was_alive = s.alive()
    rc = s.stop()
    s.check_sanitizers()
    assert was_alive, "session server died during the run (rc %r)\n%s" % (rc, s.tail())
    assert rc == 0, "session server exit code %r after SIGTERM\n%s" % (rc, s.tail())


@pytest.fixture(autouse=True)
def _session_server_health(request):
    """After each test, the shared server (if started) must be alive and its
    stderr free of sanitizer reports; and it must be alive before the test."""
    if _SESSION_SERVER and not _SESSION_SERVER[0].alive():
        pytest.fail("the session server died earlier (rc %r)\n%s"
                    % (_SESSION_SERVER[0].proc.returncode, _SESSION_SERVER[0].tail()))
    yield
    if _SESSION_SERVER:
        s = _SESSION_SERVER[0]
        s.check_sanitizers()
        assert s.alive(), "session server died during this test (rc %r)\n%s" % (
            s.proc.returncode, s.tail())


@pytest.fixture
def make_server(helenus_bin, tmp_path):
    """Factory for function-scoped servers; all are stopped (SIGTERM, then
    SIGKILL) and sanitizer-checked at teardown."""
    made = []

    def make(shards=2, sync=None, config=None, extra_args=(), start=True, name=None):
        n = name or "srv%d" % len(made)
        s = HelenusServer(helenus_bin, str(tmp_path / n / "data"), str(tmp_path / n / "logs"),
                          shards=shards, sync=sync, config=config, extra_args=extra_args, name=n)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    problems = []
    for s in made:
        if s.alive():
            try:
                rc = s.stop()
                if rc != 0:
                    problems.append("%s: exit code %r after SIGTERM\n%s" % (s.name, rc, s.tail()))
            except AssertionError as e:
                problems.append(str(e))
        problems.extend(s.sanitizer_reports())
    assert not problems, "\n".join(problems)


class DriverLogCapture(logging.Handler):
    """Collects records of the 'cassandra' loggers at or above a level."""

    def __init__(self, level=logging.WARNING):
        super().__init__(level)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self):
        return ["%s %s: %s" % (r.levelname, r.name, r.getMessage()) for r in self.records]

    def __enter__(self):
        self.logger = logging.getLogger("cassandra")
        self.old_level = self.logger.level
        if self.logger.level == logging.NOTSET or self.logger.level > self.level:
            self.logger.setLevel(self.level)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *a):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)


@pytest.fixture
def driver_logs():
    return DriverLogCapture


def new_cluster(srv, **kw):
    from cassandra.cluster import Cluster
    kw.setdefault("connect_timeout", 5)
    kw.setdefault("control_connection_timeout", 5)
    kw.setdefault("max_schema_agreement_wait", 5)
    return Cluster([srv.contact()[0]], port=srv.port, **kw)


@pytest.fixture
def connect():
    """connect(srv, keyspace=None, **cluster_kw) -> session; every cluster
    made is shut down at teardown."""
    clusters = []

    def _connect(srv, keyspace=None, **kw):
        c = new_cluster(srv, **kw)
        clusters.append(c)
        sess = c.connect(keyspace)
        sess.default_timeout = 10
        return sess

    yield _connect
    for c in clusters:
        try:
            c.shutdown()
        except Exception:
            pass


@pytest.fixture(scope="session")
def cluster(server):
    c = new_cluster(server)
    yield c
    c.shutdown()


@pytest.fixture(scope="session")
def session(cluster):
    s = cluster.connect()
    s.default_timeout = 10
    return s


@pytest.fixture
def flushing_server(make_server, connect, tmp_path):
    """A function-scoped server whose memtables flush every 4 KiB (so data
    spreads over many sstables) with keyspace k1; yields (server, session)."""
    cfg = tmp_path / "helenus-flushing.yaml"
    cfg.write_text("memtable_flush_threshold_bytes: 4096\n")
    srv = make_server(config=str(cfg))
    s = connect(srv)
    s.execute("CREATE KEYSPACE k1 WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}")
    return srv, s


def unique_name(prefix="ks"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:10])


@pytest.fixture
def keyspace(session):
    """A fresh SimpleStrategy keyspace, dropped after the test."""
    name = unique_name()
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % name)
    yield name
    try:
        session.execute("DROP KEYSPACE IF EXISTS %s" % name)
    except Exception:
        pass


class AckTracker:
    """Issues execute_async writes with a bound on requests in flight and
    records which keys the server acknowledged (success callback) and which
    failed. Callbacks run on the driver's event-loop thread."""

    def __init__(self, max_in_flight=64):
        import threading
        self.cv = threading.Condition()
        self.acked = set()
        self.failed = []
        self.issued = 0
        self.completed = 0
        self.max_in_flight = max_in_flight

    def submit(self, session, stmt, params, key, timeout=10):
        with self.cv:
            if not self.cv.wait_for(lambda: self.issued - self.completed < self.max_in_flight,
                                    timeout=timeout + 5):
                raise AssertionError("no write completed within %ss" % (timeout + 5))
            self.issued += 1
        try:
            f = session.execute_async(stmt, params, timeout=timeout)
        except Exception as e:  # e.g. NoHostAvailable raised synchronously
            self._err(e, key)
            return
        f.add_callbacks(self._ok, self._err, callback_args=(key,), errback_args=(key,))

    def _ok(self, _rows, key):
        with self.cv:
            self.acked.add(key)
            self.completed += 1
            self.cv.notify_all()

    def _err(self, exc, key):
        with self.cv:
            self.failed.append((key, exc))
            self.completed += 1
            self.cv.notify_all()

    def drain(self, timeout=30):
        with self.cv:
            return self.cv.wait_for(lambda: self.completed == self.issued, timeout=timeout)
