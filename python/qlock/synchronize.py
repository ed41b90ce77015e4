"""Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier.

Each takes the object's name first, then exactly ``multiprocessing``'s
arguments, plus the keyword ``client=`` (default: the environment's).  A
hold belongs to the connection of the thread that took it, and the daemon
gives it back when that thread's connection ends (its process dies).
"""
import threading
import time

from . import _wire, errors
from .client import get_client


class _Named:
    """A named qlockd object: name, client and settings; pickles to them."""

    _kind = None

    def __init__(self, name, client=None):
        if not isinstance(name, str) or not name:
            raise ValueError("a name is a non-empty str")
        self._name = name
        self._client = client if client is not None else get_client()

    @property
    def name(self):
        """The object's name on the daemon."""
        return self._name

    def _settings(self):
        return ()

    def __reduce__(self):
        return (_rebuild, (type(self), self._name, self._client,
                           self._settings()))

    def __repr__(self):
        return "<qlock.%s %r>" % (type(self).__name__, self._name)

    def _call(self, method, *params, undo=None):
        return self._client.call(method, self._name, *params, undo=undo)

    def _take(self, method, give_back, block, timeout):
        """An acquire: (True, result) once taken, (False, None) if not in
        time.  A grant that comes after Ctrl-C gave up on it is given back
        with the method give_back."""
        def undo(conn, error, result):
            if error is None:
                self._forget(conn, give_back)
        try:
            result = self._call(method, _wire.timeout(block, timeout),
                                undo=undo)
        except errors.TimeoutError_:
            return False, None
        self._held(1)
        return True, result

    def _forget(self, conn, method):
        # Send method for this object; its answer is dropped.
        conn.forget(method, self._name)

    def _held(self, n):
        # Count what this thread's session holds (see Connection.call).
        conn = self._client.connection(self._name)
        conn.holds = max(0, conn.holds + n)


def _rebuild(cls, name, client, settings):
    obj = cls.__new__(cls)
    _Named.__init__(obj, name, client)
    obj._restore(*settings)
    return obj




def _open_args(giveback):
    # The wire's optional last giveback flag, sent only when false.
    return () if giveback else (False,)


class _LockBase(_Named):
    _recursive = False

    def __init__(self, name, *, client=None, giveback=True):
        super().__init__(name, client)
        self._restore(giveback)
        self._call("lock.open", self._recursive, *_open_args(giveback))

    def _restore(self, giveback=True):
        self._token = None
        self._giveback = giveback

    def _settings(self):
        return (self._giveback,)

    def _held(self, n):
        if self._giveback:
            super()._held(n)

    def acquire(self, block=True, timeout=None):
        """Take the lock: True, or False if not taken in time."""
        got, token = self._take("lock.acquire", "lock.release", block,
                                timeout)
        if got:
            self._token = token
        return got

    def release(self):
        """Give the lock back."""
        try:
            self._call("lock.release")
        except errors.NotOwnerError:
            self._not_owner()
        self._held(-1)

    def _not_owner(self):
        raise ValueError("semaphore or lock released too many times")

    @property
    def token(self):
        """The fencing token of the latest hold taken through this object:
        strictly increasing per lock name, so a resource that remembers
        the highest token it saw can refuse a stale holder."""
        return self._token

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class Lock(_LockBase):
    """``multiprocessing.Lock``, named: ``Lock(name, *, client=None,
    giveback=True)``.  With ``giveback=False`` the lock is
    multiprocessing's: a hold outlives its process, and any process may
    release it."""


class RLock(_LockBase):
    """``multiprocessing.RLock``, named: re-entrant for the thread (the
    connection) holding it."""

    _recursive = True

    def _not_owner(self):
        raise AssertionError("attempt to release recursive lock not owned "
                             "by thread")


class Semaphore(_Named):
    """``multiprocessing.Semaphore``: ``Semaphore(name, value=1)``.

    The first opener sets the value; a later open with another value
    raises ValueError.  With ``giveback=False`` a permit taken stays taken
    when its process dies, as in multiprocessing.
    """

    _bounded = False

    def __init__(self, name, value=1, *, client=None, giveback=True):
        super().__init__(name, client)
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._restore(value, giveback)
        self._call("sem.open", value, self._bounded, *_open_args(giveback))

    def _restore(self, value, giveback=True):
        self._value = value
        self._giveback = giveback

    def _settings(self):
        return (self._value, self._giveback)

    def _held(self, n):
        if self._giveback:
            super()._held(n)

    def acquire(self, block=True, timeout=None):
        """Take a permit: True, or False if none came in time."""
        return self._take("sem.acquire", "sem.release", block, timeout)[0]

    def release(self):
        """Give a permit back (any process may)."""
        try:
            self._call("sem.release")
        except errors.ValueError_:
            raise ValueError("semaphore or lock released too many times") \
                from None
        self._held(-1)

    def get_value(self):
        """The number of free permits."""
        return self._call("sem.value")

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class BoundedSemaphore(Semaphore):
    """``multiprocessing.BoundedSemaphore``: release past the initial
    value raises ValueError."""

    _bounded = True


class Event(_Named):
    """``multiprocessing.Event``, named: ``Event(name)``."""

    def __init__(self, name, *, client=None):
        super().__init__(name, client)

    def _restore(self):
        pass

    def is_set(self):
        """True if the flag is set."""
        return bool(self._call("event.is_set"))

    def set(self):
        """Set the flag and wake every waiter."""
        self._call("event.set")

    def clear(self):
        """Clear the flag."""
        self._call("event.clear")

    def wait(self, timeout=None):
        """Wait until the flag is set; return the flag (False on time-out)."""
        try:
            self._call("event.wait", _wire.timeout(True, timeout))
        except errors.TimeoutError_:
            return False
        return True


class Condition(_Named):
    """``multiprocessing.Condition``, named: ``Condition(name, lock=None)``.

    Without ``lock`` the condition has its own RLock on the daemon; with a
    qlock.Lock or RLock it uses that one.  The condition then lives on the
    lock's worker: its name on the wire gets the lock's hash tag
    (``name{L}`` for a lock ``L``, see docs/PROTOCOL.md).
    """

    def __init__(self, name, lock=None, *, client=None):
        super().__init__(name, client)
        if lock is not None and not isinstance(lock, _LockBase):
            raise TypeError("lock must be a qlock.Lock or qlock.RLock")
        self._restore(lock)

    def _restore(self, lock=None):
        self._lock = lock
        self._wire_name = self._name
        if lock is not None:
            self._wire_name = _colocated(self._name, lock.name)
        self._waits = threading.local()    # an interrupted wait, per thread

    def _settings(self):
        return (self._lock,)

    def _call(self, method, *params, undo=None):
        # Over a lock: the condition's name made to share the lock's
        # worker, and the lock's name last (docs/PROTOCOL.md).
        if self._lock is not None:
            params += (self._lock.name,)
        return self._client.call(method, self._wire_name, *params,
                                 undo=undo)

    def _forget(self, conn, method):
        lock = () if self._lock is None else (self._lock.name,)
        conn.forget(method, self._wire_name, *lock)

    def acquire(self, block=True, timeout=None):
        """Take the condition's lock: True, or False if not in time."""
        return self._take("cond.acquire", "cond.release", block,
                          timeout)[0]

    def release(self):
        """Release the condition's lock once."""
        pending = getattr(self._waits, "pending", None)
        if pending is not None:
            # The lock comes back with an interrupted wait's late answer:
            # release it then (see wait).
            self._waits.pending = None
            if not pending["answered"]:
                pending["release"] = True
                self._held(-1)
                return
        try:
            self._call("cond.release")
        except errors.NotOwnerError:
            if self._lock is not None:
                self._lock._not_owner()
            raise AssertionError("attempt to release recursive lock not "
                                 "owned by thread") from None
        self._held(-1)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def wait(self, timeout=None):
        """Release the lock, wait to be notified, hold it again; False if
        the time ran out first."""
        # Ctrl-C cancels the wait; the cancel is answered once the lock
        # is held again, so KeyboardInterrupt comes with the lock held, as
        # threading's.  If the wait stays parked (it was notified first,
        # a second Ctrl-C, a daemon without cancel), the lock is held
        # again when it is answered, and a release() before that is done
        # then.
        state = {"answered": False, "release": False}

        def undo(conn, error, result):
            state["answered"] = True
            if state["release"] and (error is None or
                                     error[0] == "Timeout"):
                self._forget(conn, "cond.release")
        try:
            self._call("cond.wait", _wire.timeout(True, timeout), undo=undo)
        except errors.TimeoutError_:
            return False
        except errors.NotOwnerError:
            raise AssertionError("must acquire() condition before using "
                                 "wait()") from None
        except KeyboardInterrupt:
            conn = self._client.connection(self._name)
            if any(u is undo for u in conn.abandoned.values()):
                self._waits.pending = state     # still parked
            raise
        return True

    def wait_for(self, predicate, timeout=None):
        """Wait until predicate() is true (as threading.Condition does)."""
        result = predicate()
        if result:
            return result
        endtime = None if timeout is None else time.monotonic() + timeout
        while not result:
            waittime = None
            if endtime is not None:
                waittime = endtime - time.monotonic()
                if waittime <= 0:
                    break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n=1):
        """Wake at most n waiters, oldest first."""
        try:
            self._call("cond.notify", n)
        except errors.NotOwnerError:
            raise AssertionError("lock is not owned") from None

    def notify_all(self):
        """Wake every waiter."""
        try:
            self._call("cond.notify_all")
        except errors.NotOwnerError:
            raise AssertionError("lock is not owned") from None


def _colocated(name, lockname):
    """name, with the hash tag that puts it on lockname's worker: the text
    in lockname's first non-empty {...}, else all of lockname."""
    tag = _tag(lockname)
    if tag is None:
        tag = lockname
    if _tag(name) == tag:
        return name
    if _tag(name) is not None or "{" in tag or "}" in tag:
        raise ValueError("cannot place condition %r beside lock %r: name "
                         "them with one hash tag, as cond{L} and {L}"
                         % (name, lockname))
    return "%s{%s}" % (name, tag)


def _tag(name):
    # The daemon hashes only the text inside the first {...} if not empty.
    i = name.find("{")
    j = name.find("}", i + 1) if i >= 0 else -1
    if i < 0 or j <= i + 1:
        return None
    return name[i + 1:j]


class Barrier(_Named):
    """``multiprocessing.Barrier``: ``Barrier(name, parties, action=None,
    timeout=None)``.  ``action`` is run by the party that arrives last,
    before any party returns, as threading's: with an action, every party
    then meets again at a second barrier, ``name + ".action"``, which the
    others reach only after the action ran (see docs/python.md)."""

    def __init__(self, name, parties, action=None, timeout=None, *,
                 client=None):
        super().__init__(name, client)
        if parties < 1:
            raise ValueError("parties must be >= 1")
        self._restore(parties, action, timeout)
        self._call("barrier.open", parties)
        if action is not None:
            self._client.call("barrier.open", self._act_name, parties)

    @property
    def _act_name(self):
        return self._name + ".action"

    def _restore(self, parties, action, timeout):
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._broken = False

    def _settings(self):
        return (self._parties, self._action, self._timeout)

    def wait(self, timeout=None):
        """Wait for all parties; return this party's index (0..parties-1,
        in arrival order).  Raises threading.BrokenBarrierError."""
        if timeout is None:
            timeout = self._timeout
        try:
            index = self._call("barrier.wait", _wire.timeout(True, timeout))
        except errors.BrokenError:
            self._broken = True
            raise threading.BrokenBarrierError from None
        except KeyboardInterrupt:
            # As threading's: an interrupted wait breaks the barrier.
            self._break_quietly()
            raise
        self._broken = False
        if self._action is None:
            return index
        if index == self._parties - 1:
            try:
                self._action()
            except BaseException:
                self.abort()
                raise
        try:
            self._client.call("barrier.wait", self._act_name,
                              _wire.timeout(True, timeout))
        except errors.BrokenError:
            # The action failed, or a party timed out or aborted.
            self._break_quietly()
            raise threading.BrokenBarrierError from None
        except KeyboardInterrupt:
            self._break_quietly()
            raise
        return index

    def _break_quietly(self):
        try:
            conn = self._client.connection(self._name)
            conn.forget("barrier.abort", self._name)
            if self._action is not None:
                self._client.connection(self._act_name).forget(
                    "barrier.abort", self._act_name)
        except errors.Error:
            pass
        self._broken = True

    def reset(self):
        """Mend the barrier: waiters get BrokenBarrierError."""
        self._call("barrier.reset")
        if self._action is not None:
            self._client.call("barrier.reset", self._act_name)
        self._broken = False

    def abort(self):
        """Break the barrier: every waiter, now and later, gets
        BrokenBarrierError until reset()."""
        self._call("barrier.abort")
        if self._action is not None:
            self._client.call("barrier.abort", self._act_name)
        self._broken = True

    @property
    def parties(self):
        """The number of parties."""
        return self._parties

    def _state(self):
        # barrier.state; None from a daemon without it.
        try:
            return self._call("barrier.state")
        except errors.ProtoError:
            return None

    @property
    def n_waiting(self):
        """The number of parties waiting now."""
        st = self._state()
        if st is not None:
            return st["n_waiting"]
        for entry in self._client.call("list"):     # an older daemon
            if entry.get("kind") == "barrier" and \
                    entry.get("name") == self._name:
                return entry.get("size", 0)
        return 0

    @property
    def broken(self):
        """True if the barrier is broken (with an older daemon: if this
        object saw it broken and not reset)."""
        st = self._state()
        return bool(st["broken"]) if st is not None else self._broken
