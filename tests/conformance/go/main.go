// Conformance program for gocql (github.com/apache/cassandra-gocql-driver/v2,
// from the Go module proxy).
//
// Runs the checks described in tests/conformance/README.md against one
// server and prints a JSON summary on stdout; exits 1 if any check failed,
// 2 on bad usage. Driver logs (warnings and errors) go to stderr.
//
//	conform HOST PORT [--user U --password P] [--tls-ca F]
//	        [--tls-cert F --tls-key F] [--protocol N]
//
// gocql prepares every statement that has bound values and sends the others
// as plain QUERY messages. Unless --protocol pins a version it negotiates
// the version itself (newest first, stepping down when the server answers
// "unsupported protocol version" on stream 0, as Cassandra does) and does
// not expose the result, so `connect` cannot report it. Errors from the
// server implement gocql.RequestError (with Code()); errors met while
// opening a connection (a wrong password) are flattened into strings by
// CreateSession, so they are caught with a ConnectObserver instead.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

const (
	pagedRows        = 20000
	pageSize         = 1000
	rowsPerPartition = 100
	driverModule     = "github.com/apache/cassandra-gocql-driver/v2"
)

type check struct {
	Name    string  `json:"name"`
	OK      bool    `json:"ok"`
	Detail  string  `json:"detail"`
	Seconds float64 `json:"seconds"`
}

type checkFailed struct{ msg string }

func (e checkFailed) Error() string { return e.msg }

func fail(format string, a ...interface{}) error {
	return checkFailed{fmt.Sprintf(format, a...)}
}

type runner struct {
	checks []check
	failed map[string]bool
}

func (r *runner) run(name string, fn func() (string, error), needs ...string) {
	t0 := time.Now()
	var missing []string
	for _, n := range needs {
		if r.failed[n] {
			missing = append(missing, n)
		}
	}
	c := check{Name: name}
	if len(missing) > 0 {
		c.Detail = "not run: " + strings.Join(missing, ", ") + " failed"
	} else {
		detail, err := fn()
		if err != nil {
			var cf checkFailed
			if errors.As(err, &cf) {
				c.Detail = "CheckFailed: " + cf.msg
			} else {
				c.Detail = fmt.Sprintf("%T: %v", err, err)
			}
			fmt.Fprintf(os.Stderr, "check %s failed: %v\n", name, err)
		} else {
			c.OK = true
			c.Detail = detail
		}
	}
	if !c.OK {
		r.failed[name] = true
	}
	c.Seconds = math.Round(time.Since(t0).Seconds()*1000) / 1000
	r.checks = append(r.checks, c)
}

// connectErrors remembers the errors of failed connection attempts.
type connectErrors struct {
	mu   sync.Mutex
	errs []error
}

func (o *connectErrors) ObserveConnect(c gocql.ObservedConnect) {
	if c.Err != nil {
		o.mu.Lock()
		o.errs = append(o.errs, c.Err)
		o.mu.Unlock()
	}
}

func codeOf(err error) (int, bool) {
	var re gocql.RequestError
	if errors.As(err, &re) {
		return re.Code(), true
	}
	return 0, false
}

func hex(code int, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprintf("0x%04x", code)
}

func driverVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == driverModule {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return "?"
}

func usage(msg string) {
	fmt.Fprintf(os.Stderr, "%s\nusage: conform HOST PORT [--user U --password P] [--tls-ca F] "+
		"[--tls-cert F --tls-key F] [--protocol N]\n", msg)
	os.Exit(2)
}

func main() {
	fs := flag.NewFlagSet("conform", flag.ContinueOnError)
	user := fs.String("user", "", "user name (enables PasswordAuthenticator)")
	password := fs.String("password", "", "password")
	tlsCA := fs.String("tls-ca", "", "CA certificate (PEM); enables TLS")
	tlsCert := fs.String("tls-cert", "", "client certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "client key (PEM)")
	keyspace := fs.String("keyspace", "", "keyspace to create (default: random)")
	protocol := fs.Int("protocol", 0, "pin the protocol version (default: negotiate)")
	// Positional arguments may come before or after the options.
	var pos []string
	args := os.Args[1:]
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			usage(err.Error())
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	if len(pos) != 2 {
		usage("HOST and PORT are required")
	}
	host := pos[0]
	port, err := strconv.Atoi(pos[1])
	if err != nil || port <= 0 {
		usage("bad port " + pos[1])
	}
	auth := *user != ""
	ks := *keyspace
	if ks == "" {
		ks = "conform_go_" + strings.ReplaceAll(gocql.TimeUUID().String()[:8], "-", "")
	}

	newCluster := func(pw string) (*gocql.ClusterConfig, *connectErrors, error) {
		c := gocql.NewCluster(host)
		c.Port = port
		c.ConnectTimeout = 10 * time.Second
		c.Timeout = 30 * time.Second
		c.WriteTimeout = 30 * time.Second
		c.MaxWaitSchemaAgreement = 10 * time.Second
		c.Consistency = gocql.One
		c.Logger = gocql.NewLogger(gocql.LogLevelWarn)
		c.ProtoVersion = *protocol
		obs := &connectErrors{}
		c.ConnectObserver = obs
		if auth {
			c.Authenticator = gocql.PasswordAuthenticator{Username: *user, Password: pw}
		}
		if *tlsCA != "" {
			pem, err := os.ReadFile(*tlsCA)
			if err != nil {
				return nil, nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("%s: no certificate", *tlsCA)
			}
			cfg := &tls.Config{RootCAs: pool, ServerName: host}
			if *tlsCert != "" {
				pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
				if err != nil {
					return nil, nil, err
				}
				cfg.Certificates = []tls.Certificate{pair}
			}
			c.SslOpts = &gocql.SslOptions{Config: cfg, EnableHostVerification: true}
		}
		return c, obs, nil
	}

	r := &runner{failed: map[string]bool{}}
	var session *gocql.Session
	ctx := context.Background()

	r.run("connect", func() (string, error) {
		cluster, _, err := newCluster(*password)
		if err != nil {
			return "", err
		}
		session, err = cluster.CreateSession()
		if err != nil {
			return "", err
		}
		var rel string
		if err := session.Query("SELECT release_version FROM system.local").Scan(&rel); err != nil {
			return "", err
		}
		yn := map[bool]string{true: "yes", false: "no"}
		proto := "negotiated by gocql (not exposed)"
		if *protocol != 0 {
			proto = fmt.Sprintf("v%d (pinned)", *protocol)
		}
		return fmt.Sprintf("protocol %s, release_version %s, tls %s, auth %s",
			proto, rel, yn[*tlsCA != ""], yn[auth]), nil
	})

	r.run("schema", func() (string, error) {
		for _, q := range []string{
			"CREATE KEYSPACE " + ks + " WITH replication = " +
				"{'class': 'SimpleStrategy', 'replication_factor': 1}",
			"CREATE TABLE " + ks + ".types (k int PRIMARY KEY, i int, bi bigint, t text, " +
				"bl blob, bo boolean, d double, ts timestamp, u uuid)",
			"CREATE TABLE " + ks + ".paged (p int, c int, v text, PRIMARY KEY (p, c))",
			"CREATE TABLE " + ks + ".events (k int, seq int, note text, PRIMARY KEY (k, seq))",
		} {
			if err := session.Query(q).Exec(); err != nil {
				return "", fmt.Errorf("%s: %w", q, err)
			}
		}
		// gocql refreshes its metadata cache when the server pushes
		// SCHEMA_CHANGE events (debounced by 1 s), not after its own DDL: poll.
		var names []string
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; {
			var meta *gocql.KeyspaceMetadata
			meta, err = session.KeyspaceMetadata(ks)
			names = names[:0]
			if err == nil {
				for n := range meta.Tables {
					names = append(names, n)
				}
				sort.Strings(names)
				if strings.Join(names, ",") == "events,paged,types" {
					break
				}
			}
			if time.Now().After(deadline) {
				if err != nil {
					return "", fmt.Errorf("keyspace metadata 10 s after the DDL: %w", err)
				}
				return "", fail("driver metadata shows tables %v in %s 10 s after the DDL", names, ks)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Sprintf("keyspace %s with tables %s", ks, strings.Join(names, ", ")), nil
	}, "connect")

	r.run("types", func() (string, error) {
		type row struct {
			k, i int32
			bi   int64
			t    string
			bl   []byte
			bo   bool
			d    float64
			ts   time.Time
			u    gocql.UUID
		}
		rows := []row{
			{1, 2147483647, math.MaxInt64, "h\u00e9llo w\u00f6rld \u2713", []byte{0, 1, 0xfe, 0xff}, true,
				3.141592653589793, time.Date(2024, 2, 29, 12, 34, 56, 789e6, time.UTC), gocql.MustRandomUUID()},
			{2, -2147483648, math.MinInt64, "", []byte{}, false, -1.5e-300,
				time.Date(1969, 12, 31, 23, 59, 59, 1e6, time.UTC), gocql.TimeUUID()},
		}
		ins := "INSERT INTO " + ks + ".types (k, i, bi, t, bl, bo, d, ts, u) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		for _, w := range rows {
			if err := session.Query(ins, w.k, w.i, w.bi, w.t, w.bl, w.bo, w.d, w.ts, w.u).Exec(); err != nil {
				return "", err
			}
		}
		for _, w := range rows {
			var g row
			err := session.Query("SELECT k, i, bi, t, bl, bo, d, ts, u FROM "+ks+".types WHERE k = ?", w.k).
				Scan(&g.k, &g.i, &g.bi, &g.t, &g.bl, &g.bo, &g.d, &g.ts, &g.u)
			if err != nil {
				return "", fmt.Errorf("k=%d: %w", w.k, err)
			}
			if g.k != w.k || g.i != w.i || g.bi != w.bi || g.t != w.t || string(g.bl) != string(w.bl) ||
				g.bo != w.bo || g.d != w.d || !g.ts.Equal(w.ts) || g.u != w.u {
				return "", fail("k=%d: wrote %+v, read %+v", w.k, w, g)
			}
		}
		return fmt.Sprintf("prepared insert+select of int, bigint, text, blob, boolean, double, "+
			"timestamp, uuid: %d rows round-tripped", len(rows)), nil
	}, "schema")

	r.run("paging", func() (string, error) {
		ins := "INSERT INTO " + ks + ".paged (p, c, v) VALUES (?, ?, ?)"
		work := make(chan int)
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					err := session.Query(ins, i/rowsPerPartition, i%rowsPerPartition, fmt.Sprintf("v%d", i)).Exec()
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < pagedRows; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		if firstErr != nil {
			return "", fmt.Errorf("insert: %w", firstErr)
		}
		seen := map[[2]int]bool{}
		pages, biggest, total, wrong := 0, 0, 0, 0
		var state []byte
		for {
			iter := session.Query("SELECT p, c, v FROM " + ks + ".paged").PageSize(pageSize).
				PageState(state).IterContext(ctx)
			next := iter.PageState()
			n := 0
			var p, c int
			var v string
			for iter.Scan(&p, &c, &v) {
				n++
				seen[[2]int{p, c}] = true
				if v != fmt.Sprintf("v%d", p*rowsPerPartition+c) {
					wrong++
				}
			}
			if err := iter.Close(); err != nil {
				return "", err
			}
			pages++
			total += n
			if n > biggest {
				biggest = n
			}
			if len(next) == 0 {
				break
			}
			if pages > 10*pagedRows/pageSize {
				return "", fail("more than %d pages", pages)
			}
			state = next
		}
		detail := fmt.Sprintf("%d rows (%d distinct) in %d pages, largest page %d rows",
			total, len(seen), pages, biggest)
		if total != pagedRows || len(seen) != pagedRows || wrong != 0 {
			return "", fail("wanted %d rows: %s, %d wrong values", pagedRows, detail, wrong)
		}
		if biggest > pageSize || pages < pagedRows/pageSize {
			return "", fail("not paged by %d: %s", pageSize, detail)
		}
		return detail, nil
	}, "schema")

	r.run("batch", func() (string, error) {
		ins := "INSERT INTO " + ks + ".events (k, seq, note) VALUES (?, ?, ?)"
		b := session.Batch(gocql.LoggedBatch).
			Query(ins, 1, 1, "one").
			Query(ins, 1, 2, "two").
			Query(ins, 2, 1, "other partition").
			Query("INSERT INTO "+ks+".events (k, seq, note) VALUES (1, 3, 'three')").
			Query("UPDATE "+ks+".events SET note = ? WHERE k = ? AND seq = ?", "two, updated", 1, 2)
		if err := b.ExecContext(ctx); err != nil {
			return "", err
		}
		u := session.Batch(gocql.UnloggedBatch).
			Query(ins, 3, 1, "unlogged a").
			Query(ins, 3, 2, "unlogged b")
		if err := u.ExecContext(ctx); err != nil {
			return "", err
		}
		var got []string
		iter := session.Query("SELECT k, seq, note FROM " + ks + ".events").Iter()
		var k, seq int
		var note string
		for iter.Scan(&k, &seq, &note) {
			got = append(got, fmt.Sprintf("%d/%d/%s", k, seq, note))
		}
		if err := iter.Close(); err != nil {
			return "", err
		}
		sort.Strings(got)
		want := []string{"1/1/one", "1/2/two, updated", "1/3/three", "2/1/other partition",
			"3/1/unlogged a", "3/2/unlogged b"}
		if strings.Join(got, ";") != strings.Join(want, ";") {
			return "", fail("after the batches the table holds %v, wanted %v", got, want)
		}
		return fmt.Sprintf("logged batch (4 prepared, 1 unprepared, 2 partitions) and unlogged "+
			"batch applied; %d rows read back", len(got)), nil
	}, "schema")

	expectError := func(q string, want int) (string, error) {
		err := session.Query(q).Exec()
		if err == nil {
			return "", fail("%s succeeded, wanted error 0x%04x", q, want)
		}
		code, ok := codeOf(err)
		if !ok || code != want {
			return "", fail("%s: wanted error 0x%04x, got %T: %v (code %s)", q, want, err, err, hex(code, ok))
		}
		return fmt.Sprintf("%s %T: %v", hex(code, ok), err, err), nil
	}
	r.run("error_syntax", func() (string, error) {
		return expectError("SELEC * FROM system.local", 0x2000)
	}, "connect")
	r.run("error_unknown_table", func() (string, error) {
		return expectError("SELECT * FROM "+ks+".no_such_table", 0x2200)
	}, "connect")

	if auth {
		r.run("error_bad_password", func() (string, error) {
			cluster, obs, err := newCluster(*password + "-wrong")
			if err != nil {
				return "", err
			}
			cluster.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: time.Second}
			s, err := cluster.CreateSession()
			if err == nil {
				s.Close()
				return "", fail("connected with a wrong password")
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			for _, e := range obs.errs {
				if code, ok := codeOf(e); ok {
					if code != 0x0100 {
						return "", fail("wanted error 0x0100, got %T: %v (code %s)", e, e, hex(code, ok))
					}
					return fmt.Sprintf("0x0100 %T: %v", e, e), nil
				}
			}
			return "", fail("wanted error 0x0100, got %v (connection errors %v, none with a code)", err, obs.errs)
		})
	}

	if session != nil {
		_ = session.Query("DROP KEYSPACE IF EXISTS " + ks).Exec()
		session.Close()
	}
	ok := len(r.failed) == 0
	out, _ := json.MarshalIndent(map[string]interface{}{
		"client":         "gocql (apache/cassandra-gocql-driver/v2)",
		"driver_version": driverVersion(),
		"ok":             ok,
		"checks":         r.checks,
	}, "", " ")
	fmt.Println(string(out))
	if !ok {
		os.Exit(1)
	}
}
