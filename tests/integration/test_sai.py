"""Storage-attached term indexes through the real server: queries served by
an index (`WHERE tag = ?`, `WHERE m['k'] = ?`) return exactly the rows, in
exactly the order and pages, that the same restriction on an unindexed
copy of the column returns with ALLOW FILTERING, after overwrites,
deletes and TTL expiry, while the index is still building and after a
restart."""

import random
import time

import pytest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

KS = "sai_terms"
TAGS = ["t%d" % i for i in range(12)]


def setup(s):
    s.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
    s.execute("CREATE TABLE %s.t (p int, c int, tag text, tag2 text, m map<text, text>, "
              "src2 text, n int, PRIMARY KEY (p, c))" % KS)
    s.execute("CREATE CUSTOM INDEX ON %s.t (tag) USING 'StorageAttachedIndex'" % KS)
    s.execute("CREATE CUSTOM INDEX ON %s.t (entries(m)) USING 'StorageAttachedIndex'" % KS)


def write(s, rnd, n):
    ins = s.prepare("INSERT INTO %s.t (p, c, tag, tag2, m, src2, n) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    % KS)
    args = []
    for i in range(n):
        tag, src = rnd.choice(TAGS), rnd.choice(TAGS[:4])
        args.append((i % 97, i, tag, tag, {"src": src, "x": "y"}, src, i))
    res = execute_concurrent_with_args(s, ins, args, concurrency=48, raise_on_first_error=True)
    assert all(ok for ok, _ in res)


def churn(s, rnd, n):
    upd = s.prepare("UPDATE %s.t SET tag = ?, tag2 = ? WHERE p = ? AND c = ?" % KS)
    ent = s.prepare("UPDATE %s.t SET m['src'] = ?, src2 = ? WHERE p = ? AND c = ?" % KS)
    dele = s.prepare("DELETE FROM %s.t WHERE p = ? AND c = ?" % KS)
    ttl = s.prepare("UPDATE %s.t USING TTL 1 SET tag = ?, tag2 = ? WHERE p = ? AND c = ?" % KS)
    for i in rnd.sample(range(n), 400):
        t = rnd.choice(TAGS)
        s.execute(upd, (t, t, i % 97, i))
    for i in rnd.sample(range(n), 200):
        t = rnd.choice(TAGS[:4])
        s.execute(ent, (t, t, i % 97, i))
    for i in rnd.sample(range(n), 150):
        s.execute(dele, (i % 97, i))
    for i in rnd.sample(range(n), 60):
        s.execute(ttl, ("t0", "t0", i % 97, i))


def pages(s, q, args, size):
    st = SimpleStatement(q, fetch_size=size)
    return [(r.p, r.c) for r in s.execute(st, args)]


def compare(s):
    for t in TAGS:
        got = pages(s, "SELECT p, c FROM %s.t WHERE tag = %%s" % KS, (t,), 37)
        want = pages(s, "SELECT p, c FROM %s.t WHERE tag2 = %%s ALLOW FILTERING" % KS, (t,), 1000)
        assert got == want, "tag %s: %d rows vs %d" % (t, len(got), len(want))
    for t in TAGS[:4]:
        got = pages(s, "SELECT p, c FROM %s.t WHERE m['src'] = %%s" % KS, (t,), 53)
        want = pages(s, "SELECT p, c FROM %s.t WHERE src2 = %%s ALLOW FILTERING" % KS, (t,), 1000)
        assert got == want, "src %s: %d rows vs %d" % (t, len(got), len(want))
        both = pages(s, "SELECT p, c FROM %s.t WHERE m['src'] = %%s AND tag = %%s" % KS,
                     (t, "t1"), 11)
        want = pages(s, "SELECT p, c FROM %s.t WHERE src2 = %%s AND tag2 = %%s ALLOW FILTERING"
                     % KS, (t, "t1"), 1000)
        assert both == want
    # a term nothing was written with, and a LIMIT
    assert pages(s, "SELECT p, c FROM %s.t WHERE tag = 'none'" % KS, (), 10) == []
    lim = pages(s, "SELECT p, c FROM %s.t WHERE tag = 't3' LIMIT 5" % KS, (), 2)
    assert lim == pages(s, "SELECT p, c FROM %s.t WHERE tag2 = 't3' ALLOW FILTERING" % KS,
                        (), 1000)[:5]


@pytest.mark.restart
def test_term_index_answers_as_filtering(make_server, connect):
    srv = make_server()
    s = connect(srv)
    setup(s)
    rnd = random.Random(5)
    write(s, rnd, 3000)
    compare(s)
    churn(s, rnd, 3000)
    time.sleep(2.2)  # the TTL'd tags expire
    compare(s)
    s.cluster.shutdown()
    assert srv.stop() == 0
    srv.start()
    s = connect(srv)
    compare(s)  # right whether the index is still building or built
    time.sleep(1)
    compare(s)
