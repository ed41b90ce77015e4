"""ha_touch.py: ha_touch.c with the Python package in the tree (its client
for it_ha_refresh.sh): one qlock.Client ($QLOCK_ADDRESS,
$QLOCK_AUTHKEY_FILE) takes lock LOCK and prints "held TOKEN"; then, a line
at a time on stdin, "touch" asks the size of queue NAME ("touched" or
"touch failed: ERROR"), and "release" releases LOCK ("released" or
"release failed: ERROR") and exits, 0 if it was released.
usage: ha_touch.py LOCK NAME"""
import os
import sys

sys.path.insert(0, os.environ["PYPKG"])
import qlock                                    # noqa: E402

client = qlock.Client()
lock = qlock.Lock(sys.argv[1], client=client)
if not lock.acquire(timeout=10):
    sys.exit("acquire: timed out")
print("held %d" % lock.token, flush=True)
for line in sys.stdin:
    if line == "touch\n":
        try:
            qlock.Queue(sys.argv[2], client=client).qsize()
            print("touched", flush=True)
        except qlock.Error as e:
            print("touch failed: %r" % e, flush=True)
    elif line == "release\n":
        try:
            lock.release()
        except Exception as e:
            print("release failed: %r" % e, flush=True)
            sys.exit(1)
        print("released", flush=True)
        sys.exit(0)
sys.exit(1)
