"""The tutorial programs in python/examples run over qlockd and print
what their multiprocessing versions print; each differs from its
multiprocessing version in its one Manager import line."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
QLOCK_LINE = "from qlock import Manager\n"
MP_LINE = "from multiprocessing import Manager\n"


def run(path, cwd):
    pypath = [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pypath))
    r = subprocess.run([sys.executable, path], capture_output=True,
                       timeout=120, env=env, cwd=str(cwd))
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    return r.stdout.decode()


def test_five_examples():
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example(daemon, path, tmp_path):
    with open(path) as f:
        lines = f.readlines()
    assert lines.count(QLOCK_LINE) == 1
    assert not any("qlock" in ln for ln in lines if ln != QLOCK_LINE
                   and not ln.startswith(('"""', " ")) and "import" in ln)
    mp = tmp_path / os.path.basename(path)
    mp.write_text("".join(MP_LINE if ln == QLOCK_LINE else ln
                          for ln in lines))
    got = run(path, tmp_path)
    assert got.strip(), "the example printed nothing"
    assert got == run(str(mp), tmp_path)
