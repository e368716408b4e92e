"""Give residents card tokens in the staff's own workbook, without ever losing it.

The workbook is copied to a dated backup first; the new version is written to a
temporary file beside it and renamed into place, and only if nobody changed the
file since it was read. Only the 卡号 cells change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from kit.errors import KitError, OutputError
from kit.files import save_workbook, unique_path
from kit.model import Resident
from kit.schema import SHEETS_BY_KEY
from kit.tables import SheetLayout
from kit.tokens import new_token

WRITABLE = (".xlsx", ".xlsm")


class WorkbookChanged(KitError):
    code = "workbook-changed"


@dataclass(frozen=True)
class TokenPlan:
    new: dict[str, str]  # resident_id → token, for residents who had none
    reissued: dict[str, str]  # resident_id → token replacing a lost card's

    @property
    def changes(self) -> dict[str, str]:
        return self.new | self.reissued


def plan_tokens(residents: tuple[Resident, ...], reissue: set[str]) -> TokenPlan:
    """New tokens for residents without one, and for those whose card is reissued."""
    unknown = sorted(reissue - {r.resident_id for r in residents})
    if unknown:
        raise KitError(f"补办卡片的居民编号不在“居民”表中（或那一行有错误）：{'、'.join(unknown)}。")
    new = {r.resident_id: new_token() for r in residents if not r.card_token and r.resident_id not in reissue}
    reissued = {rid: new_token() for rid in sorted(reissue)}
    return TokenPlan(new, reissued)


def backup_path(workbook: Path, now: dt.datetime) -> Path:
    """A new file in 备份/ beside the workbook; never the name of an earlier backup."""
    workbook = Path(workbook)
    return unique_path(workbook.parent / "备份", f"{workbook.stem}-{now:%Y%m%d-%H%M%S}", workbook.suffix)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_tokens(path: Path, digest: str, layout: SheetLayout, rows: dict[str, int], plan: TokenPlan,
                 backup: Path) -> None:
    """Back up the workbook, then write the planned tokens into its 卡号 cells.

    digest is the file's sha256 when it was read: if the file changed since (someone
    saved it in Excel meanwhile), nothing is written.
    """
    path = Path(path)
    if path.suffix.lower() not in WRITABLE:
        raise OutputError(f"“{path.name}”不是 .xlsx 文件，无法写入卡号。请在 Excel/WPS 中另存为 .xlsx，"
                          "并在 kit.toml 中改用新文件后再运行。")
    wb = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
    ws = wb[layout.name]
    column = layout.columns.get("card_token")
    if column is None:  # the optional 卡号 column is missing: add it after the last header
        column = max(c.column for c in ws[layout.header_row] if c.value is not None)
        ws.cell(layout.header_row, column + 1, SHEETS_BY_KEY["residents"].column("card_token").zh)
    for resident_id, token in sorted(plan.changes.items()):
        cell = ws.cell(rows[resident_id], column + 1)
        cell.value = token
        cell.data_type = "s"
    if file_digest(path) != digest:
        raise WorkbookChanged(f"“{path.name}”在读取之后被修改过（可能有人正在用 Excel 编辑）。"
                              "为了不覆盖别人的修改，这次没有写入卡号。请关闭表格后再运行。")
    backup.parent.mkdir(parents=True, exist_ok=True)
    if backup.exists():
        raise OutputError(f"备份文件 {backup} 已经存在，为了不覆盖它，这次没有写入卡号。请再运行一次。")
    shutil.copy2(path, backup)
    try:
        save_workbook(wb, path)
    except PermissionError:
        raise OutputError(f"无法写入“{path.name}”：文件可能正在被 Excel/WPS 打开，请关闭后再运行。"
                          f"原文件没有改动（备份在 {backup}）。") from None


def write_tokens_to_sheet(source, layout: SheetLayout, rows: dict[str, int], plan: TokenPlan,
                          before: list[list[object]]) -> None:
    """Write the planned tokens into a Google Sheet's 卡号 cells (RAW values), but only if
    the 居民 worksheet still holds what was read (nobody edited it meanwhile)."""
    if source.read_again(layout.name).rows != before:
        raise WorkbookChanged(f"Google 表格的“{layout.name}”在读取之后被修改过（可能有人正在编辑）。"
                              "为了不覆盖别人的修改，这次没有写入卡号。请稍后再运行。")
    column = layout.columns.get("card_token")
    cells: dict[tuple[int, int], str] = {}
    if column is None:  # the optional 卡号 column is missing: add it after the last header
        header = before[layout.header_row - 1] if len(before) >= layout.header_row else []
        column = len(header)
        cells[(layout.header_row, column + 1)] = SHEETS_BY_KEY["residents"].column("card_token").zh
    for resident_id, token in plan.changes.items():
        cells[(rows[resident_id], column + 1)] = token
    source.write_cells(layout.name, cells)
