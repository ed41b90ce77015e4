"""qlock.List: a Manager().list() stand-in, one Python list on the daemon.

The list is one value (pickled) in a dict called name, key "items"; every
change reads, changes and writes it back under an RLock called
name + ".lock", so it is atomic but costs the whole list each time.  Meant
for small shared lists, as a Manager's list is used."""
from collections.abc import MutableSequence

from . import _wire
from .synchronize import RLock, _Named

_ITEMS = "items"


class List(_Named, MutableSequence):
    """``multiprocessing.Manager().list()``, named: ``List(name,
    sequence=())``.  The first opener's sequence is stored; later openers
    share what is there."""

    def __init__(self, name, sequence=(), *, client=None):
        super().__init__(name, client)
        self._restore()
        self._call("dict.cas", _ITEMS, None, _wire.encode(list(sequence)))

    def _restore(self):
        self._lock = RLock(self._name + ".lock", client=self._client)

    def _get(self):
        items = self._call("dict.get", _ITEMS)
        return list(items) if items is not None else []

    def _change(self, fn):
        # fn(items) changes the list in place and returns the result.
        with self._lock:
            items = self._get()
            result = fn(items)
            self._call("dict.set", _ITEMS, _wire.encode(items))
        return result

    def __getitem__(self, i):
        return self._get()[i]

    def __setitem__(self, i, value):
        def set_(items):
            items[i] = value
        self._change(set_)

    def __delitem__(self, i):
        def del_(items):
            del items[i]
        self._change(del_)

    def __len__(self):
        return len(self._get())

    def __iter__(self):
        # As a Manager list's iterator: each step reads the list anew.
        i = 0
        while True:
            try:
                yield self[i]
            except IndexError:
                return
            i += 1

    def insert(self, i, value):
        self._change(lambda items: items.insert(i, value))

    def append(self, value):
        self._change(lambda items: items.append(value))

    def extend(self, values):
        values = list(values)
        self._change(lambda items: items.extend(values))

    def pop(self, i=-1):
        return self._change(lambda items: items.pop(i))

    def remove(self, value):
        self._change(lambda items: items.remove(value))

    def clear(self):
        self._change(lambda items: items.clear())

    def reverse(self):
        self._change(lambda items: items.reverse())

    def sort(self, *, key=None, reverse=False):
        self._change(lambda items: items.sort(key=key, reverse=reverse))

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __imul__(self, n):
        def mul(items):
            items[:] = items * n
        self._change(mul)
        return self

    def __add__(self, other):
        return self._get() + list(other)

    def __radd__(self, other):
        return list(other) + self._get()

    def __mul__(self, n):
        return self._get() * n

    __rmul__ = __mul__

    def __contains__(self, value):
        return value in self._get()

    def index(self, value, *args):
        return self._get().index(value, *args)

    def count(self, value):
        return self._get().count(value)

    def copy(self):
        return self._get()

    def __eq__(self, other):
        if isinstance(other, List):
            other = other._get()
        return self._get() == other

    def __repr__(self):
        return "<qlock.List %r>" % (self._name,)
