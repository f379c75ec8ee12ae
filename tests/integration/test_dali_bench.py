"""helenus-dali-bench (bench/dali) against a real server: the DALI plugin's
access pattern counts what it reads, fails on a missing image instead of
counting it, and its delaying proxy adds the round trip it is told to.

The images are small random blobs here (the bench's JPEG generator needs
Pillow, which the bench installs into its own venv); the reader does not
look inside them."""

import json
import os
import socket
import subprocess
import time
import uuid

import pytest
from cassandra.concurrent import execute_concurrent_with_args

N = 300


def tool(helenus_bin):
    p = os.path.join(os.path.dirname(helenus_bin), "helenus-dali-bench")
    if not os.access(p, os.X_OK):
        pytest.fail("helenus-dali-bench not built beside %s" % helenus_bin)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def images(server, session, tmp_path):
    session.execute("CREATE KEYSPACE IF NOT EXISTS dali WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("DROP TABLE IF EXISTS dali.images")
    session.execute("CREATE TABLE dali.images (id uuid PRIMARY KEY, label int, data blob)")
    ins = session.prepare("INSERT INTO dali.images (id, label, data) VALUES (?, ?, ?)")
    ids = [uuid.uuid4() for _ in range(N)]
    sizes = [1000 + 37 * i for i in range(N)]
    execute_concurrent_with_args(session, ins, [(u, i % 10, os.urandom(sizes[i]))
                                                for i, u in enumerate(ids)],
                                 concurrency=32, raise_on_first_error=True)
    f = tmp_path / "ids.bin"
    f.write_bytes(b"".join(u.bytes for u in ids))
    return str(f), sum(sizes)


def read(helenus_bin, port, ids, *args):
    p = subprocess.run([tool(helenus_bin), "read", "--port", str(port), "--ids", ids] +
                       list(args), capture_output=True, text=True, timeout=60)
    return p


def test_reads_every_image_once_per_epoch(helenus_bin, server, images):
    ids, nbytes = images
    for args in (["--batch-size", "128", "--prefetch", "1"],
                 ["--batch-size", "50", "--prefetch", "7", "--io-threads", "3"]):
        p = read(helenus_bin, server.port, ids, "--epochs", "2", *args)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r["images"] == 2 * N and r["bytes"] == 2 * nbytes, r
        assert r["in_flight"] == int(args[1]) * (1 + int(args[3]))


def test_a_missing_image_fails_the_run(helenus_bin, server, images, tmp_path):
    ids, _ = images
    bad = tmp_path / "bad.bin"
    bad.write_bytes(open(ids, "rb").read() + uuid.uuid4().bytes)
    p = read(helenus_bin, server.port, str(bad))
    assert p.returncode != 0 and "rows 0" in p.stderr, (p.stdout, p.stderr)
    p = read(helenus_bin, server.port, ids, "--batch-size", "40000", "--prefetch", "1")
    assert p.returncode != 0 and "32768" in p.stderr


def test_proxy_adds_the_round_trip(helenus_bin, server, images):
    ids, nbytes = images
    port = free_port()
    px = subprocess.Popen([tool(helenus_bin), "proxy", "--listen", str(port), "--target-port",
                           str(server.port), "--delay-ms", "30"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "proxy did not listen"
                time.sleep(0.05)
        p = read(helenus_bin, port, ids, "--batch-size", "100", "--prefetch", "0")
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r["images"] == N and r["bytes"] == nbytes
        # one batch at a time: each takes at least one 60 ms round trip
        assert r["batch_p50_ms"] >= 60, r
        assert r["seconds"] >= 3 * 0.060, r
    finally:
        px.kill()
        px.wait()
