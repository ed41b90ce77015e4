"""Visitors sharing two rooms through a Semaphore: the classic
multiprocessing tutorial program, over qlockd.  Its multiprocessing
version differs in one line: from multiprocessing import Manager."""
import time
from multiprocessing import Process

from qlock import Manager


def visitor(rooms, lock, stats):
    with rooms:
        with lock:
            stats["inside"] += 1
            stats["most"] = max(stats["most"], stats["inside"])
        time.sleep(0.05)
        with lock:
            stats["inside"] -= 1
            stats["visits"] += 1


if __name__ == "__main__":
    with Manager() as manager:
        rooms = manager.Semaphore(2)
        lock = manager.Lock()
        stats = manager.dict(inside=0, most=0, visits=0)
        visitors = [Process(target=visitor, args=(rooms, lock, stats))
                    for _ in range(6)]
        for v in visitors:
            v.start()
        for v in visitors:
            v.join()
        print("visits:", stats["visits"], "never more than 2 inside:",
              stats["most"] <= 2)
