"""qlock: multiprocessing's queues, locks and friends, across programs
and machines, served by qlockd.

    import qlock
    q = qlock.JoinableQueue("jobs")          # multiprocessing.JoinableQueue()
    with qlock.Lock("nightly"):               # multiprocessing.Lock()
        ...
    m = qlock.Manager()                      # multiprocessing.Manager()

The daemon is found at $QLOCK_ADDRESS with the key $QLOCK_AUTHKEY or
$QLOCK_AUTHKEY_FILE, or as given to qlock.Client(address, authkey) and
passed to any object as client=.  See docs/python.md.
"""
from .client import Client, get_client
from .dicts import Dict, Namespace, Value
from .errors import Error
from .lists import List
from .manager import Manager
from .queues import JoinableQueue, Queue
from .synchronize import (Barrier, BoundedSemaphore, Condition, Event, Lock,
                          RLock, Semaphore)

__version__ = "0.1.0"
__all__ = [
    "Barrier", "BoundedSemaphore", "Client", "Condition", "Dict", "Error",
    "Event", "JoinableQueue", "List", "Lock", "Manager", "Namespace",
    "Queue", "RLock", "Semaphore", "Value", "get_client",
]
