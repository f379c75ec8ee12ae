"""
_lib.py — loads libhelenus.so and declares its functions for ctypes.

What: the one place that knows the C API's signatures (include/helenus.h).
Everything else in the package calls ``LIB.hln_*`` through the prototypes
declared here.

Why ctypes and not a compiled extension: ``pip install`` needs no compiler
and no Python headers, and the same library serves C programs and Python.
ctypes releases the GIL for the duration of every foreign call, so several
Python threads can wait on the engine at once (the C API is thread-safe per
database handle).

Where the library is found, first hit wins:
  1. the file named by the environment variable HELENUS_LIB;
  2. ``libhelenus.so`` inside this package (``pip install`` copies it in
     when it finds a built one);
  3. ``build/release/libhelenus.so`` of the repository this package sits in.

Invariants: the library is loaded once per process; a missing library
raises ``ImportError`` at import time, with the places that were tried.
"""
from __future__ import annotations

import ctypes
import os
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates() -> list[str]:
    out = []
    env = os.environ.get("HELENUS_LIB")
    if env:
        out.append(env)
    out.append(os.path.join(_HERE, "libhelenus.so"))
    out.append(os.path.join(_HERE, "..", "..", "build", "release", "libhelenus.so"))
    return out


def _load() -> tuple[ctypes.CDLL, str]:
    tried = []
    for path in _candidates():
        path = os.path.abspath(path)
        if os.path.isfile(path):
            return ctypes.CDLL(path), path
        tried.append(path)
    raise ImportError("libhelenus.so not found (set HELENUS_LIB, or build it: "
                      "cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && "
                      "ninja -C build/release helenus_shared); tried: " + ", ".join(tried))


LIB, LIB_PATH = _load()


class hln_value(ctypes.Structure):
    """``hln_value`` of helenus.h (only used by callers of hln_exec with values)."""
    _fields_ = [("data", c_void_p), ("len", c_int32), ("buf", c_uint8 * 16)]


class hln_open_options(ctypes.Structure):
    _fields_ = [("shards", c_int), ("sync_batch", c_int)]


def _proto(name: str, restype, *argtypes) -> None:
    f = getattr(LIB, name)
    f.restype = restype
    f.argtypes = list(argtypes)


P = c_void_p
_proto("hln_open", c_int, c_char_p, POINTER(hln_open_options), POINTER(c_void_p))
_proto("hln_close", c_int, P)
_proto("hln_db_errmsg", c_char_p, P)
_proto("hln_cql_error_code", c_int, c_int)
_proto("hln_db_keyspace", c_size_t, P, c_char_p, c_size_t)
_proto("hln_exec", c_int, P, c_char_p, POINTER(hln_value), c_int, POINTER(c_void_p))
_proto("hln_prepare", c_int, P, c_char_p, POINTER(c_void_p))
_proto("hln_stmt_binds", c_int, P)
_proto("hln_stmt_bind_name", c_char_p, P, c_int)
_proto("hln_stmt_bind_type", c_char_p, P, c_int)
_proto("hln_stmt_bind_spec", c_int, P, c_int, c_char_p, c_size_t)
_proto("hln_stmt_exec_packed", c_int, P, c_char_p, c_size_t, c_int, POINTER(c_void_p))
_proto("hln_stmt_free", None, P)
_proto("hln_serve", c_int, P, c_char_p, c_int, POINTER(c_int))
_proto("hln_serve_stop", None, P)
_proto("hln_result_kind", c_int, P)
_proto("hln_result_columns", c_int, P)
_proto("hln_result_column_name", c_char_p, P, c_int)
_proto("hln_result_column_type", c_char_p, P, c_int)
_proto("hln_result_column_spec", c_int, P, c_int, c_char_p, c_size_t)
_proto("hln_result_meta", c_int, P, c_char_p, c_size_t)
_proto("hln_result_rows", c_int, P)
_proto("hln_result_packed", c_int, P, POINTER(c_void_p), POINTER(c_size_t))
_proto("hln_result_column_copy", c_int, P, c_int, c_void_p, c_size_t, c_void_p)
_proto("hln_result_int64", c_int64, P, c_int)
_proto("hln_result_double", c_double, P, c_int)
_proto("hln_result_free", None, P)


def spec_string(fn, handle, i: int) -> str:
    """Calls one of the snprintf-like *_spec functions, growing the buffer."""
    n = 256
    while True:
        buf = ctypes.create_string_buffer(n)
        need = fn(handle, i, buf, n)
        if need < 0:
            raise ValueError("no type for index %d" % i)
        if need < n:
            return buf.value.decode()
        n = need + 1
