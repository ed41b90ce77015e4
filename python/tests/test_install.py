"""python3 -m pip install ./python works offline: the package builds with
its own backend (_build/qlock_build.py), so pip fetches nothing
(docs/python.md)."""
import os
import shutil
import subprocess
import sys

import pytest

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_offline(tmp_path):
    try:
        import venv  # noqa: F401
    except ImportError as e:
        pytest.skip("no %s" % e.name)
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(SRC, f), src)
    for d in ("qlock", "_build"):
        shutil.copytree(os.path.join(SRC, d), src / d,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = tmp_path / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                        "--system-site-packages", str(env)],
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        pytest.skip("python3 -m venv failed: %s" % r.stderr.decode()[-200:])
    py = str(env / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "--version"], capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        pytest.skip("no pip")
    # No index, build isolation on (pip's default): only the package's
    # own backend can build it; msgpack is the system's (python3-msgpack).
    r = subprocess.run([py, "-m", "pip", "install", "--no-index", str(src)],
                       capture_output=True, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout.decode()[-2000:] + \
        r.stderr.decode()[-2000:]
    r = subprocess.run([py, "-c", "import qlock, msgpack; "
                        "print(qlock.__file__)"], capture_output=True,
                       timeout=60, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith(str(env))
