"""Cars waiting at a traffic light, an Event: the classic multiprocessing
tutorial program, over qlockd.  Its multiprocessing version differs in
one line: from multiprocessing import Manager."""
import time
from multiprocessing import Process

from qlock import Manager


def car(n, green, passed):
    if green.wait(30):
        passed.put(n)


def light(green):
    time.sleep(0.2)             # red for a moment
    green.set()


if __name__ == "__main__":
    with Manager() as manager:
        green = manager.Event()
        passed = manager.Queue()
        cars = [Process(target=car, args=(n, green, passed))
                for n in range(4)]
        for c in cars:
            c.start()
        print("green before the light:", green.is_set())
        signal = Process(target=light, args=(green,))
        signal.start()
        for c in cars + [signal]:
            c.join()
        print("passed:", sorted(passed.get() for _ in cars))
