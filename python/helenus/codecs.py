"""
codecs.py — Cassandra's serialisation of CQL values, both ways.

What: a codec per CQL type, built from the type *spec* the C API spells out
(``hln_result_column_spec`` / ``hln_stmt_bind_spec``): scalars by CQL name
(``int``, ``text``, ``timeuuid``...), ``list<T>``, ``set<T>``, ``map<K,V>``,
``tuple<A,B>``, ``vector<T,n>`` and ``udt<ks.name,field:T,...>``. Each codec
turns a Python value into the bytes of the native protocol's [bytes] body
(``encode``) and back (``decode``).

Why in Python: the engine takes and returns values already serialised (the
embedded API's values are the wire format), so the binding needs no C code
per type, and the rules are the ones every Cassandra driver implements.

Python types (decode gives these; encode accepts them and a few more):
  int, bigint, smallint, tinyint, counter, varint -> int
  float, double -> float; boolean -> bool; decimal -> decimal.Decimal
  text, varchar, ascii -> str; blob -> bytes (encode: bytes-like)
  uuid, timeuuid -> uuid.UUID
  timestamp -> datetime.datetime, timezone-aware UTC (encode: a naive
    datetime is taken as UTC; an int is milliseconds since the epoch)
  date -> datetime.date (encode also: int days since the epoch)
  time -> datetime.time (microseconds; encode also: int nanoseconds)
  inet -> ipaddress.IPv4Address / IPv6Address (encode also: str)
  duration -> Duration(months, days, nanoseconds)
  list -> list, set -> set, map -> dict, tuple -> tuple
  vector<T, n> -> list (ResultSet.to_numpy gives arrays without Python objects)
  user-defined types -> dict of field name to value (encode: a dict or any
    object with the fields as attributes; missing fields are null)

Invariants: decode(encode(v)) == v for every value the type can hold
(timestamps at millisecond and times at microsecond precision); a null
(None) never reaches a codec: the caller writes length -1.
"""
from __future__ import annotations

import datetime
import decimal
import ipaddress
import struct
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, NamedTuple

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_DATE = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class Duration:
    """A CQL duration: months, days and nanoseconds, each signed."""
    months: int = 0
    days: int = 0
    nanoseconds: int = 0


class Codec(NamedTuple):
    """encode: value -> bytes; decode: bytes -> value; width: fixed size or 0."""
    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    width: int = 0
    numpy: str | None = None  # numpy dtype of a fixed-width numeric value


# ---- scalar codecs -------------------------------------------------------

def _fixed(fmt: str, conv=None):
    s = struct.Struct(fmt)

    def enc(v):
        return s.pack(conv(v) if conv else v)

    def dec(b):
        return s.unpack(b)[0]
    return enc, dec, s.size


def _int_like(v):
    if isinstance(v, bool) or not isinstance(v, int):
        if hasattr(v, "__index__"):
            return v.__index__()
        raise TypeError("expected an int, got %r" % (v,))
    return v


def _enc_text(v):
    if not isinstance(v, str):
        raise TypeError("expected a str, got %r" % (v,))
    return v.encode("utf-8")


def _enc_ascii(v):
    if not isinstance(v, str):
        raise TypeError("expected a str, got %r" % (v,))
    return v.encode("ascii")


def _enc_blob(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise TypeError("expected bytes, got %r" % (v,))


def _enc_uuid(v):
    if isinstance(v, str):
        v = uuid.UUID(v)
    if not isinstance(v, uuid.UUID):
        raise TypeError("expected a uuid.UUID, got %r" % (v,))
    return v.bytes


def _enc_bool(v):
    return b"\x01" if v else b"\x00"


def _enc_timestamp(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        d = v - _EPOCH
        ms = (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000
    elif isinstance(v, datetime.date):
        ms = (v - _EPOCH_DATE).days * 86400000
    else:
        ms = _int_like(v)
    return struct.pack(">q", ms)


def _dec_timestamp(b):
    ms = struct.unpack(">q", b)[0]
    try:
        return _EPOCH + datetime.timedelta(milliseconds=ms)
    except OverflowError:
        return ms  # outside datetime's years 1..9999: the raw milliseconds


def _enc_date(v):
    if isinstance(v, datetime.datetime):
        v = v.date()
    days = (v - _EPOCH_DATE).days if isinstance(v, datetime.date) else _int_like(v)
    return struct.pack(">I", (days + (1 << 31)) & 0xFFFFFFFF)


def _dec_date(b):
    days = struct.unpack(">I", b)[0] - (1 << 31)
    try:
        return _EPOCH_DATE + datetime.timedelta(days=days)
    except OverflowError:
        return days


def _enc_time(v):
    if isinstance(v, datetime.time):
        ns = ((v.hour * 60 + v.minute) * 60 + v.second) * 10**9 + v.microsecond * 1000
    else:
        ns = _int_like(v)
    return struct.pack(">q", ns)


def _dec_time(b):
    ns = struct.unpack(">q", b)[0]
    s, rest = divmod(ns, 10**9)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return datetime.time(h, m, s, rest // 1000)


def _enc_inet(v):
    if isinstance(v, str):
        v = ipaddress.ip_address(v)
    return v.packed


def _dec_inet(b):
    return ipaddress.ip_address(bytes(b))


def _enc_varint(v):
    v = _int_like(v)
    n = (v + (v < 0)).bit_length() // 8 + 1
    return v.to_bytes(n, "big", signed=True)


def _dec_varint(b):
    return int.from_bytes(b, "big", signed=True)


def _enc_decimal(v):
    if not isinstance(v, decimal.Decimal):
        v = decimal.Decimal(str(v) if isinstance(v, float) else v)
    sign, digits, exp = v.as_tuple()
    if not isinstance(exp, int):
        raise ValueError("cannot serialise %s as a decimal" % v)
    unscaled = int("".join(map(str, digits)) or "0")
    if sign:
        unscaled = -unscaled
    return struct.pack(">i", -exp) + _enc_varint(unscaled)


def _dec_decimal(b):
    scale = struct.unpack(">i", b[:4])[0]
    t = decimal.Decimal(_dec_varint(b[4:])).as_tuple()
    return decimal.Decimal((t.sign, t.digits, -scale))  # exact: no context rounding


# Cassandra's vint: the count of leading 1 bits of the first byte is the
# number of extra bytes; signed values are zigzag encoded.

def _uvint_encode(v: int) -> bytes:
    if v < 0x80:
        return bytes([v])
    n = 1
    while n < 8 and v >= 1 << (7 * (n + 1)):
        n += 1
    if n == 8 or v >= 1 << 63:  # nine bytes: 0xFF then 8 bytes
        return b"\xff" + v.to_bytes(8, "big")
    first = (0xFF << (8 - n)) & 0xFF
    raw = v.to_bytes(n + 1, "big")
    return bytes([raw[0] | first]) + raw[1:]


def _uvint_decode(b, off: int) -> tuple[int, int]:
    first = b[off]
    n = 0
    while n < 8 and first & (0x80 >> n):
        n += 1
    if n == 0:
        return first, off + 1
    v = first & (0xFF >> (n + 1)) if n < 8 else 0
    for i in range(n):
        v = (v << 8) | b[off + 1 + i]
    return v, off + 1 + n


def _zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _unzigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _enc_duration(v):
    if not isinstance(v, Duration):
        raise TypeError("expected a helenus.Duration, got %r" % (v,))
    return b"".join(_uvint_encode(_zigzag(x) & 0xFFFFFFFFFFFFFFFF)
                    for x in (v.months, v.days, v.nanoseconds))


def _dec_duration(b):
    vals = []
    off = 0
    for _ in range(3):
        u, off = _uvint_decode(b, off)
        vals.append(_unzigzag(u))
    return Duration(*vals)


def _scalars() -> dict[str, Codec]:
    out = {}

    def add(name, enc, dec, width=0, np=None):
        out[name] = Codec(name, enc, dec, width, np)

    for name, fmt, np in (("int", ">i", ">i4"), ("bigint", ">q", ">i8"),
                          ("counter", ">q", ">i8"), ("smallint", ">h", ">i2"),
                          ("tinyint", ">b", ">i1")):
        e, d, w = _fixed(fmt, _int_like)
        add(name, e, d, w, np)
    for name, fmt, np in (("float", ">f", ">f4"), ("double", ">d", ">f8")):
        e, d, w = _fixed(fmt, float)
        add(name, e, d, w, np)
    add("boolean", _enc_bool, lambda b: b[0] != 0, 1, "?")
    add("text", _enc_text, lambda b: bytes(b).decode("utf-8"))
    add("varchar", _enc_text, lambda b: bytes(b).decode("utf-8"))
    add("ascii", _enc_ascii, lambda b: bytes(b).decode("ascii"))
    add("blob", _enc_blob, bytes)
    add("uuid", _enc_uuid, lambda b: uuid.UUID(bytes=bytes(b)), 16)
    add("timeuuid", _enc_uuid, lambda b: uuid.UUID(bytes=bytes(b)), 16)
    add("timestamp", _enc_timestamp, _dec_timestamp, 8, ">i8")
    add("date", _enc_date, _dec_date, 4)
    add("time", _enc_time, _dec_time, 8, ">i8")
    add("inet", _enc_inet, _dec_inet)
    add("varint", _enc_varint, _dec_varint)
    add("decimal", _enc_decimal, _dec_decimal)
    add("duration", _enc_duration, _dec_duration)
    add("custom", _enc_blob, bytes)
    return out


_SCALARS = _scalars()


# ---- composite codecs ----------------------------------------------------

_I32 = struct.Struct(">i")


def _pack_items(items, codecs_iter) -> bytes:
    parts = []
    for v, c in zip(items, codecs_iter):
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            b = c.encode(v)
            parts.append(_I32.pack(len(b)))
            parts.append(b)
    return b"".join(parts)


def _read_items(b, off: int, codecs_iter):
    out = []
    for c in codecs_iter:
        if off >= len(b):  # a tuple or UDT value may stop early
            out.append(None)
            continue
        n = _I32.unpack_from(b, off)[0]
        off += 4
        if n < 0:
            out.append(None)
        else:
            out.append(c.decode(b[off:off + n]))
            off += n
    return out, off


def _repeat(c, n):
    for _ in range(n):
        yield c


def _list_codec(name: str, elem: Codec, kind: str) -> Codec:
    def enc(v):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise TypeError("expected a collection for %s, got %r" % (name, v))
        items = list(v)
        return _I32.pack(len(items)) + _pack_items(items, _repeat(elem, len(items)))

    def dec(b):
        n = _I32.unpack_from(b, 0)[0]
        items, _ = _read_items(b, 4, _repeat(elem, n))
        return set(items) if kind == "set" else items
    return Codec(name, enc, dec)


def _map_codec(name: str, k: Codec, v: Codec) -> Codec:
    def enc(m):
        items = list(m.items())
        flat = [x for kv in items for x in kv]
        return _I32.pack(len(items)) + _pack_items(flat, (c for _ in items for c in (k, v)))

    def dec(b):
        n = _I32.unpack_from(b, 0)[0]
        flat, _ = _read_items(b, 4, (c for _ in range(n) for c in (k, v)))
        return dict(zip(flat[0::2], flat[1::2]))
    return Codec(name, enc, dec)


def _tuple_codec(name: str, elems: list[Codec]) -> Codec:
    def enc(v):
        v = tuple(v)
        if len(v) > len(elems):
            raise ValueError("%s takes %d components, got %d" % (name, len(elems), len(v)))
        return _pack_items(v, elems)

    def dec(b):
        items, _ = _read_items(b, 0, elems)
        return tuple(items)
    return Codec(name, enc, dec)


def _udt_codec(name: str, fields: list[tuple[str, Codec]]) -> Codec:
    names = [f for f, _ in fields]
    codecs = [c for _, c in fields]

    def enc(v):
        if isinstance(v, dict):
            unknown = set(v) - set(names)
            if unknown:
                raise ValueError("%s has no field(s) %s" % (name, ", ".join(sorted(unknown))))
            vals = [v.get(f) for f in names]
        else:
            vals = [getattr(v, f, None) for f in names]
        return _pack_items(vals, codecs)

    def dec(b):
        items, _ = _read_items(b, 0, codecs)
        return dict(zip(names, items))
    return Codec(name, enc, dec)


def _vector_codec(name: str, elem: Codec, dim: int) -> Codec:
    if elem.width:
        w = elem.width
        if elem.numpy and elem.name in ("float", "double", "int", "bigint", "smallint",
                                        "tinyint"):
            fmt = ">" + str(dim) + {"float": "f", "double": "d", "int": "i", "bigint": "q",
                                    "smallint": "h", "tinyint": "b"}[elem.name]
            st = struct.Struct(fmt)
            conv = float if elem.name in ("float", "double") else _int_like

            def enc(v):
                v = list(v)
                if len(v) != dim:
                    raise ValueError("%s needs %d elements, got %d" % (name, dim, len(v)))
                return st.pack(*map(conv, v))

            def dec(b):
                return list(st.unpack(b))
            return Codec(name, enc, dec, w * dim, elem.numpy)

        def enc_f(v):
            v = list(v)
            if len(v) != dim:
                raise ValueError("%s needs %d elements, got %d" % (name, dim, len(v)))
            return b"".join(elem.encode(x) for x in v)

        def dec_f(b):
            return [elem.decode(b[i * w:(i + 1) * w]) for i in range(dim)]
        return Codec(name, enc_f, dec_f, w * dim)

    def enc_v(v):
        v = list(v)
        if len(v) != dim:
            raise ValueError("%s needs %d elements, got %d" % (name, dim, len(v)))
        out = []
        for x in v:
            b = elem.encode(x)
            out.append(_uvint_encode(len(b)))
            out.append(b)
        return b"".join(out)

    def dec_v(b):
        out, off = [], 0
        for _ in range(dim):
            n, off = _uvint_decode(b, off)
            out.append(elem.decode(b[off:off + n]))
            off += n
        return out
    return Codec(name, enc_v, dec_v)


# ---- spec parsing --------------------------------------------------------

class _Parser:
    def __init__(self, s: str):
        self.s = s
        self.i = 0

    def ident(self) -> str:
        j = self.i
        while j < len(self.s) and self.s[j] not in "<>,:":
            j += 1
        tok = self.s[self.i:j]
        self.i = j
        return tok

    def expect(self, ch: str) -> None:
        if self.i >= len(self.s) or self.s[self.i] != ch:
            raise ValueError("bad type spec %r at %d (expected %r)" % (self.s, self.i, ch))
        self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def type(self) -> Codec:
        name = self.ident()
        if self.peek() != "<":
            c = _SCALARS.get(name)
            if c is None:
                raise ValueError("unknown CQL type %r in %r" % (name, self.s))
            return c
        self.expect("<")
        if name == "udt":
            udt_name = self.ident()
            fields = []
            while self.peek() == ",":
                self.expect(",")
                f = self.ident()
                self.expect(":")
                fields.append((f, self.type()))
            self.expect(">")
            return _udt_codec(udt_name, fields)
        if name == "vector":
            elem = self.type()
            self.expect(",")
            dim = int(self.ident())
            self.expect(">")
            return _vector_codec("vector<%s, %d>" % (elem.name, dim), elem, dim)
        params = [self.type()]
        while self.peek() == ",":
            self.expect(",")
            params.append(self.type())
        self.expect(">")
        full = "%s<%s>" % (name, ", ".join(p.name for p in params))
        if name in ("list", "set") and len(params) == 1:
            return _list_codec(full, params[0], name)
        if name == "map" and len(params) == 2:
            return _map_codec(full, params[0], params[1])
        if name == "tuple":
            return _tuple_codec(full, params)
        raise ValueError("bad type spec %r" % self.s)


@lru_cache(maxsize=1024)
def codec_for(spec: str) -> Codec:
    """The codec of a type spec as hln_result_column_spec writes it."""
    p = _Parser(spec)
    c = p.type()
    if p.i != len(spec):
        raise ValueError("trailing text in type spec %r" % spec)
    return c


def encode_values(codecs: list[Codec], values) -> bytes:
    """The native protocol's value list ([i32 len][bytes] each; None: -1)."""
    return _pack_items(values, codecs)
