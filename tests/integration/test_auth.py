"""Authentication and authorisation: PasswordAuthenticator (SASL PLAIN,
bcrypt, the default cassandra/cassandra superuser), CassandraAuthorizer
(GRANT/REVOKE on tables, keyspaces and all keyspaces), role statements,
system_auth tables, and roles surviving a restart. Each test starts its
own server with a helenus.yaml that turns authentication on."""

import struct

import pytest
from cassandra import AuthenticationFailed, InvalidRequest, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchStatement, SimpleStatement

from conftest import unique_name
from test_bad_input import (OP_ERROR, OP_QUERY, OP_RESULT, OP_STARTUP, STARTUP_BODY, Raw,
                            describe, error_of, frame, query_body)

OP_AUTHENTICATE, OP_AUTH_RESPONSE, OP_AUTH_SUCCESS, OP_OPTIONS = 0x03, 0x0F, 0x10, 0x05
SIMPLE = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


def write_config(tmp_path, authorizer="CassandraAuthorizer", extra=""):
    p = tmp_path / "helenus-auth.yaml"
    p.write_text("authenticator: PasswordAuthenticator\n"
                 "authorizer: %s\n"
                 "role_manager: CassandraRoleManager\n%s" % (authorizer, extra))
    return str(p)


@pytest.fixture
def auth_server(make_server, tmp_path):
    return make_server(config=write_config(tmp_path))


def login(connect, srv, user, password, **kw):
    return connect(srv, auth_provider=PlainTextAuthProvider(user, password), **kw)


def auth_failure(excinfo):
    """The AuthenticationFailed inside a NoHostAvailable."""
    errors = list(excinfo.value.errors.values())
    assert errors, excinfo.value
    return errors[0]


def test_default_superuser_login(auth_server, connect):
    s = login(connect, auth_server, "cassandra", "cassandra")
    assert s.execute("SELECT release_version FROM system.local").one().release_version
    row = s.execute("SELECT * FROM system_auth.roles WHERE role = 'cassandra'").one()
    assert row.is_superuser and row.can_login
    assert row.member_of is None
    # a bcrypt hash as Cassandra's jBCrypt writes it: $2a$, cost 10
    assert row.salted_hash.startswith("$2a$10$") and len(row.salted_hash) == 60


def test_wrong_password_is_bad_credentials(auth_server, connect):
    with pytest.raises(NoHostAvailable) as ei:
        login(connect, auth_server, "cassandra", "wrong")
    e = auth_failure(ei)
    assert isinstance(e, AuthenticationFailed), repr(e)
    assert "code=0100" in str(e)
    assert "Provided username cassandra and/or password are incorrect" in str(e)
    with pytest.raises(NoHostAvailable) as ei:
        login(connect, auth_server, "nobody", "cassandra")
    assert "Provided username nobody and/or password are incorrect" in str(auth_failure(ei))


def test_no_credentials_refused(auth_server, connect):
    # the driver sees AUTHENTICATE and has no provider to answer it
    with pytest.raises(NoHostAvailable) as ei:
        connect(auth_server)
    assert isinstance(auth_failure(ei), AuthenticationFailed)


def sasl_plain(user, password):
    return b"\x00" + user.encode() + b"\x00" + password.encode()


def auth_response(token):
    return struct.pack(">i", len(token)) + token


def test_handshake_on_the_wire(auth_server):
    r = Raw(auth_server.port)
    try:
        # OPTIONS still works before STARTUP
        r.send(frame(4, OP_OPTIONS, b"", stream=1))
        assert r.read_frame()[3] == 0x06
        r.send(frame(4, OP_STARTUP, STARTUP_BODY, stream=2))
        f = r.read_frame()
        assert f[3] == OP_AUTHENTICATE, describe(f)
        (n,) = struct.unpack(">H", f[4][:2])
        assert f[4][2:2 + n] == b"org.apache.cassandra.auth.PasswordAuthenticator"
        # nothing but AUTH_RESPONSE until authenticated
        for op, body in ((OP_QUERY, query_body("SELECT key FROM system.local")),
                         (OP_OPTIONS, b""), (OP_STARTUP, STARTUP_BODY)):
            r.send(frame(4, op, body, stream=3))
            f = r.read_frame()
            assert f[3] == OP_ERROR, describe(f)
            code, msg = error_of(f[4])
            assert code == 0x000A and msg.endswith("expecting SASL_RESPONSE"), (code, msg)
        # malformed tokens and wrong passwords: 0x0100, and the connection
        # may try again
        for token, want in ((b"nonuls", "Password must not be null"),
                            (b"\x00\x00pw", "Authentication ID must not be null"),
                            (sasl_plain("cassandra", "nope"),
                             "Provided username cassandra and/or password are incorrect")):
            r.send(frame(4, OP_AUTH_RESPONSE, auth_response(token), stream=4))
            f = r.read_frame()
            assert f[3] == OP_ERROR, describe(f)
            assert error_of(f[4]) == (0x0100, want)
        # a pipelined QUERY waits for the answer to the AUTH_RESPONSE
        r.send(frame(4, OP_AUTH_RESPONSE, auth_response(sasl_plain("cassandra", "cassandra")),
                     stream=5) +
               frame(4, OP_QUERY, query_body("SELECT key FROM system.local"), stream=6))
        f = r.read_frame()
        assert f[3] == OP_AUTH_SUCCESS and f[2] == 5, describe(f)
        assert f[4] == b"\xff\xff\xff\xff"  # a null token, as Cassandra's PLAIN
        f = r.read_frame()
        assert f[3] == OP_RESULT and f[2] == 6, describe(f)
    finally:
        r.close()


def test_roles_grants_and_revokes(auth_server, connect):
    admin = login(connect, auth_server, "cassandra", "cassandra")
    ks = unique_name()
    admin.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    admin.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v text)" % ks)
    admin.execute("CREATE TABLE %s.u (k int PRIMARY KEY, v text)" % ks)
    admin.execute("INSERT INTO %s.t (k, v) VALUES (1, 'one')" % ks)
    admin.execute("CREATE ROLE alice WITH PASSWORD = 'secret' AND LOGIN = true "
                  "AND SUPERUSER = false")
    with pytest.raises(InvalidRequest, match="alice already exists"):
        admin.execute("CREATE ROLE alice WITH LOGIN = true")
    admin.execute("CREATE ROLE IF NOT EXISTS alice WITH LOGIN = true")

    alice = login(connect, auth_server, "alice", "secret")
    # system tables the drivers read are open to every role
    assert alice.execute("SELECT key FROM system.local").one()
    assert list(alice.execute("SELECT keyspace_name FROM system_schema.keyspaces"))
    with pytest.raises(Unauthorized) as ei:
        alice.execute("SELECT * FROM %s.t" % ks)
    assert str(ei.value).find(
        "User alice has no SELECT permission on <table %s.t> or any of its parents" % ks) >= 0
    with pytest.raises(Unauthorized, match="has no SELECT permission on <table system_auth.roles>"):
        alice.execute("SELECT * FROM system_auth.roles")

    admin.execute("GRANT SELECT ON TABLE %s.t TO alice" % ks)
    assert alice.execute("SELECT v FROM %s.t WHERE k = 1" % ks).one().v == "one"
    with pytest.raises(Unauthorized, match="has no SELECT permission on <table %s.u>" % ks):
        alice.execute("SELECT * FROM %s.u" % ks)
    with pytest.raises(Unauthorized) as ei:
        alice.execute("INSERT INTO %s.t (k, v) VALUES (2, 'two')" % ks)
    assert ("User alice has no MODIFY permission on <table %s.t> or any of its parents" % ks
            in str(ei.value))
    assert "code=2100" in str(ei.value)
    # prepared statements and batches are checked too (at execution)
    ins = alice.prepare("INSERT INTO %s.t (k, v) VALUES (?, ?)" % ks)
    with pytest.raises(Unauthorized, match="no MODIFY permission on <table %s.t>" % ks):
        alice.execute(ins, (2, "two"))
    batch = BatchStatement()
    batch.add(SimpleStatement("INSERT INTO %s.t (k, v) VALUES (3, 'three')" % ks))
    with pytest.raises(Unauthorized, match="no MODIFY permission on <table %s.t>" % ks):
        alice.execute(batch)

    # a grant on the keyspace covers its tables
    admin.execute("GRANT MODIFY ON KEYSPACE %s TO alice" % ks)
    alice.execute("INSERT INTO %s.u (k, v) VALUES (2, 'two')" % ks)
    alice.execute("UPDATE %s.t SET v = 'uno' WHERE k = 1" % ks)
    alice.execute("DELETE FROM %s.u WHERE k = 2" % ks)
    alice.execute(ins, (2, "two"))
    alice.execute(batch)
    with pytest.raises(Unauthorized, match="no CREATE permission on <keyspace %s>" % ks):
        alice.execute("CREATE TABLE %s.w (k int PRIMARY KEY)" % ks)
    with pytest.raises(Unauthorized, match="no CREATE permission on <all keyspaces>"):
        alice.execute("CREATE KEYSPACE %s_x WITH replication = %s" % (ks, SIMPLE))
    with pytest.raises(Unauthorized, match="no DROP permission on <table %s.t>" % ks):
        alice.execute("DROP TABLE %s.t" % ks)

    perms = {(r.role, r.resource, r.permission) for r in
             admin.execute("LIST ALL PERMISSIONS OF alice")}
    assert perms == {("alice", "<table %s.t>" % ks, "SELECT"),
                     ("alice", "<keyspace %s>" % ks, "MODIFY")}
    row = admin.execute("SELECT * FROM system_auth.role_permissions WHERE role = 'alice' "
                        "AND resource = 'data/%s/t'" % ks).one()
    assert set(row.permissions) == {"SELECT"}

    # all keyspaces
    admin.execute("GRANT SELECT ON ALL KEYSPACES TO alice")
    assert list(alice.execute("SELECT * FROM %s.u" % ks)) == []
    # revoking the table grant leaves the one on all keyspaces
    admin.execute("REVOKE SELECT ON %s.t FROM alice" % ks)
    assert alice.execute("SELECT v FROM %s.t WHERE k = 1" % ks).one().v == "uno"
    admin.execute("REVOKE SELECT ON ALL KEYSPACES FROM alice")
    with pytest.raises(Unauthorized):
        alice.execute("SELECT * FROM %s.t" % ks)
    admin.execute("REVOKE MODIFY ON KEYSPACE %s FROM alice" % ks)
    with pytest.raises(Unauthorized):
        alice.execute("INSERT INTO %s.t (k, v) VALUES (3, 'three')" % ks)
    assert list(admin.execute("LIST ALL PERMISSIONS OF alice")) == []

    # alice may not see or manage other roles
    with pytest.raises(Unauthorized, match="You are not authorized to view cassandra's "
                                           "permissions"):
        alice.execute("LIST ALL PERMISSIONS OF cassandra")
    with pytest.raises(Unauthorized, match="does not have sufficient privileges"):
        alice.execute("CREATE ROLE mallory")
    with pytest.raises(Unauthorized, match="no AUTHORIZE permission"):
        alice.execute("GRANT SELECT ON KEYSPACE %s TO alice" % ks)
    # her own password she may change
    alice.execute("ALTER ROLE alice WITH PASSWORD = 'changed'")
    with pytest.raises(NoHostAvailable):
        login(connect, auth_server, "alice", "secret")
    assert login(connect, auth_server, "alice", "changed").execute(
        "SELECT key FROM system.local").one()
    with pytest.raises(Unauthorized, match="alter your own superuser status"):
        alice.execute("ALTER ROLE alice WITH SUPERUSER = true")
    with pytest.raises(Unauthorized, match="Only superusers are allowed to alter superuser"):
        alice.execute("ALTER ROLE cassandra WITH SUPERUSER = false")

    # dropping the table forgets the grants on it
    admin.execute("GRANT SELECT ON %s.u TO alice" % ks)
    admin.execute("DROP TABLE %s.u" % ks)
    assert list(admin.execute("LIST ALL PERMISSIONS OF alice")) == []
    admin.execute("DROP KEYSPACE %s" % ks)


def test_role_membership_and_superusers(auth_server, connect):
    admin = login(connect, auth_server, "cassandra", "cassandra")
    ks = unique_name()
    admin.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    admin.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
    admin.execute("CREATE ROLE readers")
    admin.execute("CREATE ROLE bob WITH PASSWORD = 'pw' AND LOGIN = true")
    admin.execute("GRANT SELECT ON KEYSPACE %s TO readers" % ks)
    admin.execute("GRANT readers TO bob")
    with pytest.raises(InvalidRequest, match="bob is a member of readers"):
        admin.execute("GRANT readers TO bob")
    with pytest.raises(InvalidRequest, match="bob is a member of readers"):
        admin.execute("GRANT bob TO readers")  # a cycle
    bob = login(connect, auth_server, "bob", "pw")
    assert list(bob.execute("SELECT * FROM %s.t" % ks)) == []
    roles = [r.role for r in bob.execute("LIST ROLES")]
    assert roles == ["bob", "readers"]
    members = [(r.role, r.member) for r in admin.execute("SELECT * FROM system_auth.role_members")]
    assert ("readers", "bob") in members
    # a role that cannot log in cannot log in
    admin.execute("CREATE ROLE nologin WITH PASSWORD = 'pw'")
    with pytest.raises(NoHostAvailable) as ei:
        login(connect, auth_server, "nologin", "pw")
    assert "nologin is not permitted to log in" in str(auth_failure(ei))
    # creating roles needs CREATE on all roles; superuser roles need a superuser
    with pytest.raises(Unauthorized, match="User bob does not have sufficient privileges"):
        bob.execute("CREATE ROLE minion")
    admin.execute("GRANT CREATE ON ALL ROLES TO bob")
    with pytest.raises(Unauthorized, match="Only superusers can create a role with superuser"):
        bob.execute("CREATE ROLE boss WITH SUPERUSER = true")
    bob.execute("CREATE ROLE minion")
    perms = {(r.resource, r.permission) for r in bob.execute("LIST ALL PERMISSIONS OF bob")}
    assert ("<role minion>", "DROP") in perms and ("<all roles>", "CREATE") in perms
    bob.execute("DROP ROLE minion")  # the creator may drop it
    admin.execute("REVOKE readers FROM bob")
    with pytest.raises(Unauthorized):
        bob.execute("SELECT * FROM %s.t" % ks)
    with pytest.raises(InvalidRequest, match="bob is not a member of readers"):
        admin.execute("REVOKE readers FROM bob")
    admin.execute("ALTER ROLE bob WITH SUPERUSER = true")
    assert list(bob.execute("SELECT * FROM %s.t" % ks)) == []
    assert len(list(bob.execute("SELECT role FROM system_auth.roles"))) == 4
    with pytest.raises(Unauthorized, match="alter your own superuser status"):
        bob.execute("ALTER ROLE bob WITH SUPERUSER = false")
    with pytest.raises(InvalidRequest, match="Cannot DROP primary role for current login"):
        bob.execute("DROP ROLE bob")
    admin.execute("DROP ROLE bob")
    admin.execute("DROP ROLE IF EXISTS bob")
    with pytest.raises(InvalidRequest, match="bob doesn't exist"):
        admin.execute("DROP ROLE bob")
    with pytest.raises(NoHostAvailable):
        login(connect, auth_server, "bob", "pw")
    admin.execute("DROP KEYSPACE %s" % ks)


def test_list_roles_and_users(auth_server, connect):
    admin = login(connect, auth_server, "cassandra", "cassandra")
    admin.execute("CREATE ROLE carol WITH PASSWORD = 'pw' AND LOGIN = true")
    admin.execute("CREATE ROLE team")
    rows = list(admin.execute("LIST ROLES"))
    assert [r.role for r in rows] == ["carol", "cassandra", "team"]
    by = {r.role: r for r in rows}
    assert by["cassandra"].super and by["cassandra"].login
    assert not by["team"].login and not by["team"].super
    assert by["carol"].datacenters == "ALL" and dict(by["carol"].options or {}) == {}
    users = {r.name: r.super for r in admin.execute("LIST USERS")}
    assert users == {"carol": False, "cassandra": True}
    # legacy USER statements
    admin.execute("CREATE USER dave WITH PASSWORD 'pw' NOSUPERUSER")
    assert login(connect, auth_server, "dave", "pw").execute(
        "SELECT key FROM system.local").one()
    admin.execute("ALTER USER dave WITH PASSWORD 'pw2'")
    admin.execute("DROP USER dave")
    with pytest.raises(InvalidRequest, match="<role ghost> doesn't exist"):
        admin.execute("LIST ROLES OF ghost")


def test_roles_survive_restart(auth_server, connect):
    admin = login(connect, auth_server, "cassandra", "cassandra")
    ks = unique_name()
    admin.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    admin.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
    admin.execute("CREATE ROLE erin WITH PASSWORD = 'pw' AND LOGIN = true")
    admin.execute("GRANT SELECT ON %s.t TO erin" % ks)
    admin.execute("ALTER ROLE cassandra WITH PASSWORD = 'newpass'")
    auth_server.restart()
    with pytest.raises(NoHostAvailable):
        login(connect, auth_server, "cassandra", "cassandra")
    admin = login(connect, auth_server, "cassandra", "newpass")
    erin = login(connect, auth_server, "erin", "pw")
    assert list(erin.execute("SELECT * FROM %s.t" % ks)) == []
    with pytest.raises(Unauthorized):
        erin.execute("INSERT INTO %s.t (k) VALUES (1)" % ks)
    roles = {r.role for r in admin.execute("SELECT role FROM system_auth.roles")}
    assert roles == {"cassandra", "erin"}


def test_password_auth_without_authorizer(make_server, tmp_path, connect):
    """PasswordAuthenticator with AllowAllAuthorizer: logins are checked,
    permissions are not; GRANT is refused as Cassandra's AllowAllAuthorizer
    refuses it."""
    srv = make_server(config=write_config(tmp_path, authorizer="AllowAllAuthorizer"))
    admin = login(connect, srv, "cassandra", "cassandra")
    admin.execute("CREATE ROLE frank WITH PASSWORD = 'pw' AND LOGIN = true")
    frank = login(connect, srv, "frank", "pw")
    ks = unique_name()
    frank.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, SIMPLE))
    frank.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
    frank.execute("INSERT INTO %s.t (k) VALUES (1)" % ks)
    with pytest.raises(InvalidRequest, match="GRANT operation is not supported by "
                                             "AllowAllAuthorizer"):
        admin.execute("GRANT SELECT ON %s.t TO frank" % ks)
    frank.execute("DROP KEYSPACE %s" % ks)


def test_role_statements_need_a_login(session):
    """Without an authenticator every connection is anonymous: data
    statements run, role statements are refused as Cassandra refuses them."""
    with pytest.raises(Unauthorized, match="You have to be logged in and not anonymous"):
        session.execute("LIST ROLES")
    with pytest.raises(InvalidRequest, match="CassandraRoleManager doesn't support PASSWORD"):
        session.execute("CREATE ROLE x WITH PASSWORD = 'p'")


def test_bad_auth_config_refused(make_server, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("authorizer: CassandraAuthorizer\n")
    srv = make_server(config=str(p), start=False)
    with pytest.raises(AssertionError) as ei:
        srv.start(timeout=15)
    assert "AllowAllAuthenticator can't be used with CassandraAuthorizer" in str(ei.value)
