"""qlock.Manager: multiprocessing.Manager()'s factory methods, each making
an object under a fresh unique name on the daemon."""
import itertools
import os
import uuid

from . import dicts, lists, queues, synchronize
from .client import Client, get_client


class Manager:
    """``multiprocessing.Manager()`` over qlockd:
    ``Manager(address=None, authkey=None)``.

    There is no server process to start; ``start()``, ``shutdown()`` and
    ``with`` work as multiprocessing's do, and ``shutdown()`` (or leaving
    the ``with``) deletes the objects this manager made.
    """

    def __init__(self, address=None, authkey=None):
        if address is None and authkey is None:
            self._client = get_client()
        else:
            self._client = Client(address, authkey)
        self._prefix = "qlock.mgr.%s." % uuid.uuid4().hex
        self._count = itertools.count()
        self._made = []
        self._pid = os.getpid()

    @property
    def address(self):
        return self._client.address

    def _name(self):
        name = "%s%d" % (self._prefix, next(self._count))
        self._made.append(name)
        return name

    def start(self, initializer=None, initargs=()):
        """Check that the daemon answers (there is nothing to start)."""
        if initializer is not None:
            initializer(*initargs)
        self._client.ping()

    def connect(self):
        self._client.ping()

    def shutdown(self):
        """Delete the objects this manager made."""
        if os.getpid() != self._pid:
            return
        made, self._made = self._made, []
        for name in made:
            for n in (name, name + ".lock", name + ".action"):
                try:
                    self._client.delete(n)
                except Exception:
                    pass

    def join(self, timeout=None):
        pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def Queue(self, maxsize=0):
        return queues.Queue(self._name(), maxsize, client=self._client)

    def JoinableQueue(self, maxsize=0):
        return queues.JoinableQueue(self._name(), maxsize,
                                    client=self._client)

    def Lock(self):
        return synchronize.Lock(self._name(), client=self._client)

    def RLock(self):
        return synchronize.RLock(self._name(), client=self._client)

    def Semaphore(self, value=1):
        return synchronize.Semaphore(self._name(), value,
                                     client=self._client)

    def BoundedSemaphore(self, value=1):
        return synchronize.BoundedSemaphore(self._name(), value,
                                            client=self._client)

    def Event(self):
        return synchronize.Event(self._name(), client=self._client)

    def Condition(self, lock=None):
        return synchronize.Condition(self._name(), lock,
                                     client=self._client)

    def Barrier(self, parties, action=None, timeout=None):
        return synchronize.Barrier(self._name(), parties, action, timeout,
                                   client=self._client)

    def dict(self, *args, **kwargs):
        return dicts.Dict(self._name(), *args, client=self._client,
                          **kwargs)

    def list(self, sequence=()):
        return lists.List(self._name(), sequence, client=self._client)

    def Value(self, typecode, value, lock=True):
        return dicts.Value(self._name(), typecode, value, lock=lock,
                           client=self._client)

    def Namespace(self, **kwargs):
        return dicts.Namespace(self._name(), client=self._client, **kwargs)
