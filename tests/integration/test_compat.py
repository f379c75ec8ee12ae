"""
The differential compatibility suite (tests/compat/, README there): replays
every case file against Helenus and compares each answer with what the real
Cassandra 5.0 answered when tests/compat/record.py recorded it.

One test per case file. A missing or stale expected file fails; a statement
listed in tests/compat/known_differences.txt that now matches fails too
("remove it from known_differences.txt"), so the list can only shrink.
"""

import os
import sys
import time

import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "tests", "compat"))
import compatlib as cl  # noqa: E402

CASE_FILES = cl.case_files()
KNOWN = cl.read_known_differences()
_TOTALS = {"files": 0, "statements": 0, "matching": 0, "known": 0, "failing": 0}


def test_case_files_exist():
    assert CASE_FILES, "no case files under %s" % cl.CASES_DIR
    names = {os.path.basename(p) for p in CASE_FILES}
    stale = sorted("%s:%s" % k for k in KNOWN if k[0] not in names)
    assert not stale, ("known_differences.txt names case files that do not exist: %s"
                       % ", ".join(stale))
    orphans = sorted(f for f in os.listdir(cl.EXPECTED_DIR)
                     if f.endswith(".json") and f[:-5] + ".cql" not in names) \
        if os.path.isdir(cl.EXPECTED_DIR) else []
    assert not orphans, "expected files without a case file: %s" % ", ".join(orphans)


def test_now_rule_judges_a_recording_by_its_own_date(tmp_path):
    # A recorded toTimestamp(now()) stays "<now>" when replayed days later
    # (judged against the recording's date), and a value far from that
    # date does not.
    case = tmp_path / "nowrule.cql"
    case.write_text("-- @normalize ts=now\nSELECT ts FROM t;\n")
    st = cl.parse_case_file(str(case))[0]
    rec_ms = cl.recorded_clock_ms({"date": "2026-01-02T03:04:05Z"})
    day = 24 * 3600 * 1000
    old = {"columns": ["ts"], "types": ["timestamp"], "rows": [[int(rec_ms) + 5000]]}
    fresh = {"columns": ["ts"], "types": ["timestamp"], "rows": [[int(time.time() * 1000)]]}
    assert cl.matches(st, old, fresh, rec_ms)
    far = {"columns": ["ts"], "types": ["timestamp"], "rows": [[int(rec_ms) + 3 * day]]}
    assert not cl.matches(st, far, fresh, rec_ms)


@pytest.fixture(scope="module")
def compat_session(server):
    # The harness's driver patches hold only while this module runs: the
    # other tests of the process see the driver unchanged.
    with cl.DriverPatches():
        c = cl.make_cluster("127.0.0.1", server.port)
        s = cl.make_session(c)
        yield s
        c.shutdown()


@pytest.fixture(scope="module", autouse=True)
def _totals(request):
    yield
    t = _TOTALS
    line = ("compat: %d files, %d statements, %d matching Cassandra 5.0, %d known differences "
            "(known_differences.txt: %d lines), %d failing"
            % (t["files"], t["statements"], t["matching"], t["known"], len(KNOWN), t["failing"]))
    tr = request.config.pluginmanager.getplugin("terminalreporter")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if tr is not None and capman is not None:  # shown even when output is captured
        with capman.global_and_fixture_disabled():
            tr.write_line("")
            tr.write_line(line)
    else:
        sys.stderr.write("\n" + line + "\n")
    out = os.environ.get("HLN_COMPAT_SUMMARY")
    if out:
        with open(out, "w") as f:
            f.write(line + "\n")


def _own_session(make_server, tmp_path, settings):
    """A Helenus started with the file's settings (a yaml of them) and a
    session on it; (session, cluster)."""
    cfg = tmp_path / "compat-settings.yaml"
    cfg.write_text("".join("%s: %s\n" % kv for kv in sorted(settings.items())))
    srv = make_server(config=str(cfg))
    c = cl.make_cluster("127.0.0.1", srv.port)
    return cl.make_session(c), c


@pytest.mark.parametrize("path", CASE_FILES, ids=[cl.feature_of(p) for p in CASE_FILES])
def test_compat(compat_session, make_server, tmp_path, path):
    # a file that requires settings Helenus does not have by default runs
    # against a server of its own started with them (@requires, README)
    own = {k: v for k, v in cl.file_settings(path).items() if cl.HELENUS_DEFAULTS.get(k) != v}
    cluster = None
    if own:
        compat_session, cluster = _own_session(make_server, tmp_path, own)
    try:
        _run_compat(compat_session, path)
    finally:
        if cluster is not None:
            cluster.shutdown()


def _run_compat(compat_session, path):
    feature = cl.feature_of(path)
    fname = feature + ".cql"
    exp_path = cl.expected_path(feature)
    if not os.path.exists(exp_path):
        pytest.fail("no expected file %s: record it from Cassandra 5.0 with "
                    "build/venv/bin/python tests/compat/record.py %s" % (exp_path, feature))
    doc = cl.read_expected(exp_path)
    stmts = cl.parse_case_file(path)
    exp = doc["statements"]
    if len(exp) != len(stmts) or any(e["cql"] != st.cql for e, st in zip(exp, stmts)):
        pytest.fail("%s is stale (the case file changed since it was recorded): re-record with "
                    "build/venv/bin/python tests/compat/record.py %s" % (exp_path, feature))

    results = cl.run_case_file(compat_session, path)
    cl.drop_keyspace(compat_session, feature)

    whole = KNOWN.get((fname, "*"))
    mismatches, fixed, known_hits = [], [], 0
    recorded_ms = cl.recorded_clock_ms(doc["header"])
    for (st, got), e in zip(results, exp):
        ok = cl.matches(st, e, got, recorded_ms)
        listed = KNOWN.get((fname, st.index))
        if ok:
            if listed:
                fixed.append("  %s:%d %s\n    now matches Cassandra: remove it from "
                             "known_differences.txt (reason was: %s)"
                             % (fname, st.index, st.cql.replace("\n", " "), listed))
            continue
        if listed or whole:
            known_hits += 1
            continue
        mismatches.append("  #%d (line %d) %s\n    expected: %s\n    got:      %s"
                          % (st.index, st.line, st.cql.replace("\n", " "), cl.short(e),
                             cl.short(got)))
    if whole and known_hits == 0 and not mismatches:
        fixed.append("  %s:* every statement now matches Cassandra: remove the whole-file line "
                     "from known_differences.txt (reason was: %s)" % (fname, whole))

    _TOTALS["files"] += 1
    _TOTALS["statements"] += len(results)
    _TOTALS["known"] += known_hits
    _TOTALS["failing"] += len(mismatches)
    _TOTALS["matching"] += len(results) - known_hits - len(mismatches)
    msg = []
    if mismatches:
        msg.append("%s: %d of %d statements differ from Cassandra %s (recorded %s):\n%s"
                   % (fname, len(mismatches), len(results),
                      doc["header"].get("cassandra_version"), doc["header"].get("date"),
                      "\n".join(mismatches)))
    if fixed:
        msg.append("%s: listed in known_differences.txt but matching now:\n%s"
                   % (fname, "\n".join(fixed)))
    if msg:
        pytest.fail("\n\n".join(msg), pytrace=False)
