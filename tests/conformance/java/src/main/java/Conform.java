/*
 * Conformance program for the Java driver 4.x (Maven Central, see pom.xml).
 *
 * Runs the checks described in tests/conformance/README.md against one server
 * and prints a JSON summary on stdout; exits 1 if any check failed, 2 on bad
 * usage. Driver logs (slf4j-simple, level warn) go to stderr.
 *
 *   java -cp ... Conform HOST PORT [--user U --password P] [--tls-ca F]
 *                        [--tls-cert F --tls-key F] [--dc NAME]
 *
 * The driver negotiates the protocol version itself (it starts with the
 * newest it knows and steps down on "unsupported protocol version"); the
 * `connect` check reports what it got. Java driver exceptions carry no
 * numeric error code: the code is read from the exception class, the
 * one-to-one mapping the driver makes from the protocol's ERROR codes
 * (SyntaxError = 0x2000, InvalidQueryException = 0x2200,
 * AuthenticationException = 0x0100).
 */
import com.datastax.oss.driver.api.core.AllNodesFailedException;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.CqlSessionBuilder;
import com.datastax.oss.driver.api.core.auth.AuthenticationException;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.cql.AsyncResultSet;
import com.datastax.oss.driver.api.core.cql.BatchStatement;
import com.datastax.oss.driver.api.core.cql.DefaultBatchType;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.datastax.oss.driver.api.core.metadata.schema.KeyspaceMetadata;
import com.datastax.oss.driver.api.core.servererrors.InvalidQueryException;
import com.datastax.oss.driver.api.core.servererrors.SyntaxError;
import com.datastax.oss.driver.api.core.session.Session;
import com.datastax.oss.driver.api.core.ssl.ProgrammaticSslEngineFactory;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public final class Conform {
    static final int PAGED_ROWS = 20000;
    static final int PAGE_SIZE = 1000;
    static final int ROWS_PER_PARTITION = 100;
    static final long WAIT_SECONDS = 60;

    static final class CheckFailed extends Exception {
        CheckFailed(String msg) {
            super(msg);
        }
    }

    interface Check {
        String run() throws Exception;
    }

    final Map<String, String> opts = new HashMap<>();
    String host;
    int port;
    String ks;
    CqlSession session;
    final List<String> checksJson = new ArrayList<>();
    final Set<String> failed = new LinkedHashSet<>();

    static void usage(String msg) {
        System.err.println(msg);
        System.err.println("usage: Conform HOST PORT [--user U --password P] [--tls-ca F] "
                + "[--tls-cert F --tls-key F] [--dc NAME]");
        System.exit(2);
    }

    public static void main(String[] argv) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        Conform c = new Conform();
        List<String> pos = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.matches("--(user|password|tls-ca|tls-cert|tls-key|dc|keyspace)")) {
                if (i + 1 >= argv.length) usage(a + " needs a value");
                c.opts.put(a.substring(2), argv[++i]);
            } else if (a.startsWith("--")) {
                usage("unknown option " + a);
            } else {
                pos.add(a);
            }
        }
        if (pos.size() != 2) usage("HOST and PORT are required");
        c.host = pos.get(0);
        try {
            c.port = Integer.parseInt(pos.get(1));
        } catch (NumberFormatException e) {
            usage("bad port " + pos.get(1));
        }
        c.ks = c.opts.getOrDefault("keyspace",
                "conform_java_" + UUID.randomUUID().toString().substring(0, 8));
        int rc = c.runAll();
        System.out.flush();
        // The driver's non-daemon threads are gone after close(); exit anyway
        // so that a stuck one cannot hold the process.
        System.exit(rc);
    }

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    void run(String name, Check fn, String... needs) {
        long t0 = System.nanoTime();
        List<String> missing = new ArrayList<>();
        for (String n : needs) if (failed.contains(n)) missing.add(n);
        boolean ok = false;
        String detail;
        if (!missing.isEmpty()) {
            detail = "not run: " + String.join(", ", missing) + " failed";
        } else {
            try {
                detail = fn.run();
                ok = true;
            } catch (Throwable e) {
                Throwable t = (e instanceof ExecutionException && e.getCause() != null)
                        ? e.getCause() : e;
                detail = t.getClass().getSimpleName() + ": " + t.getMessage();
                System.err.println("check " + name + " failed:");
                t.printStackTrace();
            }
        }
        if (!ok) failed.add(name);
        double secs = (System.nanoTime() - t0) / 1e9;
        checksJson.add(String.format("  {\"name\": %s, \"ok\": %s, \"detail\": %s, \"seconds\": %.3f}",
                json(name), ok, json(detail), secs));
    }

    static List<Certificate> readCerts(String path) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        try (ByteArrayInputStream in = new ByteArrayInputStream(Files.readAllBytes(Path.of(path)))) {
            return new ArrayList<>(cf.generateCertificates(in));
        }
    }

    /* A PKCS#8 PEM key ("BEGIN PRIVATE KEY", what `openssl genpkey` writes). */
    static PrivateKey readKey(String path) throws Exception {
        String pem = Files.readString(Path.of(path), StandardCharsets.US_ASCII);
        int b = pem.indexOf("-----BEGIN PRIVATE KEY-----");
        int e = pem.indexOf("-----END PRIVATE KEY-----");
        if (b < 0 || e < 0) throw new CheckFailed(path + ": not a PKCS#8 PEM private key");
        String body = pem.substring(b + "-----BEGIN PRIVATE KEY-----".length(), e)
                .replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body));
        for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (Exception ignored) {
                // try the next algorithm
            }
        }
        throw new CheckFailed(path + ": unsupported key algorithm");
    }

    SSLContext sslContext() throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        int i = 0;
        for (Certificate cert : readCerts(opts.get("tls-ca"))) trust.setCertificateEntry("ca" + i++, cert);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (opts.containsKey("tls-cert")) {
            KeyStore keys = KeyStore.getInstance(KeyStore.getDefaultType());
            keys.load(null, null);
            char[] pw = "conform".toCharArray();
            keys.setKeyEntry("client", readKey(opts.get("tls-key")), pw,
                    readCerts(opts.get("tls-cert")).toArray(new Certificate[0]));
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, pw);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    CqlSessionBuilder builder(String password) throws Exception {
        DriverConfigLoader config = DriverConfigLoader.programmaticBuilder()
                .withDuration(DefaultDriverOption.CONNECTION_CONNECT_TIMEOUT, Duration.ofSeconds(10))
                .withDuration(DefaultDriverOption.CONNECTION_INIT_QUERY_TIMEOUT, Duration.ofSeconds(10))
                .withDuration(DefaultDriverOption.CONTROL_CONNECTION_TIMEOUT, Duration.ofSeconds(10))
                .withDuration(DefaultDriverOption.METADATA_SCHEMA_REQUEST_TIMEOUT, Duration.ofSeconds(10))
                .withDuration(DefaultDriverOption.CONTROL_CONNECTION_AGREEMENT_TIMEOUT, Duration.ofSeconds(10))
                .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, Duration.ofSeconds(30))
                // After each DDL the driver refreshes its schema metadata once this
                // debounce window has passed (default 1 s); shorter keeps the four
                // DDLs of `schema` from costing four seconds. The requests sent are
                // the same.
                .withDuration(DefaultDriverOption.METADATA_SCHEMA_WINDOW, Duration.ofMillis(100))
                .build();
        CqlSessionBuilder b = CqlSession.builder()
                .addContactPoint(new InetSocketAddress(host, port))
                .withLocalDatacenter(opts.getOrDefault("dc", "datacenter1"))
                .withConfigLoader(config);
        if (opts.containsKey("user")) {
            b = b.withAuthCredentials(opts.get("user"),
                    password != null ? password : opts.getOrDefault("password", ""));
        }
        if (opts.containsKey("tls-ca")) {
            // Hostname validation against the address as given (no reverse DNS):
            // the server certificate must name 127.0.0.1 in its subjectAltName.
            b = b.withSslEngineFactory(new ProgrammaticSslEngineFactory(sslContext(), null, true, false));
        }
        return b;
    }

    static <T> T await(java.util.concurrent.CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    static int codeOf(Throwable e) {
        if (e instanceof SyntaxError) return 0x2000;
        if (e instanceof InvalidQueryException) return 0x2200;
        if (e instanceof AuthenticationException) return 0x0100;
        if (e instanceof AllNodesFailedException) {
            for (List<Throwable> errs : ((AllNodesFailedException) e).getAllErrors().values()) {
                for (Throwable t : errs) {
                    int c = codeOf(t);
                    if (c >= 0) return c;
                }
            }
        }
        if (e.getCause() != null && e.getCause() != e) return codeOf(e.getCause());
        return -1;
    }

    static String hex(int code) {
        return code < 0 ? "none" : String.format("0x%04x", code);
    }

    String expectError(String cql, int want) throws Exception {
        try {
            session.execute(cql);
        } catch (Exception e) {
            int code = codeOf(e);
            if (code != want) {
                throw new CheckFailed(cql + ": wanted error " + hex(want) + ", got "
                        + e.getClass().getSimpleName() + ": " + e.getMessage() + " (code " + hex(code) + ")");
            }
            return hex(code) + " " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        throw new CheckFailed(cql + " succeeded, wanted error " + hex(want));
    }

    int runAll() {
        run("connect", () -> {
            session = builder(null).build();
            Row r = session.execute("SELECT release_version FROM system.local").one();
            return "protocol " + session.getContext().getProtocolVersion() + ", release_version "
                    + r.getString(0) + ", tls " + (opts.containsKey("tls-ca") ? "yes" : "no")
                    + ", auth " + (opts.containsKey("user") ? "yes" : "no");
        });
        run("schema", () -> {
            session.execute("CREATE KEYSPACE " + ks + " WITH replication = "
                    + "{'class': 'SimpleStrategy', 'replication_factor': 1}");
            session.execute("CREATE TABLE " + ks + ".types (k int PRIMARY KEY, i int, bi bigint, "
                    + "t text, bl blob, bo boolean, d double, ts timestamp, u uuid)");
            session.execute("CREATE TABLE " + ks + ".paged (p int, c int, v text, PRIMARY KEY (p, c))");
            session.execute("CREATE TABLE " + ks + ".events (k int, seq int, note text, PRIMARY KEY (k, seq))");
            KeyspaceMetadata meta = session.getMetadata().getKeyspace(ks).orElse(null);
            if (meta == null) throw new CheckFailed("driver metadata has no keyspace " + ks);
            List<String> names = new ArrayList<>();
            meta.getTables().keySet().forEach(id -> names.add(id.asInternal()));
            names.sort(null);
            if (!names.equals(List.of("events", "paged", "types"))) {
                throw new CheckFailed("driver metadata shows tables " + names + " in " + ks);
            }
            return "keyspace " + ks + " with tables " + String.join(", ", names);
        }, "connect");
        run("types", this::types, "schema");
        run("paging", this::paging, "schema");
        run("batch", this::batch, "schema");
        run("error_syntax", () -> expectError("SELEC * FROM system.local", 0x2000), "connect");
        run("error_unknown_table", () -> expectError("SELECT * FROM " + ks + ".no_such_table", 0x2200),
                "connect");
        if (opts.containsKey("user")) run("error_bad_password", this::badPassword);

        if (session != null) {
            try {
                session.execute("DROP KEYSPACE IF EXISTS " + ks);
            } catch (Exception ignored) {
                // best effort
            }
            session.close();
        }
        StringBuilder out = new StringBuilder();
        out.append("{\n \"client\": \"java-driver-core\",\n");
        String version = Objects.toString(Session.OSS_DRIVER_COORDINATES.getVersion(), "?");
        out.append(" \"driver_version\": ").append(json(version)).append(",\n");
        out.append(" \"ok\": ").append(failed.isEmpty()).append(",\n");
        out.append(" \"checks\": [\n").append(String.join(",\n", checksJson)).append("\n ]\n}");
        System.out.println(out);
        return failed.isEmpty() ? 0 : 1;
    }

    String types() throws Exception {
        PreparedStatement ins = session.prepare("INSERT INTO " + ks
                + ".types (k, i, bi, t, bl, bo, d, ts, u) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        PreparedStatement sel = session.prepare("SELECT k, i, bi, t, bl, bo, d, ts, u FROM " + ks
                + ".types WHERE k = ?");
        Object[][] rows = {
            {1, 2147483647, 9223372036854775807L, "h\u00e9llo w\u00f6rld \u2713",
             ByteBuffer.wrap(new byte[] {0, 1, (byte) 0xfe, (byte) 0xff}), true, 3.141592653589793,
             Instant.parse("2024-02-29T12:34:56.789Z"), UUID.randomUUID()},
            {2, -2147483648, -9223372036854775808L, "", ByteBuffer.allocate(0), false, -1.5e-300,
             Instant.parse("1969-12-31T23:59:59.001Z"),
             UUID.fromString("5c4d2e10-0b1a-11ef-8000-000000000001")},
        };
        for (Object[] r : rows) session.execute(ins.bind(r));
        String[] cols = {"k", "i", "bi", "t", "bl", "bo", "d", "ts", "u"};
        for (Object[] r : rows) {
            Row got = session.execute(sel.bind(r[0])).one();
            if (got == null) throw new CheckFailed("row k=" + r[0] + " not found");
            Object[] vals = {got.getInt("k"), got.getInt("i"), got.getLong("bi"), got.getString("t"),
                got.getByteBuffer("bl"), got.getBoolean("bo"), got.getDouble("d"), got.getInstant("ts"),
                got.getUuid("u")};
            for (int j = 0; j < cols.length; j++) {
                if (!Objects.equals(r[j], vals[j])) {
                    throw new CheckFailed("k=" + r[0] + " column " + cols[j] + ": wrote " + r[j]
                            + ", read " + vals[j]);
                }
            }
        }
        return "prepared insert+select of int, bigint, text, blob, boolean, double, timestamp, uuid: "
                + rows.length + " rows round-tripped";
    }

    String paging() throws Exception {
        PreparedStatement ins = session.prepare("INSERT INTO " + ks + ".paged (p, c, v) VALUES (?, ?, ?)");
        Semaphore window = new Semaphore(64);
        AtomicReference<Throwable> firstError = new AtomicReference<>();
        List<CompletableFuture<AsyncResultSet>> pending = new ArrayList<>();
        for (int i = 0; i < PAGED_ROWS && firstError.get() == null; i++) {
            if (!window.tryAcquire(WAIT_SECONDS, TimeUnit.SECONDS)) {
                throw new CheckFailed("no insert completed within " + WAIT_SECONDS + " s");
            }
            CompletableFuture<AsyncResultSet> f = session.executeAsync(
                    ins.bind(i / ROWS_PER_PARTITION, i % ROWS_PER_PARTITION, "v" + i)).toCompletableFuture();
            f.whenComplete((rs, err) -> {
                if (err != null) firstError.compareAndSet(null, err);
                window.release();
            });
            pending.add(f);
        }
        CompletableFuture.allOf(pending.toArray(new CompletableFuture[0]))
                .exceptionally(e -> null).get(WAIT_SECONDS, TimeUnit.SECONDS);
        if (firstError.get() != null) throw new CheckFailed("insert failed: " + firstError.get());

        PreparedStatement sel = session.prepare("SELECT p, c, v FROM " + ks + ".paged");
        AsyncResultSet page = await(session.executeAsync(sel.bind().setPageSize(PAGE_SIZE)));
        Set<Long> seen = new HashSet<>();
        int pages = 0, biggest = 0, total = 0, wrong = 0;
        while (true) {
            pages++;
            int n = 0;
            for (Row r : page.currentPage()) {
                n++;
                int p = r.getInt(0), c = r.getInt(1);
                seen.add(((long) p << 32) | c);
                if (!("v" + (p * ROWS_PER_PARTITION + c)).equals(r.getString(2))) wrong++;
            }
            total += n;
            biggest = Math.max(biggest, n);
            if (!page.hasMorePages()) break;
            if (pages > 10 * PAGED_ROWS / PAGE_SIZE) throw new CheckFailed("more than " + pages + " pages");
            page = await(page.fetchNextPage());
        }
        String detail = total + " rows (" + seen.size() + " distinct) in " + pages
                + " pages, largest page " + biggest + " rows";
        if (total != PAGED_ROWS || seen.size() != PAGED_ROWS || wrong != 0) {
            throw new CheckFailed("wanted " + PAGED_ROWS + " rows: " + detail + ", " + wrong + " wrong values");
        }
        if (biggest > PAGE_SIZE || pages < PAGED_ROWS / PAGE_SIZE) {
            throw new CheckFailed("not paged by " + PAGE_SIZE + ": " + detail);
        }
        return detail;
    }

    String batch() throws Exception {
        PreparedStatement ins = session.prepare("INSERT INTO " + ks + ".events (k, seq, note) VALUES (?, ?, ?)");
        BatchStatement logged = BatchStatement.builder(DefaultBatchType.LOGGED)
                .addStatement(ins.bind(1, 1, "one"))
                .addStatement(ins.bind(1, 2, "two"))
                .addStatement(ins.bind(2, 1, "other partition"))
                .addStatement(SimpleStatement.newInstance(
                        "INSERT INTO " + ks + ".events (k, seq, note) VALUES (1, 3, 'three')"))
                .addStatement(SimpleStatement.newInstance(
                        "UPDATE " + ks + ".events SET note = ? WHERE k = ? AND seq = ?", "two, updated", 1, 2))
                .build();
        session.execute(logged);
        session.execute(BatchStatement.newInstance(DefaultBatchType.UNLOGGED,
                ins.bind(3, 1, "unlogged a"), ins.bind(3, 2, "unlogged b")));
        List<String> got = new ArrayList<>();
        for (Row r : session.execute("SELECT k, seq, note FROM " + ks + ".events")) {
            got.add(r.getInt(0) + "/" + r.getInt(1) + "/" + r.getString(2));
        }
        got.sort(null);
        List<String> want = List.of("1/1/one", "1/2/two, updated", "1/3/three", "2/1/other partition",
                "3/1/unlogged a", "3/2/unlogged b");
        if (!got.equals(want)) {
            throw new CheckFailed("after the batches the table holds " + got + ", wanted " + want);
        }
        return "logged batch (3 prepared, 1 simple, 1 update with values, 2 partitions) and unlogged "
                + "batch applied; " + got.size() + " rows read back";
    }

    String badPassword() throws Exception {
        String bad = opts.getOrDefault("password", "") + "-wrong";
        CqlSession s = null;
        try {
            s = builder(bad).build();
        } catch (Exception e) {
            int code = codeOf(e);
            if (code != 0x0100) {
                throw new CheckFailed("wanted error 0x0100, got " + e.getClass().getSimpleName() + ": "
                        + e.getMessage() + " (code " + hex(code) + ")");
            }
            return "0x0100 " + e.getClass().getSimpleName() + ": " + e.getMessage();
        } finally {
            if (s != null) s.close();
        }
        throw new CheckFailed("connected with a wrong password");
    }
}
