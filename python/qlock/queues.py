"""Queue and JoinableQueue, named, with multiprocessing's methods.

Items are any picklable object: None, bools, ints, floats, str and bytes
travel as msgpack's own values (so C programs and qlock(1) share them),
anything else pickled (docs/python.md).
"""
import queue

from . import _wire, errors
from .synchronize import _Named


def _put_back(conn, error, result, name):
    # The late answer to an abandoned get: the item goes back (at the tail).
    if error is None:
        conn.forget("queue.put", name, _wire.encode(result), -1)


class Queue(_Named):
    """``multiprocessing.Queue``, named: ``Queue(name, maxsize=0)``.

    The first opener sets maxsize; opening it again with another maxsize
    raises ValueError.
    """

    _joinable = False

    def __init__(self, name, maxsize=0, *, client=None, giveback=True):
        super().__init__(name, client)
        if maxsize <= 0:
            maxsize = 0
        if not giveback and not self._joinable:
            raise TypeError("giveback applies to a JoinableQueue")
        self._restore(maxsize, giveback)
        self._call("queue.open", maxsize, self._joinable,
                   *([] if giveback else [False]))

    def _restore(self, maxsize, giveback=True):
        self._maxsize = maxsize
        self._giveback = giveback

    def _settings(self):
        return (self._maxsize, self._giveback)

    def _held(self, n):
        if self._giveback:
            super()._held(n)

    def put(self, obj, block=True, timeout=None):
        """Put obj in; queue.Full if no room came in time."""
        try:
            self._call("queue.put", _wire.encode(obj),
                       _wire.timeout(block, timeout))
        except errors.FullError:
            raise queue.Full from None

    def get(self, block=True, timeout=None):
        """Take the oldest item; queue.Empty if none came in time."""
        def undo(conn, error, result, name=self._name):
            _put_back(conn, error, result, name)
        try:
            item = self._call("queue.get", _wire.timeout(block, timeout),
                              undo=undo)
        except errors.EmptyError:
            raise queue.Empty from None
        if self._joinable:
            self._held(1)
        return item

    def put_nowait(self, obj):
        """put(obj, False)."""
        return self.put(obj, False)

    def get_nowait(self):
        """get(False)."""
        return self.get(False)

    def qsize(self):
        """The number of items in the queue."""
        return self._call("queue.size")

    def empty(self):
        """True if the queue holds no item."""
        return self.qsize() == 0

    def full(self):
        """True if a bounded queue has no room."""
        try:
            st = self._call("queue.state")
        except errors.ProtoError:               # an older daemon
            return self._maxsize > 0 and self.qsize() >= self._maxsize
        return st["maxsize"] > 0 and st["size"] >= st["maxsize"]

    def close(self):
        """Nothing to flush: every put is answered once the daemon has it."""

    def join_thread(self):
        """Nothing to join: there is no feeder thread."""

    def cancel_join_thread(self):
        """Nothing to cancel: there is no feeder thread."""


class JoinableQueue(Queue):
    """``multiprocessing.JoinableQueue``, named.  Items a process took
    and did not mark done go back to the head of the queue if it dies;
    with ``giveback=False`` they are gone, as in multiprocessing."""

    _joinable = True

    def task_done(self):
        """Mark one taken item done."""
        try:
            self._call("queue.task_done")
        except errors.ValueError_:
            raise ValueError("task_done() called too many times") from None
        self._held(-1)

    def join(self):
        """Wait until every item put has been marked done."""
        self._call("queue.join", -1)
