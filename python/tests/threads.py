"""Test helper: a call in another thread, which has a session of its own."""
import threading


def in_thread(fn, *args):
    """Run fn in a thread; return a function that joins it (bounded) and
    gives its result or raises its exception."""
    out = []

    def run():
        try:
            out.append((True, fn(*args)))
        except BaseException as e:
            out.append((False, e))
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def result(timeout=10):
        t.join(timeout)
        assert out, "thread still running after %s s" % timeout
        ok, v = out[0]
        if not ok:
            raise v
        return v
    return result
