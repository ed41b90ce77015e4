# it_ha_snap_load.py ADDR SECONDS: pipelined writes for it_ha_snap_load.sh.
# One connection to ADDR (shard 0's leader) sends puts to a queue of
# shard 0 as fast as it can without waiting for replies (at most 512
# unanswered), so that the leader's passes propose entries while earlier
# ones are in flight, for SECONDS (bounded: 60); then reads what is left
# (bounded: 20 s).  Prints "QUEUE sent N acked A errors E".
# it_ha_snap_load.py size ADDR QUEUE: prints the queue's size.
import os
import select
import sys
import time

sys.path.insert(0, os.environ["PYPKG"])
from qlock._wire import Connection      # noqa: E402
from qlock._route import shard_of       # noqa: E402

key = open(os.environ["QLOCK_AUTHKEY_FILE"], "rb").read().rstrip(b"\n")
if sys.argv[1] == "size":
    print(Connection(sys.argv[2], key).call("queue.size", sys.argv[3]))
    sys.exit(0)
addr, secs = sys.argv[1], min(float(sys.argv[2]), 60.0)
name = next("sl%d" % i for i in range(1000) if shard_of("sl%d" % i, 2) == 0)
c = Connection(addr, key)
sent = acked = errors = 0


def read(wait):
    """Read the replies there are (waiting up to wait seconds)."""
    global acked, errors
    # Replies already read into the connection's buffer first.
    while len(c.rbuf) >= 4 or select.select([c.sock], [], [], wait)[0]:
        _, error, _ = c._reply()
        if error is None:
            acked += 1
        else:
            errors += 1
        wait = 0


end = time.monotonic() + secs
while time.monotonic() < end:
    if sent - acked - errors < 512:
        c._request("queue.put", [name, b"x" * 64, 0])
        sent += 1
        read(0)
    else:
        read(0.01)
end = time.monotonic() + 20
while sent > acked + errors and time.monotonic() < end:
    read(0.1)
print("%s sent %d acked %d errors %d" % (name, sent, acked, errors))
