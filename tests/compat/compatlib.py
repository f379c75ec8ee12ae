"""
The differential compatibility harness, shared by the recorder (record.py,
against the real Cassandra 5.0 of bench/cassandra) and the replay
(tests/integration/test_compat.py, against Helenus).

One place for:
  * the case-file parser (tests/compat/README.md, "Case files");
  * running one case file through the Python driver (protocol v4, unprepared,
    one fresh keyspace per file) and turning every answer into a canonical,
    type-faithful JSON value;
  * reading and writing expected files;
  * the normalisation rules (directives `-- @normalize col=rule`) and the
    comparison of an expected answer with an actual one;
  * the known-differences list.

Nothing here edits an expectation: expected files hold exactly what Cassandra
answered (canonicalised); rules are applied to both sides at comparison time.
"""

import calendar
import datetime
import decimal
import glob
import ipaddress
import json
import os
import re
import struct
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
EXPECTED_DIR = os.path.join(HERE, "expected")
KNOWN_DIFFERENCES = os.path.join(HERE, "known_differences.txt")

PROTOCOL_VERSION = 4
DEFAULT_FETCH_SIZE = 100000  # large enough that paging never matters by default
REQUEST_TIMEOUT = 20.0
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# case files


class Statement(object):
    def __init__(self, index, cql, line, directives):
        self.index = index  # 1-based within the file
        self.cql = cql  # text sent, as written (trailing ';' included)
        self.line = line  # line of the file where it starts
        self.directives = directives  # list of (name, argument string)

    def directive(self, name):
        for n, a in self.directives:
            if n == name:
                return a
        return None

    def has(self, name):
        return any(n == name for n, _ in self.directives)

    def normalize_rules(self):
        """{column name: (rule, parameter or None)} from every @normalize."""
        rules = {}
        for n, a in self.directives:
            if n != "normalize":
                continue
            for item in a.replace(",", " ").split():
                col, _, rule = item.partition("=")
                if not rule:
                    raise ValueError("@normalize wants col=rule, got %r" % item)
                rule, _, param = rule.partition(":")
                if rule not in RULES:
                    raise ValueError("unknown @normalize rule %r (known: %s)"
                                     % (rule, ", ".join(sorted(RULES))))
                rules[col] = (rule, param or None)
        return rules


DIRECTIVES = ("normalize", "ignore-order", "sleep", "page-size", "no-paging", "warnings")
# File-level directives (before the first statement): `-- @requires
# name=value` says the file must be recorded from, and replayed against, a
# node whose setting `name` (system_views.settings in Cassandra, the yaml
# key in Helenus) is `value`. The recorder refuses a node that differs; the
# replay starts a Helenus with that setting when it is not Helenus's default.
FILE_DIRECTIVES = ("requires",)
HELENUS_DEFAULTS = {"materialized_views_enabled": "true"}
_DIRECTIVE_RE = re.compile(r"^--\s*@([a-z-]+)\s*(.*?)\s*$")


def parse_case_file(path):
    """Statements of a case file, in order. A statement ends at a line whose
    last non-blank character is ';'. Lines starting with '--' outside a
    statement are comments; '-- @name args' lines are directives for the next
    statement."""
    stmts = []
    pending = []
    buf = []
    start = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not buf:
            if not s:
                continue
            if s.startswith("--"):
                m = _DIRECTIVE_RE.match(s)
                if m:
                    name, arg = m.group(1), m.group(2)
                    if name in FILE_DIRECTIVES:
                        if stmts or pending:
                            raise ValueError("%s:%d: @%s must come before the first statement"
                                             % (path, no, name))
                        continue
                    if name not in DIRECTIVES:
                        raise ValueError("%s:%d: unknown directive @%s" % (path, no, name))
                    pending.append((name, arg))
                continue
            start = no
        buf.append(raw.rstrip())
        # A BEGIN ... BATCH whose first line does not end with ';' runs to
        # the line that starts with APPLY and ends with ';' (its inner
        # statements end with ';' too).
        in_batch = (len(buf) > 0 and re.match(r"(?i)^\s*BEGIN\b", buf[0])
                    and not buf[0].strip().endswith(";"))
        if in_batch and not (len(buf) > 1 and re.match(r"(?i)^APPLY\b", s)):
            continue
        if s.endswith(";"):
            stmts.append(Statement(len(stmts) + 1, "\n".join(buf).strip(), start, pending))
            pending, buf = [], []
    if buf:
        raise ValueError("%s:%d: statement not terminated by ';'" % (path, start))
    if pending:
        raise ValueError("%s: directives after the last statement" % path)
    for st in stmts:
        st.normalize_rules()  # validate early
    return stmts


def file_settings(path):
    """{setting: value} from the file's `-- @requires name=value` lines."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            m = _DIRECTIVE_RE.match(raw.strip())
            if not m or m.group(1) != "requires":
                continue
            name, eq, value = m.group(2).partition("=")
            if not eq or not name.strip() or not value.strip():
                raise ValueError("%s:%d: @requires wants name=value" % (path, no))
            out[name.strip()] = value.strip()
    return out


def feature_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def keyspace_for(feature):
    return "compat_" + re.sub(r"[^a-z0-9_]", "_", feature.lower())


def case_files(names=None):
    if not names:
        return sorted(glob.glob(os.path.join(CASES_DIR, "*.cql")))
    out = []
    for n in names:
        if os.path.exists(n):
            out.append(os.path.abspath(n))
        else:
            base = n if n.endswith(".cql") else n + ".cql"
            out.append(os.path.join(CASES_DIR, base))
    return out


def expected_path(feature):
    return os.path.join(EXPECTED_DIR, feature + ".json")


# ---------------------------------------------------------------------------
# driver set-up: raw timestamps, full error information, result kinds


class RawTimestamp(int):
    """A timestamp as its wire value (ms since the epoch), never a datetime
    (datetime cannot hold every timestamp and rounds through a float)."""


class DriverPatches(object):
    """The driver changes the harness needs, applied while a case file runs
    (the replay shares its pytest process with other tests, which must see
    the driver unchanged: use as a context manager, or apply() for good in
    the recorder). Identical when recording and replaying:

      * timestamps decode to their wire value (RawTimestamp), never a
        datetime (the Python row decoder only: make_session selects it);
      * every response is noted on its ResponseFuture (_hln_kind: the RESULT
        kind; _hln_event: a schema change; _hln_error: the ERROR frame itself,
        with its code and message, which several to_exception() drop)."""

    def __init__(self):
        self.saved = []

    def apply(self):
        import cassandra.cqltypes as cqltypes
        import cassandra.cluster as cluster
        from cassandra.protocol import ErrorMessage

        def setattr_saved(obj, name, value):
            self.saved.append((obj, name, obj.__dict__[name]))
            setattr(obj, name, value)

        setattr_saved(cqltypes.DateType, "deserialize", staticmethod(
            lambda byts, protocol_version: RawTimestamp(struct.unpack(">q", byts)[0])))
        orig = cluster.ResponseFuture._set_result

        def _set_result(fut, host, connection, pool, response):
            fut._hln_kind = getattr(response, "kind", None)
            if isinstance(response, ErrorMessage):
                fut._hln_error = response
            ev = getattr(response, "schema_change_event", None)
            if ev is not None:
                fut._hln_event = ev
            return orig(fut, host, connection, pool, response)

        setattr_saved(cluster.ResponseFuture, "_set_result", _set_result)
        return self

    def restore(self):
        while self.saved:
            obj, name, value = self.saved.pop()
            setattr(obj, name, value)

    def __enter__(self):
        return self.apply()

    def __exit__(self, *exc):
        self.restore()


def make_cluster(host, port, **kw):
    from cassandra.cluster import Cluster
    kw.setdefault("connect_timeout", 10)
    kw.setdefault("control_connection_timeout", 10)
    kw.setdefault("max_schema_agreement_wait", 10)
    return Cluster([host], port=port, protocol_version=PROTOCOL_VERSION, **kw)


def make_session(cluster_):
    from cassandra import protocol
    from cassandra.query import tuple_factory
    s = cluster_.connect()
    # The pure-Python protocol handler, so that the patched deserializers
    # above are the ones used (the Cython row parser has its own).
    s.client_protocol_handler = protocol._ProtocolHandler
    s.row_factory = tuple_factory
    s.default_timeout = REQUEST_TIMEOUT
    s.default_fetch_size = DEFAULT_FETCH_SIZE
    return s


# ---------------------------------------------------------------------------
# canonical values


def _float(v):
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "Infinity"
    if v == float("-inf"):
        return "-Infinity"
    return repr(v)


def canon_value(v, ctype=None):
    """A JSON value standing for v, as exact as the driver's value allows.
    ctype is the driver's cqltype class (guides ints/floats/collections)."""
    from cassandra import util
    tname = getattr(ctype, "typename", None) if ctype is not None else None
    subs = getattr(ctype, "subtypes", ()) or ()
    if v is None:
        return None
    if isinstance(v, RawTimestamp):
        return int(v)
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if tname == "varint":
            return str(v)
        return v
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, util.Date):
        return str(v)
    if isinstance(v, util.Time):
        return str(v)
    if isinstance(v, util.Duration):
        return "%dmo%dd%dns" % (v.months, v.days, v.nanoseconds)
    if isinstance(v, datetime.datetime):  # not expected (timestamps are raw)
        return calendar.timegm(v.utctimetuple()) * 1000 + v.microsecond // 1000
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    if tname == "map" or isinstance(v, (dict, util.OrderedMap)):
        kt = subs[0] if len(subs) > 0 else None
        vt = subs[1] if len(subs) > 1 else None
        return {"map": [[canon_value(k, kt), canon_value(x, vt)] for k, x in v.items()]}
    if tname == "set" or isinstance(v, (set, frozenset, util.SortedSet)):
        et = subs[0] if subs else None
        return {"set": [canon_value(x, et) for x in v]}
    if tname == "frozen" and subs:
        return canon_value(v, subs[0])
    if hasattr(v, "_fields"):  # UDT as namedtuple
        fts = subs if subs else [None] * len(v._fields)
        return {"udt": [[f, canon_value(getattr(v, f), t)] for f, t in zip(v._fields, fts)]}
    if tname == "tuple" or isinstance(v, tuple):
        fts = list(subs) + [None] * (len(v) - len(subs))
        return {"tuple": [canon_value(x, t) for x, t in zip(v, fts)]}
    if isinstance(v, list):
        et = subs[0] if subs else None
        return [canon_value(x, et) for x in v]
    if hasattr(v, "__dict__") and hasattr(ctype, "fieldnames"):  # registered UDT class
        return {"udt": [[f, canon_value(getattr(v, f, None), t)]
                        for f, t in zip(ctype.fieldnames, subs)]}
    return {"repr": repr(v)}


def type_string(ctype):
    try:
        return ctype.cql_parameterized_type()
    except Exception:
        return repr(ctype)


# ---------------------------------------------------------------------------
# running a case file


def error_entry(fut, exc):
    err = getattr(fut, "_hln_error", None) if fut is not None else None
    if err is None:
        # not a server error frame (driver-side failure: timeout, connection, ...)
        return {"error": {"code": "driver", "message": "%s: %s" % (type(exc).__name__, exc)}}
    return {"error": {"code": "0x%04x" % err.code, "message": err.message}}


def run_statement(session, st):
    """The answer as recorded; with @warnings, also the client warnings the
    server sent with it (`warnings`, a list, compared like the rest)."""
    entry = _run_statement(session, st)
    if st.has("warnings"):
        fut = entry.pop("_fut", None)
        w = None
        try:
            w = fut.warnings if fut is not None else None
        except Exception:  # noqa: BLE001 - not finalized: none
            w = None
        entry["warnings"] = list(w or [])
    entry.pop("_fut", None)
    return entry


def _run_statement(session, st):
    from cassandra.query import SimpleStatement
    sleep = st.directive("sleep")
    if sleep:
        time.sleep(float(sleep))
    page = st.directive("page-size")
    q = SimpleStatement(st.cql, fetch_size=int(page) if page else DEFAULT_FETCH_SIZE)
    if st.has("no-paging"):  # no page size in the QUERY: the whole result at once
        if page:
            raise ValueError("line %d: @no-paging and @page-size together" % st.line)
        q.fetch_size = None
    fut = None
    try:
        fut = session.execute_async(q, timeout=REQUEST_TIMEOUT)
        rs = fut.result()
    except Exception as e:  # noqa: BLE001 - an error is an answer too
        return dict(error_entry(fut, e), _fut=fut)
    kind = getattr(fut, "_hln_kind", None)
    names = rs.column_names
    if names is not None and kind in (None, 2):  # RESULT_KIND_ROWS == 2
        types = rs.column_types or []
        rows = []
        try:
            for r in rs:
                rows.append([canon_value(v, types[i] if i < len(types) else None)
                             for i, v in enumerate(r)])
        except Exception as e:  # noqa: BLE001 - an error on a later page
            return error_entry(fut, e)
        return {"columns": list(names), "types": [type_string(t) for t in types], "rows": rows,
                "_fut": fut}
    if kind == 5:  # RESULT_KIND_SCHEMA_CHANGE
        ev = getattr(fut, "_hln_event", None) or {}
        target = ev.get("target_type", "")
        what = ev.get("keyspace", "")
        if ev.get("table"):
            what += "." + ev["table"]
        elif ev.get("type"):
            what += "." + ev["type"]
        elif ev.get("name"):
            what += "." + ev["name"]
        return {"ok": "schema_change %s %s %s" % (ev.get("change_type", "?"), target, what),
                "_fut": fut}
    if kind == 3:  # RESULT_KIND_SET_KEYSPACE
        return {"ok": "set_keyspace", "_fut": fut}
    return {"ok": "void", "_fut": fut}


def setup_keyspace(session, feature):
    """Drops the file's keyspace and every keyspace named <it>_* (ones the
    file itself created), creates it afresh and USEs it."""
    ks = keyspace_for(feature)
    from cassandra.query import SimpleStatement
    for r in session.execute("SELECT keyspace_name FROM system_schema.keyspaces", timeout=60):
        name = r[0]
        if name.lower().startswith(ks + "_"):
            session.execute('DROP KEYSPACE IF EXISTS "%s"' % name.replace('"', '""'), timeout=60)
    for q in ("DROP KEYSPACE IF EXISTS %s" % ks,
              "CREATE KEYSPACE %s WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks,
              "USE %s" % ks):
        session.execute(SimpleStatement(q), timeout=60)
    return ks


def drop_keyspace(session, feature):
    try:
        session.execute("DROP KEYSPACE IF EXISTS %s" % keyspace_for(feature), timeout=60)
    except Exception:
        pass


def run_case_file(session, path):
    """[(Statement, entry)] for every statement of the file, in a fresh
    keyspace (left behind: dropped before the next run of the same file)."""
    feature = feature_of(path)
    stmts = parse_case_file(path)
    setup_keyspace(session, feature)
    out = []
    for st in stmts:
        out.append((st, run_statement(session, st)))
    return out


# ---------------------------------------------------------------------------
# expected files: valid JSON, one statement per block, one row per line


def _j(v):
    return json.dumps(v, ensure_ascii=False, sort_keys=False)


def write_expected(path, header, results):
    lines = ["{", ' "format": %d,' % FORMAT_VERSION, ' "header": %s,' % _j(header),
             ' "statements": [']
    blocks = []
    for st, e in results:
        b = ['  {"i": %d, "cql": %s,' % (st.index, _j(st.cql))]
        if "warnings" in e:
            b.append('   "warnings": %s,' % _j(e["warnings"]))
        if "rows" in e:
            b.append('   "columns": %s,' % _j(e["columns"]))
            b.append('   "types": %s,' % _j(e["types"]))
            if not e["rows"]:
                b.append('   "rows": []}')
            else:
                b.append('   "rows": [')
                b.append(",\n".join("    " + _j(r) for r in e["rows"]))
                b.append("   ]}")
        elif "error" in e:
            b.append('   "error": %s}' % _j(e["error"]))
        else:
            b.append('   "ok": %s}' % _j(e["ok"]))
        blocks.append("\n".join(b))
    lines.append(",\n".join(blocks))
    lines.append(" ]")
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def read_expected(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError("%s: format %r, this harness reads %d: re-record"
                         % (path, doc.get("format"), FORMAT_VERSION))
    return doc


# ---------------------------------------------------------------------------
# normalisation rules: the only place where values are allowed to differ


_NOW_WINDOW_MS = 24 * 3600 * 1000  # "now" = within a day of the answer's own clock


def _is_uuid(v, version=None):
    try:
        u = uuid.UUID(v)
    except (TypeError, ValueError, AttributeError):
        return False
    return version is None or u.version == version


def _placeholder(kind, v, seen):
    """Same value in the same result -> same placeholder number."""
    key = (kind, json.dumps(v))
    if key not in seen:
        seen[key] = len([k for k in seen if k[0] == kind]) + 1
    return "<%s#%d>" % (kind, seen[key])


def _rule_timeuuid(v, param, seen):
    if v is None:
        return None
    return _placeholder("timeuuid", v, seen) if _is_uuid(v, 1) else {"bad timeuuid": v}


def _rule_uuid(v, param, seen):
    if v is None:
        return None
    return _placeholder("uuid", v, seen) if _is_uuid(v) else {"bad uuid": v}


def _rule_now(v, param, seen):
    """A timestamp (ms) near the clock of the moment the answer was given:
    '<now>'. A recorded answer is judged against its recording time (the
    file's header date), a fresh one against the machine's clock; judging
    a recording against today's clock would fail every replay a day later."""
    if v is None:
        return None
    clock_ms = seen.get(_CLOCK_KEY, time.time() * 1000)
    if isinstance(v, int) and abs(v - clock_ms) < _NOW_WINDOW_MS:
        return "<now>"
    if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", v):
        d = datetime.date.fromisoformat(v)
        today = datetime.datetime.fromtimestamp(clock_ms / 1000, datetime.timezone.utc).date()
        if abs((d - today).days) <= 1:
            return "<today>"
    return {"not now": v}


def _rule_writetime(v, param, seen):
    """writetime(): present (a positive integer of microseconds) or null."""
    if v is None:
        return None
    if isinstance(v, list):
        return [_rule_writetime(x, param, seen) for x in v]
    if isinstance(v, int) and v > 0:
        return "<writetime>"
    return {"bad writetime": v}


def _rule_present(v, param, seen):
    return None if v is None else "<present>"


class _Tolerant(object):
    """A number compared within a tolerance (the ttl rule)."""

    def __init__(self, v, tol):
        self.v, self.tol = v, tol

    def __eq__(self, other):
        return (isinstance(other, _Tolerant) and isinstance(self.v, int)
                and isinstance(other.v, int) and abs(self.v - other.v) <= self.tol)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "%r(±%d)" % (self.v, self.tol)


def _rule_ttl(v, param, seen):
    """ttl(): equal within `param` seconds (default 5): a countdown."""
    if v is None:
        return None
    tol = int(param) if param else 5
    if isinstance(v, list):
        return [_rule_ttl(x, param, seen) for x in v]
    return _Tolerant(v, tol)


RULES = {
    "timeuuid": _rule_timeuuid,
    "uuid": _rule_uuid,
    "now": _rule_now,
    "writetime": _rule_writetime,
    "present": _rule_present,
    "ttl": _rule_ttl,
}


_SIGNATURES = re.compile(r"^(.*\(known type signatures: )(.*)\)$", re.S)
_AMBIGUOUS = re.compile(r"^(.*\(can be matched by following signatures: )(.*)(\): use type casts "
                        r"to disambiguate)$", re.S)


def _signatures_sorted(message):
    """Cassandra lists a function's overloads ("Invalid call to function f,
    none of its type signatures match (known type signatures: a, b, ...)")
    in an order that changes from one Cassandra run to the next (a hash
    set's): the list is compared as a set, in sorted order. So is the list
    of an "Ambiguous call to function f (can be matched by following
    signatures: ...)" error."""
    m = _AMBIGUOUS.match(message)
    if m:  # "Ambiguous call to function f (can be matched by ...: a, b)": the same set
        items = re.split(r", (?=system\.)", m.group(2))
        return m.group(1) + ", ".join(sorted(items)) + m.group(3)
    m = _SIGNATURES.match(message)
    if not m:
        return message
    items = re.split(r", (?=system\.)", m.group(2))
    return m.group(1) + ", ".join(sorted(items)) + ")"


_CLOCK_KEY = ("clock", None)  # in a rule's `seen`: the answer's clock, ms


def recorded_clock_ms(header):
    """The recording time in a header ("date": "2026-12-06T20:08:23Z"), ms."""
    d = datetime.datetime.strptime(header["date"], "%Y-%m-%dT%H:%M:%SZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def normalize(st, entry, clock_ms=None):
    """The entry as compared: rules applied to the marked columns, rows
    sorted under @ignore-order, a function's signature list sorted.
    clock_ms is when the answer was given (None: just now)."""
    if "error" in entry and isinstance(entry["error"].get("message"), str):
        err = dict(entry["error"], message=_signatures_sorted(entry["error"]["message"]))
        return dict(entry, error=err)
    if "rows" not in entry:
        return entry
    rules = st.normalize_rules()
    cols = entry["columns"]
    seen = {} if clock_ms is None else {_CLOCK_KEY: clock_ms}
    rows = []
    for r in entry["rows"]:
        nr = list(r)
        for i, c in enumerate(cols):
            if c in rules and i < len(nr):
                rule, param = rules[c]
                nr[i] = RULES[rule](nr[i], param, seen)
        rows.append(nr)
    if st.has("ignore-order"):
        rows.sort(key=lambda r: json.dumps(r, default=repr, sort_keys=True))
    return {"columns": cols, "types": entry["types"], "rows": rows}


def _strip(entry):
    return {k: v for k, v in entry.items()
            if k in ("columns", "types", "rows", "error", "ok", "warnings")}


def matches(st, expected, got, expected_clock_ms=None):
    """Whether got (just answered) equals expected (answered at
    expected_clock_ms; None: just now) under the statement's rules."""
    return (normalize(st, _strip(expected), expected_clock_ms)
            == normalize(st, _strip(got)))


def short(entry, limit=600):
    s = json.dumps(_strip(entry), ensure_ascii=False, default=repr)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


# ---------------------------------------------------------------------------
# known differences


def read_known_differences(path=KNOWN_DIFFERENCES):
    """{(feature file, index or '*'): reason}; raises on malformed lines."""
    known = {}
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z0-9_.-]+\.cql):(\*|\d+)\s+(\S.*)$", s)
            if not m:
                raise ValueError("%s:%d: want '<feature>.cql:<index|*> <reason>', got %r"
                                 % (path, no, s))
            key = (m.group(1), m.group(2) if m.group(2) == "*" else int(m.group(2)))
            if key in known:
                raise ValueError("%s:%d: %s:%s listed twice" % (path, no, key[0], key[1]))
            known[key] = m.group(3)
    return known
