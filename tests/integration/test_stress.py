"""
helenus-stress against a real Helenus server: the load generator's smoke
test (and so also a test of the C client in src/client against the server).

The binary is looked up beside the helenus binary under test (HELENUS_BIN's
directory, as the conftest finds it); the tests fail when it was not built.
Each run is short (about 3 s) and writes its JSON result into tmp_path; the
checks are on that JSON: operations done, no errors, sane latencies.
"""

import json
import os
import subprocess

import pytest

RUN_TIMEOUT = 60  # seconds for one helenus-stress process


@pytest.fixture(scope="session")
def stress_bin(helenus_bin):
    p = os.path.join(os.path.dirname(helenus_bin), "helenus-stress")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        pytest.fail("helenus-stress not built beside %s" % helenus_bin)
    return p


def run_stress(stress_bin, server, tmp_path, workload, *args):
    out = tmp_path / ("%s.json" % workload)
    argv = [stress_bin, "--workload", workload, "--host", "127.0.0.1",
            "--port", str(server.port), "--json", str(out)] + [str(a) for a in args]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=RUN_TIMEOUT, env=env)
    text = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, text
    data = None
    if out.exists():
        with open(out) as f:
            data = json.load(f)
    return p.returncode, data, text


def check_ok(rc, data, text):
    assert rc == 0, text
    assert data is not None, text
    assert data["status"] == "ok", data
    r = data["results"]
    assert r["ops"] > 0, r
    assert r["errors"] == 0, r["error_samples"]
    assert r["check_failures"] == 0, r
    lat = r["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert r["ops_per_s"] > 0
    assert r["elapsed_s"] > 0
    return r


def test_standard1_write_then_read(stress_bin, server, tmp_path):
    keys = 2000
    rc, data, text = run_stress(stress_bin, server, tmp_path, "standard1-write",
                                "--duration", 3, "--keys", keys, "--connections", 2,
                                "--concurrency", 32)
    r = check_ok(rc, data, text)
    assert data["settings"]["workload"] == "standard1-write"
    assert data["settings"]["keys"] == keys
    assert r["bytes_written"] >= r["ops"] * (10 + 5 * 34)
    # a sequential write run longer than the key space covers every key
    assert r["ops"] >= keys, "too few writes (%d) to cover %d keys" % (r["ops"], keys)

    rc, data, text = run_stress(stress_bin, server, tmp_path, "standard1-read",
                                "--duration", 3, "--keys", keys, "--connections", 2,
                                "--concurrency", 32)
    r = check_ok(rc, data, text)
    assert r["empty_reads"] == 0, "reads of keys written above came back empty"
    assert r["rows_read"] == r["ops"]
    assert r["bytes_read"] == r["ops"] * (10 + 5 * 34)
    assert sum(s["ops"] for s in r["timeline"]) <= r["ops"]


def test_open_loop_rate_and_warmup(stress_bin, server, tmp_path):
    rc, data, text = run_stress(stress_bin, server, tmp_path, "standard1-mixed",
                                "--duration", 2, "--warmup", 0.5, "--rate", 2000,
                                "--keys", 1000)
    r = check_ok(rc, data, text)
    assert data["settings"]["mode"] == "open-loop"
    assert r["latency_from"] == "intended start"
    # 2000/s for 2 s, give or take the edges
    assert 3500 <= r["ops"] <= 4100, r["ops"]
    assert r["warmup_ops"] > 0


def test_feature_and_iot_shapes(stress_bin, server, tmp_path):
    rc, data, text = run_stress(stress_bin, server, tmp_path, "feature-load",
                                "--ops", 20 * 200, "--keys", 200)
    check_ok(rc, data, text)
    rc, data, text = run_stress(stress_bin, server, tmp_path, "feature-read",
                                "--ops", 500, "--keys", 200)
    r = check_ok(rc, data, text)
    assert r["rows_read"] == 20 * r["ops"]

    rc, data, text = run_stress(stress_bin, server, tmp_path, "iot-write",
                                "--ops", 3000, "--keys", 100)
    if rc == 3:
        pytest.fail("the server rejected the IoT schema: " + data["message"])
    check_ok(rc, data, text)
    rc, data, text = run_stress(stress_bin, server, tmp_path, "iot-read",
                                "--ops", 300, "--keys", 100)
    r = check_ok(rc, data, text)
    assert r["rows_read"] == 10 * r["ops"]  # 30 rows per partition written, LIMIT 10


def test_filtered_vector_shapes(stress_bin, server, tmp_path):
    """The vfilt workloads (bench/run.sh's filtered and per-partition ANN
    against Cassandra): load, then each query shape finds the exact top 10
    of the rows its filter lets through."""
    rc, data, text = run_stress(stress_bin, server, tmp_path, "vfilt-load",
                                "--ops", 2000, "--keys", 2000, "--dist", "seq", "--dim", 16)
    check_ok(rc, data, text)
    for w in ("vfilt-ann1", "vfilt-ann10", "vfilt-part"):
        rc, data, text = run_stress(stress_bin, server, tmp_path, w,
                                    "--ops", 200, "--keys", 2000, "--dim", 16)
        r = check_ok(rc, data, text)
        assert r["rows_read"] == 10 * r["ops"], (w, r)
        assert r["recall_at_10"] >= 0.95, (w, r)


def test_unsupported_schema_is_reported(stress_bin, server, tmp_path):
    """vector<float, n> is not supported by Helenus yet: the tool must say so
    with exit code 3 and status "unsupported" (and run normally once it is)."""
    rc, data, text = run_stress(stress_bin, server, tmp_path, "vector-load",
                                "--ops", 200, "--keys", 200, "--dim", 8)
    assert data is not None, text
    if rc == 3:
        assert data["status"] == "unsupported"
        assert "vector" in data["message"]
        assert "unsupported by the server" in text
    else:
        check_ok(rc, data, text)


def test_connect_failure_exit_code(stress_bin, tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = tmp_path / "c.json"
    p = subprocess.run([stress_bin, "--workload", "standard1-read", "--port", str(port),
                        "--duration", "1", "--json", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    assert p.returncode == 2
    with open(out) as f:
        assert json.load(f)["status"] == "connect_failed"
