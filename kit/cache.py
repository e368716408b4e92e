"""Content hashes that let unchanged work be skipped.

- A build records a digest of everything it was made from: the workbook's bytes,
  the as-of date, the options, the project's own files (kit.toml, mkdocs.yml,
  docs/, templates/) and the kit's code. The next build with the same digest, and
  the site still as that build left it, has nothing to do.
- The parsed workbook (records and cell problems, which do not depend on the
  as-of date) is kept under the digest of the workbook's bytes and the kit's code,
  so validate, balances and build on an unchanged file skip reading and parsing.

Any changed byte gives another digest, so a stale result is never reused.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import fields
from operator import attrgetter
from pathlib import Path

import kit
from kit.errors import OutputError
from kit.files import write_text_atomic
from kit.model import Book
from kit.parse import RECORD_TYPES, Parsed
from kit.schema import SHEETS_BY_KEY
from kit.tables import Table, Tables

CACHE_DIR = ".kit-cache"  # beside kit.toml, private like the workbook it was read from
_STAMP = "site-stamp.json"
_PARSED = "parsed-{}.pickle"
_FORMAT = 1  # bump when the pickled layout changes
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
                                "options": options, "code": _code_digest()}
    for name in _PROJECT_FILES:
        path = root / name
        parts[name] = file_digest(path) if path.is_file() else None
    for name in _PROJECT_FOLDERS:
        parts[name] = _tree_digest(root / name)
    digest.update(json.dumps(parts, sort_keys=True).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str | None:
    """The kit's own code, as this process runs it."""
    return _tree_digest(Path(kit.__file__).parent)


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
    try:
        folder.mkdir(exist_ok=True)
        write_text_atomic(folder / _STAMP, json.dumps({"inputs": digest, "site": _site_marker(site_dir)}))
    except (OSError, OutputError):
        pass  # the next build simply runs again


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


# --- the parsed workbook ----------------------------------------------------------


def parsed_key(workbook: Path, reading: str = "") -> str:
    """reading: how the file was read (the limits), so lowered limits apply again."""
    return hashlib.sha256(f"{_FORMAT}:{file_digest(workbook)}:{_code_digest()}:{reading}".encode()).hexdigest()


def load_parsed(folder: Path, key: str) -> tuple[Parsed, Tables] | None:
    """The parse stage's result kept for this key, or None (never a stale or broken one)."""
    try:
        with open(folder / _PARSED.format(key), "rb") as fh:
            kept = pickle.load(fh)
        if kept["key"] != key:
            return None
        records = {name: tuple(map(RECORD_TYPES[name], *columns)) if columns else ()
                   for name, columns in kept["columns"].items()}
        book = Book(settings=kept["settings"], **records)
        tables = Tables(kept["label"], {k: Table(SHEETS_BY_KEY[k], layout, []) for k, layout in kept["layouts"].items()},
                        kept["table_problems"])
        return Parsed(book, kept["problems"], kept["dropped"]), tables
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, AttributeError, TypeError, ValueError):
        return None


def save_parsed(folder: Path, key: str, parsed: Parsed, tables: Tables) -> None:
    """Keep the parse for this key, replacing any other kept parse (one workbook, one file).

    Records go column by column: values that repeat (dates, codes, staff) are the
    same objects, which pickle stores once, and rebuilding is one map() per sheet."""
    columns = {}
    for name, record_type in RECORD_TYPES.items():
        records = getattr(parsed.book, name)
        names = [f.name for f in fields(record_type)]
        columns[name] = [list(map(attrgetter(n), records)) for n in names] if records else None
    kept = {"key": key, "settings": parsed.book.settings, "columns": columns,
            "problems": parsed.problems, "dropped": parsed.dropped, "label": tables.source_label,
            "layouts": {k: t.layout for k, t in tables.tables.items()}, "table_problems": tables.problems}
    try:
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".parsed-", suffix=".part", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(kept, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / _PARSED.format(key))
        for old in folder.glob(_PARSED.format("*")):
            if old.name != _PARSED.format(key):
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written only costs time next run
