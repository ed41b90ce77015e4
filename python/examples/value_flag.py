"""Workers that run until a shared Value flag says stop, counting their
rounds in another Value under a Lock: the classic multiprocessing tutorial
program, over qlockd.  Its multiprocessing version differs in one line:
from multiprocessing import Manager."""
import time
from multiprocessing import Process

from qlock import Manager


def worker(stop, rounds, lock):
    deadline = time.monotonic() + 30        # never spin forever
    while not stop.value and time.monotonic() < deadline:
        with lock:
            rounds.value += 1
        time.sleep(0.01)


if __name__ == "__main__":
    with Manager() as manager:
        stop = manager.Value("b", False)
        rounds = manager.Value("i", 0)
        lock = manager.Lock()
        workers = [Process(target=worker, args=(stop, rounds, lock))
                   for _ in range(2)]
        for w in workers:
            w.start()
        while rounds.value < 10:
            time.sleep(0.01)
        stop.value = True
        for w in workers:
            w.join()
        print("stopped:", all(w.exitcode == 0 for w in workers),
              "counted:", rounds.value >= 10)
