"""
errors.py — the exceptions the package raises for engine errors.

What: one class per native-protocol error code, all under ``Error``, each
carrying the CQL error ``code`` (0x2200 ...), the engine's result code
``rc`` (HLN_E*, negative) and the message as Cassandra words it.

Why the protocol's codes: code written against cassandra-driver catches
InvalidRequest, AlreadyExists and friends; the same names here mean the same
failures, whether a statement ran embedded or over the wire.

Invariant: ``error_for(rc, msg)`` always returns an ``Error`` instance;
codes without a class of their own give ``Error`` itself.
"""
from __future__ import annotations


class Error(Exception):
    """An error reported by the engine."""

    code: int = -1

    def __init__(self, message: str, code: int | None = None, rc: int = 0):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.rc = rc

    def __str__(self) -> str:
        return "Error from Helenus: code=%04x [%s] message=\"%s\"" % (
            self.code & 0xFFFF, type(self).__name__, self.message)


class ServerError(Error):
    code = 0x0000


class ProtocolError(Error):
    code = 0x000A


class AuthenticationFailed(Error):
    code = 0x0100


class Overloaded(Error):
    code = 0x1001


class WriteTimeout(Error):
    code = 0x1100


class FunctionFailure(Error):
    code = 0x1400


class SyntaxError(Error):  # noqa: A001 - Cassandra's name for 0x2000
    code = 0x2000


class Unauthorized(Error):
    code = 0x2100


class InvalidRequest(Error):
    code = 0x2200


class ConfigurationException(Error):
    code = 0x2300


class AlreadyExists(Error):
    code = 0x2400


class Unprepared(Error):
    code = 0x2500


_BY_CODE = {c.code: c for c in (ServerError, ProtocolError, AuthenticationFailed,
                                Overloaded, WriteTimeout, FunctionFailure, SyntaxError, Unauthorized, InvalidRequest,
                                ConfigurationException, AlreadyExists, Unprepared)}


def error_for(code: int, rc: int, message: str) -> Error:
    """The exception for a CQL error code (an Error subclass when known)."""
    cls = _BY_CODE.get(code, Error)
    return cls(message, code, rc)
