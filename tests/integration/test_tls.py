"""TLS on the native port (client_encryption_options): the Python driver over
TLS, client certificates (require_client_auth), optional mode (TLS and plain
CQL on one port), PEM key stores in their several forms, and hostile
handshakes that must not disturb other connections. Certificates are made
for each test module with the openssl command line."""

import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable

from conftest import unique_name
from test_bad_input import OP_QUERY, OP_RESULT, Raw, describe, frame, query_body

SIMPLE = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA; a server certificate for 127.0.0.1 and a client certificate
    signed by it; a self-signed client certificate it did not sign."""
    if not shutil.which("openssl"):
        pytest.fail("no openssl command (install openssl)")
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Helenus Test CA", cwd=d)
    for name, cn, san in (("server", "127.0.0.1", "IP:127.0.0.1"),
                          ("client", "client", "DNS:client")):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj",
                "/CN=" + cn, "-addext", "subjectAltName=" + san, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-copy_extensions",
                "copy", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
            "-subj", "/CN=rogue", cwd=d)
    openssl("pkey", "-in", "server.key", "-out", "server-enc.key", "-aes256", "-passout",
            "pass:s3cret", cwd=d)
    # Cassandra 5.0's PEM keystore: the private key and the certificate chain in one file
    with open(d / "keystore.pem", "w") as f:
        for part in ("server.key", "server.pem", "ca.pem"):
            f.write((d / part).read_text())
    files = {"ca": "ca.pem", "server": "server.pem", "server_key": "server.key",
             "server_enc_key": "server-enc.key", "keystore": "keystore.pem",
             "client": "client.pem", "client_key": "client.key", "rogue": "rogue.pem",
             "rogue_key": "rogue.key"}
    out = {k: str(d / v) for k, v in files.items()}
    out["dir"] = str(d)
    return out


def tls_config(tmp_path, certs, **opts):
    lines = ["client_encryption_options:", "  enabled: true"]
    if "keystore" not in opts and "certificate" not in opts:
        opts["keystore"] = certs["keystore"]
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        lines.append("  %s: %s" % (k, v))
    p = tmp_path / ("tls-%d.yaml" % len(list(tmp_path.glob("tls-*.yaml"))))
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def client_context(certs, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs["ca"])
    ctx.check_hostname = False  # the certificate is for 127.0.0.1; no name to check
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def roundtrip(sess):
    ks = unique_name()
    sess.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    sess.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v blob)" % ks)
    big = os.urandom(300 * 1024)  # many TLS records each way
    sess.execute("INSERT INTO %s.t (k, v) VALUES (1, %%s)" % ks, (big,))
    assert sess.execute("SELECT v FROM %s.t WHERE k = 1" % ks).one().v == big
    sess.execute("DROP KEYSPACE %s" % ks)


def test_driver_over_tls(make_server, tmp_path, certs, connect):
    srv = make_server(config=tls_config(tmp_path, certs))
    sess = connect(srv, ssl_context=client_context(certs))
    assert sess.execute("SELECT release_version FROM system.local").one()
    roundtrip(sess)
    # a plain-text client gets nowhere on a TLS-only port
    with pytest.raises(NoHostAvailable):
        connect(srv)
    # and did not hurt the TLS session
    assert sess.execute("SELECT key FROM system.local").one()


def test_separate_certificate_and_encrypted_key(make_server, tmp_path, certs, connect):
    srv = make_server(config=tls_config(tmp_path, certs, certificate=certs["server"],
                                        private_key=certs["server_enc_key"],
                                        keystore_password="s3cret", protocol="TLSv1.2"))
    sess = connect(srv, ssl_context=client_context(certs))
    assert sess.execute("SELECT key FROM system.local").one()


def test_bad_key_material_refused(make_server, tmp_path, certs):
    for opts, want in (
            ({"keystore": os.path.join(certs["dir"], "missing.pem")}, "keystore"),
            ({"certificate": certs["server"], "private_key": certs["server_enc_key"],
              "keystore_password": "wrong"}, "private_key"),
            ({"certificate": certs["server"], "private_key": certs["client_key"]},
             "does not match")):
        srv = make_server(config=tls_config(tmp_path, certs, **opts), start=False)
        with pytest.raises(AssertionError) as ei:
            srv.start(timeout=15)
        assert want in str(ei.value), str(ei.value)[-2000:]


def test_require_client_auth(make_server, tmp_path, certs, connect):
    srv = make_server(config=tls_config(tmp_path, certs, require_client_auth=True,
                                        truststore=certs["ca"]))
    sess = connect(srv, ssl_context=client_context(certs, certs["client"], certs["client_key"]))
    roundtrip(sess)
    # no client certificate, or one the trust store did not sign: refused
    for ctx in (client_context(certs),
                client_context(certs, certs["rogue"], certs["rogue_key"])):
        with pytest.raises(NoHostAvailable):
            connect(srv, ssl_context=ctx)
    assert sess.execute("SELECT key FROM system.local").one()


def test_optional_tls_and_plain_on_one_port(make_server, tmp_path, certs, connect):
    srv = make_server(config=tls_config(tmp_path, certs, optional=True))
    plain = connect(srv)
    secure = connect(srv, ssl_context=client_context(certs))
    roundtrip(plain)
    roundtrip(secure)
    # raw CQL on the same port, too
    r = Raw(srv.port)
    try:
        r.startup()
        r.send(frame(4, OP_QUERY, query_body("SELECT key FROM system.local"), stream=2))
        f = r.read_frame()
        assert f[3] == OP_RESULT, describe(f)
    finally:
        r.close()


def test_tls_with_password_auth(make_server, tmp_path, certs, connect):
    cfg = tls_config(tmp_path, certs)
    with open(cfg, "a") as f:
        f.write("authenticator: PasswordAuthenticator\nauthorizer: CassandraAuthorizer\n")
    srv = make_server(config=cfg)
    sess = connect(srv, ssl_context=client_context(certs),
                   auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
    roundtrip(sess)
    with pytest.raises(NoHostAvailable):
        connect(srv, ssl_context=client_context(certs),
                auth_provider=PlainTextAuthProvider("cassandra", "nope"))


def test_hostile_handshakes_do_not_hurt_others(make_server, tmp_path, certs, connect):
    srv = make_server(config=tls_config(tmp_path, certs, optional=True))
    sess = connect(srv, ssl_context=client_context(certs))
    socks = []
    try:
        # a half-sent handshake left hanging
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        socks.append(s)
        # garbage that starts like a handshake record
        for junk in (b"\x16" + os.urandom(2000), b"\x16\x03\x03\xff\xff" + b"A" * 70000,
                     b"\x16\x00\x00\x00\x00"):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            try:
                s.sendall(junk)
            except OSError:
                pass
            socks.append(s)
        # each garbage connection is closed by the server (after an alert)
        deadline = time.monotonic() + 10
        for s in socks[1:]:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(65536):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        # a client that drops the connection mid-handshake
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        tls = client_context(certs).wrap_socket(raw, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        finally:
            tls.close()
        # the established session and new ones are unaffected
        assert sess.execute("SELECT key FROM system.local").one()
        roundtrip(connect(srv, ssl_context=client_context(certs)))
        assert srv.alive()
    finally:
        for s in socks:
            s.close()
