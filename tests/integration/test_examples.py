"""Runs every script in examples/ against a fresh real server.

Each example checks its own answers (asserts) and ends by printing
"<name>: ok"; a script that raises, exits non-zero or does not print that
line fails here. A new example must be added to EXAMPLES, and an example
file that no test runs fails test_every_example_is_run, so docs/guides
never point at a script nobody runs.
"""

import os
import subprocess
import sys

import pytest

from conftest import data_api_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = ["feature_store", "event_log", "vector_search", "training_loader", "data_api"]


def test_every_example_is_run():
    found = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "examples"))
                   if f.endswith(".py") and not f.startswith("_"))
    assert found == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example(make_server, name):
    argv = [sys.executable, os.path.join(ROOT, "examples", name + ".py")]
    if name == "data_api":  # the Data API port is off unless asked for
        srv = make_server(extra_args=["--data-api-port", "0"])
        argv += ["--data-api-port", str(data_api_port(srv))]
    else:
        srv = make_server()
    p = subprocess.run(argv + ["--host", "127.0.0.1", "--port", str(srv.port)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
        name, p.returncode, p.stdout, p.stderr[-4000:])
    assert p.stdout.splitlines()[-1] == "%s: ok" % name, p.stdout
