"""
The embedded Python package (python/helenus): ctypes over the Release
build's libhelenus.so, in this pytest process.

What is covered: a round trip of every native CQL type, collections,
tuples, vectors and UDTs; prepared statements and parameters (positional,
named, null, UNSET); errors with their CQL codes; data surviving close and
reopen; concurrent threads on one Database; execute_async and asyncio;
numpy columns (int, double, vector, timestamp, nulls); an ANN query on a SAI
vector index; and serve(): cassandra-driver against the in-process server,
writing through one path and reading through the other.

Why the Release library and not HELENUS_BIN's ASan build: an ASan shared
object cannot be loaded into a Python that was not started with the ASan
runtime. The library is HELENUS_LIB, else build/release/libhelenus.so; a
missing library fails these tests (it does not skip them).

Invariants: every Database is closed by the end of its test (a failing test
too); each test has its own data directory; the server listens on 127.0.0.1.
"""

import asyncio
import datetime
import decimal
import ipaddress
import os
import sys
import threading
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.environ.get("HELENUS_LIB") or os.path.join(REPO, "build", "release", "libhelenus.so")

KS_DDL = ("CREATE KEYSPACE ks WITH replication = "
          "{'class': 'SimpleStrategy', 'replication_factor': 1}")


@pytest.fixture(scope="module")
def helenus():
    if not os.path.isfile(LIB):
        pytest.fail("no libhelenus.so at %s (build it: cmake -S . -B build/release -G Ninja "
                    "-DCMAKE_BUILD_TYPE=Release && ninja -C build/release helenus_shared, or "
                    "set HELENUS_LIB)" % LIB)
    os.environ["HELENUS_LIB"] = LIB
    sys.path.insert(0, os.path.join(REPO, "python"))
    import helenus as h
    assert os.path.samefile(h.LIB_PATH, LIB), h.LIB_PATH
    return h


@pytest.fixture
def db(helenus, tmp_path):
    d = helenus.open(str(tmp_path / "data"), shards=2)
    d.execute(KS_DDL)
    yield d
    d.close()


UTC = datetime.timezone.utc


def test_every_type_round_trips(helenus, db):
    db.execute("CREATE TYPE ks.addr (street text, no int, tags list<text>)")
    db.execute("""CREATE TABLE ks.all (k int PRIMARY KEY,
        a_int int, a_bigint bigint, a_small smallint, a_tiny tinyint, a_float float,
        a_double double, a_bool boolean, a_text text, a_ascii ascii, a_varchar varchar,
        a_blob blob, a_uuid uuid, a_timeuuid timeuuid, a_ts timestamp, a_date date,
        a_time time, a_inet inet, a_inet6 inet, a_varint varint, a_decimal decimal,
        a_duration duration, a_list list<int>, a_set set<text>, a_map map<text, double>,
        a_tuple tuple<int, text, boolean>, a_vec vector<float, 4>,
        a_nested map<int, frozen<list<text>>>, a_udt frozen<addr>)""")
    row = dict(
        k=1, a_int=-2147483648, a_bigint=2**63 - 1, a_small=-32768, a_tiny=127, a_float=1.5,
        a_double=-2.25e300, a_bool=True, a_text="héllo ✓", a_ascii="plain", a_varchar="v",
        a_blob=b"\x00\x01\xff", a_uuid=uuid.uuid4(),
        a_timeuuid=uuid.UUID("e6f5c1a0-9f3b-11ee-8c90-0242ac120002"),
        a_ts=datetime.datetime(2024, 2, 29, 23, 59, 58, 123000, tzinfo=UTC),
        a_date=datetime.date(1969, 7, 20), a_time=datetime.time(23, 59, 59, 999999),
        a_inet=ipaddress.ip_address("192.168.1.2"), a_inet6=ipaddress.ip_address("2001:db8::1"),
        a_varint=-(10**40) + 7, a_decimal=decimal.Decimal("-1234567890.0987654321"),
        a_duration=helenus.Duration(14, 3, 1_500_000_000), a_list=[3, 1, 2],
        a_set={"b", "a"}, a_map={"x": 1.0, "y": -0.5}, a_tuple=(7, "seven", False),
        a_vec=[0.5, -1.0, 2.0, 0.25], a_nested={1: ["a", "b"], 2: []},
        a_udt={"street": "Main", "no": 5, "tags": ["x"]})
    cols = list(row)
    db.execute("INSERT INTO ks.all (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
               [row[c] for c in cols])
    rs = db.execute("SELECT %s FROM ks.all WHERE k = ?" % ", ".join(cols), (1,))
    assert rs.column_names == cols
    got = rs.dicts()[0]
    for c in cols:
        assert got[c] == row[c], c
    assert isinstance(got["a_bool"], bool) and isinstance(got["a_set"], set)
    assert rs.column_types[cols.index("a_vec")] == "vector<float, 4>"
    assert rs.column_types[cols.index("a_udt")] == "frozen<addr>"
    # the text rendering the engine gives agrees on a few values
    cql = db.execute("SELECT a_int, a_text FROM ks.all WHERE k = 1").one()
    assert cql == (-2147483648, "héllo ✓")
    # nulls, and a row read without parameters
    db.execute("INSERT INTO ks.all (k) VALUES (2)")
    r2 = db.execute("SELECT a_int, a_list, a_udt FROM ks.all WHERE k = 2").one()
    assert r2 == (None, None, None)
    # counters live in tables of their own
    db.execute("CREATE TABLE ks.c (k int PRIMARY KEY, n counter)")
    for _ in range(3):
        db.execute("UPDATE ks.c SET n = n + ? WHERE k = ?", (5, 1))
    assert db.execute("SELECT n FROM ks.c WHERE k = 1").one() == (15,)


def test_prepared_statements_and_params(helenus, db):
    db.execute("CREATE TABLE ks.p (k int, c int, v text, PRIMARY KEY (k, c))")
    ins = db.prepare("INSERT INTO ks.p (k, c, v) VALUES (?, ?, ?)")
    assert ins.bind_types == ["int", "int", "text"]
    assert ins.bind_names == ["k", "c", "v"]
    for c in range(10):
        ins.execute((1, c, "v%d" % c))
    named = db.prepare("SELECT c, v FROM ks.p WHERE k = :k AND c >= :lo")
    rs = named.execute({"k": 1, "lo": 7})
    assert rs.rows == [(7, "v7"), (8, "v8"), (9, "v9")]
    assert len(rs) == 3 and list(rs) == rs.rows
    # null and UNSET: unset leaves the column as it was
    ins.execute((1, 0, None))
    assert db.execute("SELECT v FROM ks.p WHERE k = 1 AND c = 0").one() == (None,)
    upd = db.prepare("UPDATE ks.p SET v = ? WHERE k = ? AND c = ?")
    upd.execute(("kept", 1, 1))
    upd.execute((helenus.UNSET, 1, 1))
    assert db.execute("SELECT v FROM ks.p WHERE k = 1 AND c = 1").one() == ("kept",)
    # execute with params prepares once per text and keyspace
    q = "SELECT v FROM ks.p WHERE k = ? AND c = ?"
    assert db.execute(q, (1, 5)).one() == ("v5",)
    st = db._cache[("", q)]
    assert db.execute(q, [1, 6]).one() == ("v6",)
    assert db._cache[("", q)] is st
    # USE: the session keyspace applies to later statements and keys the cache
    db.execute("USE ks")
    assert db.keyspace == "ks"
    assert db.execute("SELECT v FROM p WHERE k = ? AND c = ?", (1, 2)).one() == ("v2",)
    assert ("ks", "SELECT v FROM p WHERE k = ? AND c = ?") in db._cache
    # a wrong Python type is refused before anything is sent
    with pytest.raises(TypeError):
        ins.execute((1, "not an int", "x"))
    with pytest.raises(helenus.InvalidRequest):
        ins.execute((1, 2))
    # a statement with a schema change under it follows the new schema
    sel = db.prepare("SELECT * FROM ks.p WHERE k = ? AND c = ?")
    db.execute("ALTER TABLE ks.p ADD w int")
    assert sel.execute((1, 3)).column_names == ["k", "c", "v", "w"]


def test_errors_carry_cql_codes(helenus, db):
    with pytest.raises(helenus.SyntaxError) as e:
        db.execute("SELEKT * FROM ks.nope")
    assert e.value.code == 0x2000 and "SELEKT" in e.value.message
    with pytest.raises(helenus.InvalidRequest) as e:
        db.execute("SELECT * FROM ks.nope")
    assert e.value.code == 0x2200
    assert "nope" in e.value.message
    with pytest.raises(helenus.AlreadyExists) as e:
        db.execute(KS_DDL)
    assert e.value.code == 0x2400 and "ks" in e.value.message
    with pytest.raises(helenus.InvalidRequest):
        db.prepare("SELECT * FROM ks.nope WHERE k = ?")
    db.execute("CREATE TABLE ks.e (k int PRIMARY KEY, v int)")
    with pytest.raises(helenus.InvalidRequest) as e:
        db.execute("SELECT * FROM ks.e WHERE v = 1")
    assert "ALLOW FILTERING" in e.value.message
    assert isinstance(e.value, helenus.Error)
    # the handle still works after errors
    db.execute("INSERT INTO ks.e (k, v) VALUES (1, 1)")
    assert db.execute("SELECT v FROM ks.e WHERE k = 1").one() == (1,)


def test_reopen_keeps_data_and_locks_dir(helenus, tmp_path):
    path = str(tmp_path / "data")
    with helenus.open(path) as d:
        d.execute(KS_DDL)
        d.execute("CREATE TABLE ks.r (k int PRIMARY KEY, v text)")
        ins = d.prepare("INSERT INTO ks.r (k, v) VALUES (?, ?)")
        for i in range(200):
            ins.execute((i, "r%d" % i))
        rs = d.execute("SELECT * FROM ks.r WHERE k = 1")
        with pytest.raises(helenus.Error):
            helenus.open(path)  # the engine holds the directory
    assert d.closed
    assert rs.one() == (1, "r1")  # rows decoded at close stay readable
    with pytest.raises(helenus.Error):
        rs.to_numpy("k")
    with pytest.raises(helenus.Error):
        ins.execute((1, "x"))
    with helenus.open(path) as d:
        assert len(d.execute("SELECT * FROM ks.r")) == 200
        assert d.execute("SELECT v FROM ks.r WHERE k = ?", (199,)).one() == ("r199",)


def test_threads_share_one_database(helenus, db):
    db.execute("CREATE TABLE ks.th (k int, c int, v bigint, PRIMARY KEY (k, c))")
    ins = db.prepare("INSERT INTO ks.th (k, c, v) VALUES (?, ?, ?)")
    sel = db.prepare("SELECT v FROM ks.th WHERE k = ? AND c = ?")
    errors = []
    nthreads, nops = 8, 500

    def work(t):
        try:
            for i in range(nops):
                ins.execute((t, i, t * 1_000_000 + i))
                if i % 5 == 0:
                    got = sel.execute((t, i)).one()
                    assert got == (t * 1_000_000 + i,), (t, i, got)
                if i % 100 == 0:  # the unprepared path and its cache too
                    db.execute("SELECT count(*) FROM ks.th WHERE k = ?", (t,))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    for t in range(nthreads):
        rs = db.execute("SELECT v FROM ks.th WHERE k = ?", (t,))
        assert len(rs) == nops
        assert rs.to_numpy("v").tolist() == [t * 1_000_000 + i for i in range(nops)]


def test_execute_async_and_asyncio(helenus, db):
    db.execute("CREATE TABLE ks.a (k int PRIMARY KEY, v int)")
    futs = [db.execute_async("INSERT INTO ks.a (k, v) VALUES (?, ?)", (i, i * i))
            for i in range(100)]
    for f in futs:
        assert f.result(10).rows == []
    bad = db.execute_async("SELECT * FROM ks.missing")
    with pytest.raises(helenus.InvalidRequest):
        bad.result(10)

    async def main():
        loop_thread = threading.get_ident()
        seen = []
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        sel = db.prepare("SELECT v FROM ks.a WHERE k = ?")
        rows = await asyncio.gather(*(sel.aexecute((i,)) for i in range(100)))
        seen = [r.one()[0] for r in rows]
        rs = await db.aexecute("SELECT count(*) FROM ks.a")
        t.cancel()
        assert threading.get_ident() == loop_thread
        return seen, rs.one()[0], ticks

    seen, count, ticks = asyncio.run(main())
    assert seen == [i * i for i in range(100)]
    assert count == 100
    assert ticks > 0  # the loop kept running while the calls were in flight
    with pytest.raises(helenus.SyntaxError):
        asyncio.run(db.aexecute("NOT CQL"))


def test_numpy_columns(helenus, db):
    import numpy as np
    db.execute("CREATE TABLE ks.n (k int PRIMARY KEY, i int, b bigint, d double, f float, "
               "s smallint, flag boolean, ts timestamp, v vector<float, 8>, name text)")
    ins = db.prepare("INSERT INTO ks.n (k, i, b, d, f, s, flag, ts, v, name) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((300, 8)).astype(np.float32)
    base = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    for k in range(300):
        ins.execute((k, -k, k * 2**40, k / 3, k * 0.5, k - 150, k % 2 == 0,
                     base + datetime.timedelta(seconds=k), vecs[k].tolist(), "n%d" % k))
    rs = db.execute("SELECT k, i, b, d, f, s, flag, ts, v, name FROM ks.n")
    order = rs.to_numpy("k")
    assert order.dtype == np.int32 and sorted(order.tolist()) == list(range(300))
    assert (rs.to_numpy("i") == -order).all()
    assert rs.to_numpy("b").dtype == np.int64
    assert (rs.to_numpy("b") == order.astype(np.int64) * 2**40).all()
    assert np.allclose(rs.to_numpy("d"), order / 3)
    assert rs.to_numpy("f").dtype == np.float32
    assert (rs.to_numpy("s") == order - 150).all()
    assert (rs.to_numpy("flag") == (order % 2 == 0)).all()
    ts = rs.to_numpy("ts")
    assert ts.dtype == np.dtype("datetime64[ms]")
    assert ts[order == 5][0] == np.datetime64("2024-01-01T00:00:05", "ms")
    v = rs.to_numpy("v")
    assert v.shape == (300, 8) and v.dtype == np.float32
    assert np.array_equal(v, vecs[order])
    assert v.dtype.byteorder in ("=", "<", "|")  # native order, ready to compute with
    with pytest.raises(TypeError):
        rs.to_numpy("name")
    cols = rs.columns_numpy()
    assert np.array_equal(cols["v"], v) and cols["name"][0] == "n%d" % order[0]
    # the row path decodes the same vectors
    assert np.allclose(np.array([r[8] for r in rs]), v)
    # nulls give a masked array
    db.execute("INSERT INTO ks.n (k) VALUES (1000)")
    m = db.execute("SELECT d, v FROM ks.n WHERE k IN (0, 1000)")
    d = m.to_numpy("d")
    assert isinstance(d, np.ma.MaskedArray) and d.mask.tolist() == [False, True]
    assert m.to_numpy("v").mask.shape == (2, 8)


def test_ann_query_on_sai_vector_index(helenus, db):
    import numpy as np
    db.execute("CREATE TABLE ks.docs (id int PRIMARY KEY, body text, emb vector<float, 16>)")
    db.execute("CREATE CUSTOM INDEX docs_emb ON ks.docs (emb) USING 'StorageAttachedIndex' "
               "WITH OPTIONS = {'similarity_function': 'euclidean'}")
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((500, 16)).astype(np.float32)
    ins = db.prepare("INSERT INTO ks.docs (id, body, emb) VALUES (?, ?, ?)")
    for i, v in enumerate(vecs):
        ins.execute((i, "doc %d" % i, v.tolist()))
    ann = db.prepare("SELECT id, emb FROM ks.docs ORDER BY emb ANN OF ? LIMIT 10")
    hits = 0
    for qi in (3, 77, 400):
        q = vecs[qi] + 0.001
        rs = ann.execute((q.tolist(),))
        ids = rs.to_numpy("id")
        assert len(ids) == 10
        assert ids[0] == qi  # the nearest is the vector itself
        exact = np.argsort(((vecs - q) ** 2).sum(axis=1))[:10]
        hits += len(set(ids.tolist()) & set(exact.tolist()))
        got = rs.to_numpy("emb")
        assert np.array_equal(got, vecs[ids])
    assert hits >= 27  # recall@10 >= 0.9 over the three queries
    # the literal form through execute
    lit = "[" + ", ".join("%r" % float(x) for x in vecs[9]) + "]"
    assert db.execute("SELECT id FROM ks.docs ORDER BY emb ANN OF %s LIMIT 1" % lit).one() == (9,)


def test_serve_with_cassandra_driver(helenus, tmp_path):
    from cassandra.cluster import Cluster
    from cassandra import InvalidRequest as DriverInvalid
    with helenus.serve(str(tmp_path / "data"), port=0) as srv:
        assert srv.port > 0 and srv.contact_points == ["127.0.0.1"]
        db = srv.db
        db.execute(KS_DDL)
        db.execute("CREATE TABLE ks.s (k int PRIMARY KEY, v text, vec vector<float, 3>)")
        db.execute("INSERT INTO ks.s (k, v, vec) VALUES (?, ?, ?)", (1, "embedded", [1, 2, 3]))
        cluster = Cluster(srv.contact_points, port=srv.port, connect_timeout=5,
                          control_connection_timeout=5, max_schema_agreement_wait=5)
        try:
            s = cluster.connect()
            s.default_timeout = 10
            # written embedded, read by the driver
            row = s.execute("SELECT k, v, vec FROM ks.s WHERE k = 1").one()
            assert (row.k, row.v, list(row.vec)) == (1, "embedded", [1.0, 2.0, 3.0])
            # written by the driver, read embedded
            ps = s.prepare("INSERT INTO ks.s (k, v, vec) VALUES (?, ?, ?)")
            for k in range(2, 52):
                s.execute(ps, (k, "driver %d" % k, [float(k), 0.0, -1.0]))
            assert db.execute("SELECT v FROM ks.s WHERE k = ?", (33,)).one() == ("driver 33",)
            assert len(db.execute("SELECT * FROM ks.s")) == 51
            # schema made embedded is visible to the driver, and errors agree
            db.execute("CREATE TABLE ks.s2 (k int PRIMARY KEY)")
            s.execute("INSERT INTO ks.s2 (k) VALUES (5)")
            assert db.execute("SELECT k FROM ks.s2").rows == [(5,)]
            with pytest.raises(DriverInvalid):
                s.execute("SELECT * FROM ks.nope")
        finally:
            cluster.shutdown()
        srv.stop()
        # the Database keeps working once the listener is stopped
        assert db.execute("SELECT count(*) FROM ks.s").one() == (51,)
    assert srv.db.closed
    with helenus.open(str(tmp_path / "data")) as d:
        assert d.execute("SELECT v FROM ks.s WHERE k = 2").one() == ("driver 2",)
