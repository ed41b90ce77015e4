"""Dict (a MutableMapping), Value and Namespace over the daemon's dicts.

The daemon's dict keys are str, bytes and integers: those are themselves
(a str starting with NUL excepted), any other hashable key is pickled into
a NUL-prefixed string.
Values are encoded as queue items are; ints stay the daemon's integers,
so Value('i', ...) and dict.incr share them with C programs.
"""
import base64
import pickle
from collections.abc import MutableMapping

from . import _wire, errors
from .synchronize import RLock, _Named


def _key(k):
    # str, bytes and 64-bit ints are the daemon's own keys (shared with C
    # programs); bools are ints, as in Python; anything else is pickled.
    t = type(k)
    if (t is str and not k.startswith("\0")) or t is bytes:
        return k
    if t is bool:
        return int(k)
    if t is int and -2**63 <= k < 2**64:
        return k
    return "\0" + base64.b64encode(pickle.dumps(k, 4)).decode()


def _unkey(k):
    if isinstance(k, str) and k.startswith("\0"):
        return pickle.loads(base64.b64decode(k[1:]))
    return k


class Dict(_Named, MutableMapping):
    """``Manager().dict()``, named: ``Dict(name)``; opening a name does
    not clear it.  Every method is one atomic step on the daemon, and
    keys come in insertion order, as Python's."""

    def __init__(self, name, *args, client=None, **kwargs):
        _Named.__init__(self, name, client)
        if args or kwargs:
            self.update(*args, **kwargs)

    def _restore(self):
        pass

    def __getitem__(self, key):
        try:
            return self._call("dict.get", _key(key))
        except errors.NoKeyError:
            raise KeyError(key) from None

    def __setitem__(self, key, value):
        self._call("dict.set", _key(key), _wire.encode(value))

    def __delitem__(self, key):
        try:
            self._call("dict.del", _key(key))
        except errors.NoKeyError:
            raise KeyError(key) from None

    def __len__(self):
        return self._call("dict.len")

    def __iter__(self):
        return _DictIter(self)

    def __contains__(self, key):
        try:
            self[key]
        except KeyError:
            return False
        return True

    def keys(self):
        """A list of the keys (a snapshot, as a Manager dict proxy's)."""
        return [_unkey(k) for k in self._call("dict.keys")]

    def items(self):
        """A list of (key, value) pairs, in insertion order."""
        return [(_unkey(k), v) for k, v in self._call("dict.items")]

    def values(self):
        """A list of the values, in insertion order."""
        return self._call("dict.values")

    def copy(self):
        """A plain dict of the items."""
        return dict(self.items())

    def clear(self):
        """Delete every key, in one step."""
        self._call("dict.clear")

    def pop(self, key, *default):
        """Remove key and return its value (or default if absent)."""
        if len(default) > 1:
            raise TypeError("pop expected at most 2 arguments, got %d" %
                            (1 + len(default)))
        try:
            return self._call("dict.pop", _key(key))
        except errors.NoKeyError:
            if default:
                return default[0]
            raise KeyError(key) from None

    def popitem(self):
        """Remove and return the last inserted (key, value) pair."""
        try:
            k, v = self._call("dict.popitem")
        except errors.NoKeyError:
            raise KeyError("popitem(): dictionary is empty") from None
        return _unkey(k), v

    def setdefault(self, key, default=None):
        """d[key] if present, else set it to default; in one step."""
        return self._call("dict.setdefault", _key(key),
                          _wire.encode(default))

    def update(self, *args, **kwargs):
        """Set many pairs in one step, as dict.update."""
        if len(args) > 1:
            raise TypeError("update expected at most 1 argument, got %d" %
                            len(args))
        pairs = []
        if args:
            other = args[0]
            if hasattr(other, "keys"):
                pairs = [(k, other[k]) for k in other.keys()]
            else:
                pairs = [tuple(kv) for kv in other]
        pairs += kwargs.items()
        if pairs:
            self._call("dict.update", [[_key(k), _wire.encode(v)]
                                       for k, v in pairs])

    def incr(self, key, delta=1):
        """Add delta to the integer at key (absent counts as 0),
        atomically; return the new value."""
        return self._call("dict.incr", _key(key), delta)

    def cas(self, key, expected, new):
        """Store new if the value is expected (None: the key is absent);
        True if it did."""
        if expected is not None:
            expected = _wire.encode(expected)
        return bool(self._call("dict.cas", _key(key), expected,
                               _wire.encode(new)))

    def __repr__(self):
        return "<qlock.Dict %r %r>" % (self._name, self.copy())

    def __eq__(self, other):
        if isinstance(other, Dict):
            other = other.copy()
        return self.copy() == other

    __hash__ = None


class _DictIter:
    """Iterates over a snapshot of the keys and, as a Python dict's
    iterator, raises RuntimeError once the dict's size has changed (it
    asks the daemon at each step, as a Manager dict's iterator does)."""

    def __init__(self, d):
        self._dict = d
        self._keys = d.keys()
        self._size = len(self._keys)
        self._next = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._dict is None:
            raise StopIteration
        if self._size < 0 or len(self._dict) != self._size:
            self._size = -1
            raise RuntimeError("dictionary changed size during iteration")
        if self._next >= len(self._keys):
            self._dict = None
            raise StopIteration
        self._next += 1
        return self._keys[self._next - 1]


class Value(_Named):
    """``multiprocessing.Value``, named: ``Value(name, typecode, value,
    lock=True)``.  The value lives in a dict called name (key "value");
    the first opener sets it.  ``get_lock()`` is an RLock called
    name + ".lock"; ``value += 1`` is atomic only under it, as in
    multiprocessing."""

    def __init__(self, name, typecode_or_type, *args, lock=True,
                 client=None):
        super().__init__(name, client)
        value = args[0] if args else _zero(typecode_or_type)
        self._restore(typecode_or_type, lock)
        self._call("dict.cas", "value", None, _wire.encode(value))

    def _restore(self, typecode, lock):
        self._typecode = typecode
        self._lockopt = lock
        if lock is True:
            self._lock = RLock(self._name + ".lock", client=self._client)
        elif lock is False:
            self._lock = None
        else:
            self._lock = lock

    def _settings(self):
        return (self._typecode, self._lockopt)

    @property
    def value(self):
        return self._call("dict.get", "value")

    @value.setter
    def value(self, v):
        self._call("dict.set", "value", _wire.encode(v))

    def get_lock(self):
        """The RLock guarding the value."""
        if self._lock is None:
            raise AttributeError("'Value' created with lock=False has no "
                                 "lock")
        return self._lock

    def get_obj(self):
        return self

    def acquire(self, *args):
        return self.get_lock().acquire(*args)

    def release(self):
        return self.get_lock().release()

    def __enter__(self):
        return self.get_lock().__enter__()

    def __exit__(self, *exc):
        return self.get_lock().__exit__(*exc)

    def __repr__(self):
        return "<qlock.Value %r %r>" % (self._typecode, self.value)


def _zero(typecode):
    if typecode in ("f", "d"):
        return 0.0
    if typecode == "c":
        return b"\0"
    if typecode == "u":
        return "\0"
    return 0


class Namespace:
    """``Manager().Namespace()``: attributes kept in a Dict called name."""

    def __init__(self, name, *, client=None, **kwargs):
        object.__setattr__(self, "_dict", Dict(name, client=client))
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __reduce__(self):
        return (_rebuild_namespace, (self._dict,))

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return self._dict[attr]
        except KeyError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr, value):
        if attr.startswith("_"):
            object.__setattr__(self, attr, value)
        else:
            self._dict[attr] = value

    def __delattr__(self, attr):
        try:
            del self._dict[attr]
        except KeyError:
            raise AttributeError(attr) from None

    def __repr__(self):
        items = sorted(self._dict.items())
        return "Namespace(%s)" % ", ".join("%s=%r" % kv for kv in items)


def _rebuild_namespace(d):
    ns = Namespace.__new__(Namespace)
    object.__setattr__(ns, "_dict", d)
    return ns
