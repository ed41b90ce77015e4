"""The daemon's error codes (docs/PROTOCOL.md) as Python exceptions.

Each code is a subclass of :class:`Error` and, where one fits, of the
built-in exception Python code already catches (``KeyError`` for
``NoKey``, ``ValueError`` for ``Value`` and ``Inval``, ...).  The objects
translate the codes that ``multiprocessing`` has its own exceptions for
(``queue.Empty``, ``threading.BrokenBarrierError``, ...).
"""
import multiprocessing


class Error(Exception):
    """An error answered by qlockd (or met on the way to it)."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class EmptyError(Error):
    """Empty: nothing to get in time."""


class FullError(Error):
    """Full: no room in time."""


class TimeoutError_(Error):
    """Timeout: acquire, wait or join did not succeed in time."""


class AuthError(Error, multiprocessing.AuthenticationError):
    """The authkey is missing, or refused by either side."""


class ConnError(Error, ConnectionError):
    """Cannot connect, or the connection broke."""


class ProtoError(Error):
    """Proto or NoMethod: a malformed request or reply."""


class WrongTypeError(Error, TypeError):
    """Type: the name is another kind of object."""


class NotOwnerError(Error):
    """NotOwner: release, wait or notify without holding the lock."""


class ValueError_(Error, ValueError):
    """Value: over-release, task_done too often, overflow."""


class BrokenError(Error):
    """Broken: the barrier is broken, aborted or reset."""


class NoKeyError(Error, KeyError):
    """NoKey: the dict key is absent."""

    def __str__(self):
        return Exception.__str__(self)


class LimitError(Error):
    """Limit: too large, nested too deep, or the daemon's disk is full."""


class InvalError(Error, ValueError):
    """Inval: a bad argument, or a re-open with other settings."""


class NoEntError(Error, LookupError):
    """NoEnt: used before it was opened, or deleted while waited on."""


class UnavailError(Error):
    """Unavail: the worker died with the request in flight, or the daemon
    is stopping; the outcome is unknown."""


class NotLeaderError(Error):
    """NotLeader: in a cluster, this node does not lead the object's shard;
    nothing was done.  A Client follows the leaders and sends the request
    again; this is raised only when no leader served it in time."""


CODES = {
    "Empty": EmptyError, "Full": FullError, "Timeout": TimeoutError_,
    "Auth": AuthError, "Proto": ProtoError, "NoMethod": ProtoError,
    "Type": WrongTypeError, "NotOwner": NotOwnerError, "Value": ValueError_,
    "Broken": BrokenError, "NoKey": NoKeyError, "Limit": LimitError,
    "Inval": InvalError, "NoEnt": NoEntError, "Unavail": UnavailError,
    "NotLeader": NotLeaderError,
}


def from_wire(error):
    """The exception for a reply's ``[code, message]``."""
    try:
        code, message = error
    except (TypeError, ValueError):
        return ProtoError("Proto", "malformed error %r" % (error,))
    return CODES.get(code, Error)(code, message)
