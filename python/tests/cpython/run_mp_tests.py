#!/usr/bin/env python3
"""Run CPython's own tests of multiprocessing's manager-based primitives
(Lib/test/_test_multiprocessing.py, the classes it generates for the
'manager' type) with qlock.Manager in place of multiprocessing.Manager(),
against a real qlockd started here with 1 and 3 workers.

The CPython file is imported from the running interpreter's `test`
package (Debian: libpython3.11-testsuite); nothing of it is copied here.
Exit 77 (skip) when it or msgpack is absent.  Failures that are
documented differences (docs/python.md) are listed in EXPECTED below and
run as expected failures, so that the run is green and honest.

    run_mp_tests.py [--workers N ...] [-v] [-k SUBSTRING]
"""
import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.dirname(TESTS))
sys.path.insert(0, TESTS)

SKIP = 77

# The manager-type classes for the primitives qlock provides.
CLASSES = ("WithManagerTestQueue", "WithManagerTestLock",
           "WithManagerTestSemaphore", "WithManagerTestCondition",
           "WithManagerTestEvent", "WithManagerTestBarrier",
           "WithManagerTestContainers")

# test id (Class.method) -> why it fails by design (docs/python.md).
EXPECTED = {
    "WithManagerTestEvent.test_repr":
        "qlock objects are not proxies: repr is <qlock.Event 'name'>",
}


def load(start_method):
    import types
    from test import _test_multiprocessing as tmp
    import qlock

    class Manager(qlock.Manager):
        # What ManagerMixin.tearDownClass asks of multiprocessing's
        # manager: qlock objects are named, not reference-counted, and
        # live until shutdown(), so there is no count to report.
        def _number_of_objects(self):
            return 0

        def _debug_info(self):
            return ""

    def setUpClass(cls):
        tmp.BaseMixin.setUpClass.__func__(cls)
        cls.manager = Manager()

    tmp.ManagerMixin.setUpClass = classmethod(setUpClass)
    mod = types.ModuleType("qlock_cpython_mp")
    sys.modules[mod.__name__] = mod
    tmp.install_tests_in_module_dict(mod.__dict__, start_method)
    return mod


def suite_of(mod, pattern):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cname in CLASSES:
        cls = getattr(mod, cname, None)
        if cls is None:
            continue
        for test in loader.loadTestsFromTestCase(cls):
            tid = "%s.%s" % (cname, test._testMethodName)
            if pattern and pattern not in tid:
                continue
            if tid in EXPECTED:
                meth = getattr(cls, test._testMethodName)
                if not getattr(meth, "__unittest_expecting_failure__", 0):
                    setattr(cls, test._testMethodName,
                            unittest.expectedFailure(meth))
            suite.addTest(test)
    return suite


class Counts(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.per = {}

    def _bump(self, test, what):
        c = self.per.setdefault(type(test).__name__, {
            "pass": 0, "fail": 0, "skip": 0, "xfail": 0, "xpass": 0})
        c[what] += 1

    def addSuccess(self, test):
        super().addSuccess(test)
        self._bump(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bump(test, "fail")

    def addError(self, test, err):
        super().addError(test, err)
        self._bump(test, "fail")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._bump(test, "skip")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._bump(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._bump(test, "xpass")


def daemon_class():
    """conftest's Daemon; conftest's fixtures need pytest, which an
    interpreter without it gets as a stand-in (only its decorator)."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        import types
        stub = types.ModuleType("pytest")
        stub.fixture = lambda *a, **kw: (
            a[0] if a and callable(a[0]) else (lambda f: f))
        sys.modules["pytest"] = stub
    from conftest import Daemon
    return Daemon


def run_one(mod, workers, keyfile, args):
    Daemon = daemon_class()
    tmpdir = tempfile.mkdtemp(prefix="qlock-cpython.")
    d = Daemon(workers, tmpdir, keyfile)
    os.environ["QLOCK_ADDRESS"] = d.address
    os.environ["QLOCK_AUTHKEY_FILE"] = keyfile
    os.environ.pop("QLOCK_AUTHKEY", None)
    try:
        suite = suite_of(mod, args.k)
        runner = unittest.TextTestRunner(
            verbosity=2 if args.v else 1, resultclass=Counts,
            stream=sys.stdout)
        t0 = time.monotonic()
        mod.setUpModule()
        try:
            res = runner.run(suite)
        finally:
            mod.tearDownModule()
        print("workers=%d: %.1fs" % (workers, time.monotonic() - t0))
        for cname in sorted(res.per):
            c = res.per[cname]
            print("  %-28s pass %3d  fail %3d  skip %3d  xfail %3d  "
                  "xpass %d" % (cname, c["pass"], c["fail"], c["skip"],
                                c["xfail"], c["xpass"]))
        return res.wasSuccessful() and not res.unexpectedSuccesses
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 3])
    ap.add_argument("--start-method", default="fork")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("-k", default=None)
    args = ap.parse_args()
    try:
        import msgpack  # noqa: F401
        import test._test_multiprocessing  # noqa: F401
    except ImportError as e:
        print("SKIP: %s (Debian: libpython3.%d-testsuite, python3-msgpack)"
              % (e, sys.version_info[1]))
        return SKIP
    mod = load(args.start_method)
    keydir = tempfile.mkdtemp(prefix="qlock-cpython-key.")
    keyfile = os.path.join(keydir, "key")
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, secrets.token_hex(32).encode() + b"\n")
    os.close(fd)
    ok = True
    try:
        for w in args.workers:
            ok = run_one(mod, w, keyfile, args) and ok
    finally:
        shutil.rmtree(keydir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
