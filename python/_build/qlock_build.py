"""The package's own PEP 517 build backend: it needs nothing but the
standard library, so ``python3 -m pip install ./python`` works offline
(pip's isolated build environment gets no setuptools without an index).

The package is pure Python: a wheel is the ``qlock`` directory plus a
``.dist-info`` with METADATA, WHEEL and RECORD; an sdist is the source tree.
The metadata comes from pyproject.toml's ``[project]`` table, of which only
simple ``key = value`` lines are read (TOML's strings and string arrays are
Python literals).
"""
import ast
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "qlock"
TAG = "py3-none-any"


def _project():
    meta, section = {}, None
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            m = re.match(r"\[(.+)\]$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"([A-Za-z-]+)\s*=\s*(.+)$", line)
            if section == "project" and m and m.group(2)[0] in "\"'[":
                try:
                    meta[m.group(1)] = ast.literal_eval(m.group(2))
                except (ValueError, SyntaxError):
                    pass    # a multi-line value: not one this backend needs
    for key in ("name", "version"):
        if key not in meta:
            raise ValueError("pyproject.toml: [project] has no %s" % key)
    return meta


def _metadata(meta):
    lines = ["Metadata-Version: 2.1", "Name: " + meta["name"],
             "Version: " + meta["version"]]
    if "description" in meta:
        lines.append("Summary: " + meta["description"])
    if "requires-python" in meta:
        lines.append("Requires-Python: " + meta["requires-python"])
    lines += ["Requires-Dist: " + d for d in meta.get("dependencies", [])]
    text = "\n".join(lines) + "\n"
    readme = os.path.join(ROOT, meta.get("readme", ""))
    if meta.get("readme") and os.path.isfile(readme):
        with open(readme, encoding="utf-8") as f:
            text += "Description-Content-Type: text/markdown\n\n" + f.read()
    return text


def _sources():
    """The package's files, relative to ROOT, sorted."""
    out = []
    for d, dirs, files in os.walk(os.path.join(ROOT, PACKAGE)):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        out += [os.path.relpath(os.path.join(d, f), ROOT)
                for f in sorted(files) if not f.endswith((".pyc", ".pyo"))]
    return out


def _distinfo(meta):
    return "%s-%s.dist-info" % (meta["name"], meta["version"])


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "%s,sha256=%s,%d" % (name, digest.rstrip(b"=").decode(), len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory,
                                     config_settings=None):
    meta = _project()
    d = os.path.join(metadata_directory, _distinfo(meta))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(meta))
    return _distinfo(meta)


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    meta = _project()
    info = _distinfo(meta)
    name = "%s-%s-%s.whl" % (meta["name"], meta["version"], TAG)
    files = []
    for rel in _sources():
        with open(os.path.join(ROOT, rel), "rb") as f:
            files.append((rel.replace(os.sep, "/"), f.read()))
    files.append((info + "/METADATA", _metadata(meta).encode()))
    files.append((info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: "
                                    "qlock_build\nRoot-Is-Purelib: true\n"
                                    "Tag: %s\n" % TAG).encode()))
    record = [_record_line(n, data) for n, data in files]
    record.append(info + "/RECORD,,")
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for n, data in files:
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), data,
                       zipfile.ZIP_DEFLATED)
    return name


def build_sdist(sdist_directory, config_settings=None):
    meta = _project()
    base = "%s-%s" % (meta["name"], meta["version"])
    name = base + ".tar.gz"
    rels = ["pyproject.toml", "README.md",
            os.path.join("_build", "qlock_build.py")] + _sources()
    pkginfo = _metadata(meta).encode()
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz",
                      format=tarfile.PAX_FORMAT) as t:
        for rel in rels:
            t.add(os.path.join(ROOT, rel), arcname=base + "/" + rel,
                  recursive=False)
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkginfo)
        t.addfile(ti, io.BytesIO(pkginfo))
    return name
