"""`--config FILE` (cassandra.yaml key names): values show up where
Cassandra shows them, and limits are enforced."""

from test_bad_input import OP_QUERY, Raw, assert_error_or_closed, frame, query_body


def write_config(tmp_path, text):
    p = tmp_path / "helenus.yaml"
    p.write_text(text)
    return str(p)


def test_config_names_and_frame_limit(make_server, connect, tmp_path):
    cfg = write_config(tmp_path, "cluster_name: 'Itest Cluster'\n"
                                 "datacenter: dc_itest\n"
                                 "rack: rack_itest\n"
                                 "native_transport_max_frame_size: 256KiB\n"
                                 "some_unknown_cassandra_key: 42\n")
    srv = make_server(config=cfg)
    s = connect(srv)
    row = s.execute("SELECT cluster_name, data_center, rack FROM system.local").one()
    assert tuple(row) == ("Itest Cluster", "dc_itest", "rack_itest")
    assert s.cluster.metadata.cluster_name == "Itest Cluster"
    h = s.cluster.metadata.all_hosts()[0]
    assert (h.datacenter, h.rack) == ("dc_itest", "rack_itest")
    # NetworkTopologyStrategy with the configured DC name works
    s.execute("CREATE KEYSPACE nts WITH replication = "
              "{'class': 'NetworkTopologyStrategy', 'dc_itest': 1}")
    s.execute("CREATE TABLE nts.t (k int PRIMARY KEY, b blob)")
    s.execute("INSERT INTO nts.t (k, b) VALUES (1, 0x01)")
    assert s.execute("SELECT b FROM nts.t WHERE k = 1").one().b == b"\x01"

    # a frame over the configured 256 KiB limit is refused, and the server lives on
    r = Raw(srv.port)
    try:
        r.startup()
        body = query_body("INSERT INTO nts.t (k, b) VALUES (2, 0x%s)" % ("00" * 200000))
        r.send(frame(4, OP_QUERY, body, stream=3))
        f = r.read_frame()
        res = assert_error_or_closed(f, code=None, what="frame above the configured limit")
        if res is not None:
            assert res[0] in (0x2200, 0x000A), res
    finally:
        r.close()
    # a smaller one on a fresh connection is fine
    s.execute("INSERT INTO nts.t (k, b) VALUES (3, 0x%s)" % ("00" * 1000))
    assert len(s.execute("SELECT b FROM nts.t WHERE k = 3").one().b) == 1000


def test_config_commitlog_sync_and_cli_override(make_server, connect, tmp_path):
    cfg = write_config(tmp_path, "commitlog_sync: batch\n"
                                 "commitlog_segment_size: 64KiB\n"
                                 "memtable_flush_threshold_bytes: 16KiB\n")
    srv = make_server(config=cfg)
    s = connect(srv)
    s.execute("CREATE KEYSPACE c WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE c.t (k int PRIMARY KEY, v text)")
    ins = s.prepare("INSERT INTO c.t (k, v) VALUES (?, ?)")
    for i in range(300):
        s.execute(ins, (i, "v" * 200))
    # batch mode from the config file: acknowledged writes survive kill -9
    srv.kill()
    s.cluster.shutdown()
    srv.start()
    s = connect(srv)
    sel = s.prepare("SELECT v FROM c.t WHERE k = ?")
    lost = [i for i in range(300) if s.execute(sel, (i,)).one() is None]
    assert not lost, "lost %d rows (config commitlog_sync: batch not honoured?)" % len(lost)


def test_bad_config_is_refused(helenus_bin, tmp_path):
    import subprocess
    cfg = write_config(tmp_path, "commitlog_sync: sometimes\n")
    p = subprocess.run([helenus_bin, "serve", "--data-dir", str(tmp_path / "d"), "--address",
                        "127.0.0.1", "--port", "1", "--shards", "2", "--config", cfg],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "commitlog_sync" in p.stderr, p.stderr


def test_bad_memtable_space_and_write_timeout_are_refused(helenus_bin, tmp_path):
    import subprocess
    for text, key in (("memtable_heap_space: 512KiB\n", "memtable_heap_space"),
                      ("write_request_timeout: 0ms\n", "write_request_timeout"),
                      ("write_request_timeout: 2000\n", "write_request_timeout")):
        cfg = write_config(tmp_path, text)
        p = subprocess.run([helenus_bin, "serve", "--data-dir", str(tmp_path / "d"), "--address",
                            "127.0.0.1", "--port", "1", "--shards", "2", "--config", cfg],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, text
        assert key in p.stderr, p.stderr
