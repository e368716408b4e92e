"""Content hashes that let an unchanged rebuild skip its work.

A build records a digest of everything it was made from: the workbook's bytes,
the as-of date, the options, the project's own files (kit.toml, mkdocs.yml,
docs/, templates/) and the kit's code. The next build with the same digest, and
the site still as that build left it, has nothing to do. Any changed byte gives
another digest, so a stale result is never reused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import kit
from kit.files import write_text_atomic

CACHE_DIR = ".kit-cache"  # beside kit.toml; holds hashes only, nothing personal
_STAMP = "site-stamp.json"
_CHUNK = 1 << 20
_PROJECT_FILES = ("kit.toml", "mkdocs.yml")
_PROJECT_FOLDERS = ("docs", "templates")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def build_digest(root: Path, workbook: Path, as_of: dt.date, options: dict[str, object]) -> str:
    """One digest of every input of a build."""
    digest = hashlib.sha256()
    parts: dict[str, object] = {"workbook": file_digest(workbook), "as_of": as_of.isoformat(),
                                "options": options, "code": _tree_digest(Path(kit.__file__).parent)}
    for name in _PROJECT_FILES:
        path = root / name
        parts[name] = file_digest(path) if path.is_file() else None
    for name in _PROJECT_FOLDERS:
        parts[name] = _tree_digest(root / name)
    digest.update(json.dumps(parts, sort_keys=True).encode())
    return digest.hexdigest()


def _tree_digest(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_digest(path).encode())
    return digest.hexdigest()


def site_unchanged(root: Path, site_dir: Path, digest: str) -> bool:
    """True when the site in place was built from exactly these inputs and is untouched since."""
    try:
        stamp = json.loads((root / CACHE_DIR / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("inputs") == digest and stamp.get("site") == _site_marker(site_dir)


def record_site(root: Path, site_dir: Path, digest: str) -> None:
    folder = root / CACHE_DIR
    folder.mkdir(exist_ok=True)
    write_text_atomic(folder / _STAMP, json.dumps({"inputs": digest, "site": _site_marker(site_dir)}))


def _site_marker(site_dir: Path) -> str | None:
    """What the build left: its home page and ledger fingerprint, with their sizes and times."""
    marks = []
    for name in ("index.html", "ledger/checkpoints.json", "ledger/leaves.txt"):
        try:
            info = os.stat(site_dir / name)
        except OSError:
            return None
        marks.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("|".join(marks).encode()).hexdigest()
