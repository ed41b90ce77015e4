"""Ticket sellers updating a Manager().dict() under a Lock: the classic
multiprocessing tutorial program, over qlockd.  Its multiprocessing
version differs in one line: from multiprocessing import Manager."""
from multiprocessing import Process

from qlock import Manager


def seller(counter, lock, n):
    for _ in range(n):
        with lock:
            if counter["left"] > 0:
                counter["left"] -= 1
                counter["sold"] += 1


if __name__ == "__main__":
    with Manager() as manager:
        counter = manager.dict(left=50, sold=0)
        lock = manager.Lock()
        sellers = [Process(target=seller, args=(counter, lock, 20))
                   for _ in range(4)]
        for s in sellers:
            s.start()
        for s in sellers:
            s.join()
        print("sold:", counter["sold"], "left:", counter["left"])
