"""NVIDIA DALI fed from Helenus through helenus.loader (issue 13, 5(b)):
a real DALI CPU pipeline — ``fn.external_source`` in batch mode, then
``fn.decoders.image(device="cpu")`` — reads JPEGs that the native loader
streams from the session server by token ranges.

DALI (nvidia-dali-cuda120 2.4.0 from PyPI; its CPU operators need no GPU)
lives in its own venv, build/dali-venv-test, made by
scripts/install-dali-deps.sh (called from scripts/install-deps.sh --test);
tests/integration/dali/pipeline.py runs there and prints what it decoded.
A missing venv fails this test, never skips it.

Checked: every image comes through exactly once (labels 0..N-1), each
decoded to the height x width x 3 it was made with (the sizes vary by
image), in ceil(N / batch) batches, and the pixels keep their gradient.
"""
import json
import os
import subprocess

import pytest

from conftest import REPO

VENV_PY = os.path.join(REPO, "build", "dali-venv-test", "bin", "python")
SCRIPT = os.path.join(REPO, "tests", "integration", "dali", "pipeline.py")
N, BATCH = 150, 16


def test_dali_cpu_pipeline_decodes_what_the_loader_streams(server):
    if not os.access(VENV_PY, os.X_OK):
        pytest.fail("no DALI venv at %s: run scripts/install-dali-deps.sh "
                    "(scripts/install-deps.sh --test does)" % VENV_PY)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["OPENBLAS_NUM_THREADS"] = "1"
    p = subprocess.run([VENV_PY, SCRIPT, "--port", str(server.port), "--n", str(N),
                        "--batch", str(BATCH)], capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert sorted(r["labels"]) == list(range(N))  # each image exactly once
    assert r["labels"] != list(range(N))  # token order, shuffled: not insertion order
    assert r["batches"] == -(-N // BATCH)
    assert r["shapes"] == r["expected"]  # decoded to the size it was made with
    assert len({tuple(v) for v in r["shapes"].values()}) == 35  # 5 heights x 7 widths
