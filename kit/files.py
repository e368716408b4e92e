"""Writing files so that a crash never leaves a half-written one in place, and a file that
cannot be written (open in another program, read-only, a folder, a full disk) is one
clear message, with nothing left behind."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from kit.errors import OutputError


class WorkbookOpen(OutputError):
    code = "workbook-open"


def owner_files(path: Path) -> list[Path]:
    """The lock files Excel, WPS and LibreOffice keep beside a file they have open."""
    path = Path(path)
    names = {f"~${path.name}", f"~${path.name[2:]}", f".~lock.{path.name}#"}
    return sorted(p for p in (path.parent / n for n in names) if p.exists())


def refuse_if_open(path: Path, what: str) -> None:
    if owner_files(path):
        raise WorkbookOpen(f"“{Path(path).name}”正在被 Excel/WPS 打开（旁边有它的临时文件"
                           f"“{owner_files(path)[0].name}”），请先关闭表格再运行；这次没有写入{what}。"
                           "如果表格其实已经关了，可以删掉那个以 ~$ 开头的小文件。")


def atomic_write(path: Path, write: Callable[[Path], None], what: str = "文件") -> None:
    """write(tmp) beside path, then rename into place; any OSError becomes an OutputError
    naming the file, and the temporary file is removed."""
    path = Path(path)
    tmp: str | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:20]}-", suffix=".part", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; staff share these files
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(unwritable_message(path, exc, what)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def unwritable_message(path: Path, exc: OSError, what: str) -> str:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        why = "那里是一个文件夹，不是文件，请换一个文件名"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "磁盘已经满了，请清理出空间（或换一个盘）后再运行"
    elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EBUSY):
        why = ("文件可能正在被别的程序打开（例如 PDF 阅读器、Excel、WPS），请关闭它后再运行；"
               "也可能是这个文件或文件夹不允许写入（只读、U 盘写保护）")
    else:
        why = f"系统说：{exc.strerror or exc}"
    return f"无法写入{what}“{path}”：{why}。原来的文件没有改动。"


def write_text_atomic(path: Path, text: str, what: str = "文件") -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what)


def write_bytes_atomic(path: Path, data: bytes, what: str = "文件") -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data), what)


def save_workbook(wb, path: Path, what: str = "表格") -> None:
    """An openpyxl workbook, saved beside path and renamed into place."""
    atomic_write(path, lambda tmp: wb.save(tmp), what)


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
