"""Writing files so that a crash never leaves a half-written one in place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from openpyxl import Workbook


def save_workbook(wb: Workbook, path: Path) -> None:
    """Save to a temporary file beside path, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kit-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; staff share these files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """folder/stem.suffix, or stem-2, stem-3 …: never the name of an existing file."""
    candidate = Path(folder) / f"{stem}{suffix}"
    number = 2
    while candidate.exists():
        candidate = Path(folder) / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file beside path, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".kit-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
