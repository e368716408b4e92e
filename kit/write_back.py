"""Writing cells back into the staff's own workbook (or Google Sheet), without ever losing it.

The workbook is copied to a dated backup first; the new version is written to a
temporary file beside it and renamed into place, and only if nobody changed the
file since it was read. Only the planned cells change, patched into the sheet's XML
(kit/xlsx_patch.py), so formulas, pictures, charts and everything else the staff put
in the file survive; a missing optional column gets its header after the last one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

from kit.errors import KitError, OutputError
from kit.files import refuse_if_open, unique_path, unwritable_message, write_bytes_atomic
from kit.schema import SHEETS_BY_KEY
from kit.tables import SheetLayout
from kit.xlsx_patch import patch_cells

WRITABLE = (".xlsx", ".xlsm")
Columns = dict[str, dict[int, str]]  # column key → {spreadsheet row: text}


class WorkbookChanged(KitError):
    code = "workbook-changed"


def backup_path(workbook: Path, now: dt.datetime) -> Path:
    """A new file in 备份/ beside the workbook; never the name of an earlier backup."""
    workbook = Path(workbook)
    return unique_path(workbook.parent / "备份", f"{workbook.stem}-{now:%Y%m%d-%H%M%S}", workbook.suffix)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _header(layout: SheetLayout, key: str) -> str:
    return SHEETS_BY_KEY[layout.key].column(key).zh


def write_columns(path: Path, digest: str, layout: SheetLayout, columns: Columns, backup: Path, what: str) -> None:
    """Back up the workbook, then write the planned cells of layout's sheet.

    digest is the file's sha256 when it was read: if the file changed since (someone
    saved it in Excel meanwhile), nothing is written. what names the change (卡号)."""
    path = Path(path)
    refuse_if_open(path, what)
    if path.suffix.lower() not in WRITABLE:
        raise OutputError(f"“{path.name}”不是 .xlsx 文件，无法写入{what}。请在 Excel/WPS 中另存为 .xlsx，"
                          "并在 kit.toml 中改用新文件后再运行。")
    data = path.read_bytes()
    cells: dict[tuple[int, int], str] = {}
    width = None
    for key, values in columns.items():
        if not values:
            continue
        column = layout.columns.get(key)
        if column is None:  # an optional column is missing: add it after the last header
            if width is None:
                width = _header_width(path, layout)
            column, width = width, width + 1
            cells[(layout.header_row, column + 1)] = _header(layout, key)
        for row, text in values.items():
            cells[(row, column + 1)] = text
    if hashlib.sha256(data).hexdigest() != digest:
        raise WorkbookChanged(f"“{path.name}”在读取之后被修改过（可能有人正在用 Excel 编辑）。"
                              f"为了不覆盖别人的修改，这次没有写入{what}。请关闭表格后再运行。")
    patched = patch_cells(data, layout.name, cells)  # only these cells change (kit/xlsx_patch.py)
    if backup.exists():
        raise OutputError(f"备份文件 {backup} 已经存在，为了不覆盖它，这次没有写入{what}。请再运行一次。")
    try:
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, backup)
    except OSError as exc:
        raise OutputError(unwritable_message(backup, exc, "备份").replace("原来的文件没有改动。", "")
                          + f"所以没有写入{what}，表格没有改动。") from None
    try:
        write_bytes_atomic(path, patched, "表格")
    except OutputError as exc:
        raise OutputError(f"{exc.message}（备份在 {backup}）") from None


def _header_width(path: Path, layout: SheetLayout) -> int:
    """How many cells the header row has in the file (a new column goes after the last)."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(layout.name).to_python(nrows=layout.header_row)
    header = rows[layout.header_row - 1] if len(rows) >= layout.header_row else []
    return max((i + 1 for i, cell in enumerate(header) if cell not in ("", None)), default=0)


def write_columns_to_sheet(source, layout: SheetLayout, columns: Columns, before: list[list[object]],
                           what: str) -> None:
    """The same in a Google Sheet (RAW values), but only if the worksheet still holds
    what was read (nobody edited it meanwhile)."""
    if source.read_again(layout.name).rows != before:
        raise WorkbookChanged(f"Google 表格的“{layout.name}”在读取之后被修改过（可能有人正在编辑）。"
                              f"为了不覆盖别人的修改，这次没有写入{what}。请稍后再运行。")
    cells: dict[tuple[int, int], str] = {}
    header = before[layout.header_row - 1] if len(before) >= layout.header_row else []
    width = len(header)
    for key, values in columns.items():
        if not values:
            continue
        column = layout.columns.get(key)
        if column is None:  # an optional column is missing: add it after the last header
            column, width = width, width + 1
            cells[(layout.header_row, column + 1)] = _header(layout, key)
        for row, text in values.items():
            cells[(row, column + 1)] = text
    source.write_cells(layout.name, cells)
