"""
ring.py — the Murmur3 token ring as the network readers of this package
(ray_data.py's Datasource and loader.py's training-data loader) cut it.

What: ``token_slices(n)`` splits the ring into n contiguous ranges;
``range_of(bounds, token)`` finds the range a token falls in;
``pk_columns`` reads a table's partition key from system_schema;
``range_select`` builds the ``SELECT ... WHERE token(pk) ...`` text of a
range scan; ``quote`` quotes an identifier.

Why a module of its own: both readers must agree on what a slice is (the
loader's checkpoints name ranges by index), and one definition keeps them
from drifting apart.

Invariants: the n slices are disjoint and cover every token: the first is
[MIN_TOKEN, hi] (no row has a token below MIN_TOKEN, so ``>=`` there loses
nothing), every other one is (lo, hi], the last ends at MAX_TOKEN; slice i
of ``token_slices(n)`` is the same for every caller and every process.
"""
from __future__ import annotations

import bisect
from typing import Any, List, Optional, Sequence, Tuple

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1


def token_slices(n: int) -> List[Tuple[int, int]]:
    """n contiguous (lo, hi) slices covering the whole ring: the first is
    [MIN, hi], the others (lo, hi]."""
    n = max(1, int(n))
    width = 2**64 // n
    bounds = [MIN_TOKEN + i * width for i in range(n)] + [MAX_TOKEN]
    return [(bounds[i], bounds[i + 1]) for i in range(n)]


def range_of(slices: Sequence[Tuple[int, int]], token: int) -> int:
    """The index of the slice of ``slices`` (from token_slices) holding token."""
    his = [hi for _, hi in slices]
    return min(bisect.bisect_left(his, token), len(slices) - 1)


def quote(name: str) -> str:
    """A CQL quoted identifier."""
    return '"%s"' % name.replace('"', '""')


def pk_columns(session: Any, keyspace: str, table: str) -> List[str]:
    """The partition key columns of keyspace.table, in key order (raises
    ValueError when there is no such table)."""
    rows = session.execute(
        "SELECT column_name, kind, position FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s", (keyspace, table))
    pk = sorted((r[2], r[0]) for r in rows if r[1] == "partition_key")
    if not pk:
        raise ValueError("no table %s.%s" % (keyspace, table))
    return [name for _, name in pk]


def range_select(keyspace: str, table: str, pk: Sequence[str],
                 columns: Optional[Sequence[str]], lower: str, marker: str = "%s",
                 with_token: bool = False) -> str:
    """``SELECT [token(pk), ]cols FROM ks.t WHERE token(pk) <lower> ? AND
    token(pk) <= ?``; lower is ">" or ">="; marker is the bind marker
    ("%s" for simple statements, "?" for prepared ones)."""
    assert lower in (">", ">=")
    tok = "token(%s)" % ", ".join(quote(c) for c in pk)
    cols = ", ".join(quote(c) for c in columns) if columns else "*"
    if with_token:
        cols = tok + ", " + cols
    return "SELECT %s FROM %s.%s WHERE %s %s %s AND %s <= %s" % (
        cols, quote(keyspace), quote(table), tok, lower, marker, tok, marker)
