"""An item over the daemon's frame limit (--max-frame, 16 MiB by default):
LimitError with the daemon's words, and the connection goes on.  Issue 11,
item 2: this was ConnectionResetError."""
import pytest

import qlock
from qlock import errors

OVER = 17 * 1024 * 1024     # over qlockd's default max-frame of 16 MiB


def test_item_over_limit_raises_limit_error(name, client):
    q = qlock.Queue(name)
    with pytest.raises(errors.LimitError) as e:
        q.put(b"x" * OVER)
    assert "over the limit of 16777216" in str(e.value)
    # Same connection, still in step: the next calls work.
    q.put(b"small")
    assert q.get(timeout=5) == b"small"
    assert client.ping()
