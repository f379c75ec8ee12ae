"""Records tests/unit/data/ring_placements.txt, the expected replica
placements of src/cluster/ring.c, from the DataStax Python driver.

The driver is the oracle here because it is what must agree with a
Helenus ring: a token-aware client computes replicas with its own
SimpleStrategy / NetworkTopologyStrategy over system.peers. This script
builds a few rings with Helenus's token allocation (ring.h: vnode i of a
node is Murmur3 of "<cluster>/<addr>/<i>", computed here with the driver's
own Murmur3, collisions moved up by one, nodes in address order), asks the
driver's strategies for the replicas of sample tokens, and writes what
they answered. tests/unit/test_ring.c checks ring.c against the file.

  build/venv/bin/python tests/unit/record_ring_placements.py

The file is only ever written by this script (its header says so).
"""

import os
import random

import cassandra
from cassandra.metadata import Murmur3Token, NetworkTopologyStrategy, SimpleStrategy
from cassandra.pool import Host
from cassandra.policies import SimpleConvictionPolicy

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ring_placements.txt")
MIN, MAX = -2 ** 63, 2 ** 63 - 1

# name, cluster name, nodes (addr, dc, rack, num_tokens), strategies
RINGS = [
    ("one", "Test Cluster", [("127.0.0.1", "dc1", "r1", 16)], ["simple 1", "simple 3"]),
    ("three", "Test Cluster",
     [("127.0.0.%d" % i, "datacenter1", "rack1", 16) for i in (1, 2, 3)],
     ["simple 1", "simple 2", "simple 3", "nts datacenter1:3", "nts datacenter1:2"]),
    ("single_token", "ring",
     [("10.0.0.%d" % i, "dc1", "r%d" % (i % 2), 1) for i in range(1, 6)],
     ["simple 3", "nts dc1:3"]),
    ("racks", "Helenus",
     [("127.0.0.%d" % i, "dc1", "rack%d" % (1 + i % 3), 8) for i in range(1, 7)] +
     [("127.0.1.%d" % i, "dc2", "rack%d" % (1 + i % 2), 8) for i in range(1, 5)],
     # not "nts dc1:5,dc2:4": with RF above a datacenter's rack count after
     # a partial fill, cassandra-driver 3.30.1 lists a node twice and one
     # too few (its NTS re-adds skipped hosts); main() refuses such output
     ["simple 3", "nts dc1:3,dc2:2", "nts dc1:2", "nts dc2:3", "nts dc1:1,dc2:1"]),
    ("one_rack_dc", "Helenus",
     [("127.0.0.%d" % i, "east", "a", 4) for i in range(1, 4)] +
     [("127.0.0.%d" % i, "west", "b" if i % 2 else "c", 4) for i in range(4, 9)],
     ["nts east:2,west:3", "nts west:2"]),
]


def token_of(cluster_name, addr, i):
    return Murmur3Token.hash_fn(("%s/%s/%d" % (cluster_name, addr, i)).encode())


def allocate(cluster_name, nodes):
    taken, owner = set(), {}
    for addr, _, _, n in sorted(nodes):
        for i in range(n):
            t = token_of(cluster_name, addr, i)
            while t in taken:
                t = MIN + 1 if t == MAX else t + 1
            taken.add(t)
            owner[t] = addr
    return owner


def strategy(spec):
    kind, arg = spec.split(" ", 1)
    if kind == "simple":
        return SimpleStrategy({"replication_factor": arg})
    return NetworkTopologyStrategy(dict(x.split(":") for x in arg.split(",")))


def main():
    rnd = random.Random(12)
    lines = ["# recorded by tests/unit/record_ring_placements.py with cassandra-driver %s;"
             % cassandra.__version__,
             "# never edited by hand. ring NAME CLUSTER (the rest of the line); node ADDR DC RACK NUM_TOKENS;",
             "# tokens ADDR T...: the tokens allocated; strategy SPEC; replicas TOKEN ADDR..."]
    for name, cluster_name, nodes, specs in RINGS:
        owner = allocate(cluster_name, nodes)
        hosts = {a: Host(a, SimpleConvictionPolicy, datacenter=dc, rack=rack)
                 for a, dc, rack, _ in nodes}
        ring = sorted(Murmur3Token(t) for t in owner)
        tok_owner = {Murmur3Token(t): hosts[a] for t, a in owner.items()}
        lines.append("ring %s %s" % (name, cluster_name))  # the name: the rest of the line
        for a, dc, rack, n in nodes:
            lines.append("node %s %s %s %d" % (a, dc, rack, n))
        for a, _, _, _ in nodes:
            lines.append("tokens %s %s" % (a, " ".join(str(t) for t in sorted(
                t for t, o in owner.items() if o == a))))
        samples = [MIN + 1, MAX, 0] + [rnd.randint(MIN + 1, MAX) for _ in range(40)]
        for t in rnd.sample(sorted(owner), min(10, len(owner))):
            samples += [t, t - 1, t + 1 if t < MAX else t]
        for spec in specs:
            lines.append("strategy " + spec)
            rmap = strategy(spec).make_token_replica_map(tok_owner, ring)
            for t in samples:
                i = next((k for k, r in enumerate(ring) if r.value >= t), 0)
                reps = rmap[ring[i]]
                if len({h.endpoint.address for h in reps}) != len(reps):
                    raise SystemExit("the driver lists a replica twice: %s %s %d" % (name, spec, t))
                lines.append("replicas %d %s" % (t, " ".join(h.endpoint.address for h in reps)))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d lines)" % (OUT, len(lines)))


if __name__ == "__main__":
    main()
