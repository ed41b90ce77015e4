"""Producer and consumers sharing a JoinableQueue: the classic
multiprocessing tutorial program, over qlockd.  Its multiprocessing
version differs in one line: from multiprocessing import Manager."""
from multiprocessing import Process

from qlock import Manager


def consumer(jobs, results):
    while True:
        n = jobs.get()
        if n is None:
            jobs.task_done()
            break
        results.put((n, n * n))
        jobs.task_done()


if __name__ == "__main__":
    with Manager() as manager:
        jobs = manager.JoinableQueue()
        results = manager.Queue()
        workers = [Process(target=consumer, args=(jobs, results))
                   for _ in range(3)]
        for w in workers:
            w.start()
        for n in range(10):
            jobs.put(n)
        for _ in workers:
            jobs.put(None)
        jobs.join()
        for w in workers:
            w.join()
        squares = sorted(results.get() for _ in range(10))
        print("squares:", [sq for _, sq in squares])
