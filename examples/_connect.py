"""Connection boilerplate shared by the example scripts.

Every example talks to a running Helenus (or Cassandra) through the
unmodified DataStax Python driver, `pip install cassandra-driver`. Start
a server with `./scripts/serve.sh` (127.0.0.1:9042), then run an example
with `python examples/<name>.py`; `--host` and `--port` point it elsewhere.
The test suite (tests/integration/test_examples.py) runs each example
against a fresh server this way, so an example that stops working fails
the tests.
"""

import argparse

from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import RoundRobinPolicy


def connect(description):
    """Parses --host/--port and returns (cluster, session, args)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9042)
    args = ap.parse_args()
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    cluster = Cluster([args.host], port=args.port,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return cluster, cluster.connect(), args


def keyspace(session, name):
    """Creates keyspace name (replication factor 1) if missing."""
    session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % name)
