"""Local workbooks (xlsx, xlsm, xls, ods) read with python-calamine."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree

import python_calamine

from kit.errors import EncryptedWorkbook, UnreadableWorkbook, WorkbookNotFound
from kit.sources import CellError, RawSheet
from kit.sources.xlsx_errors import error_cells, sheet_members

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


class XlsxSource:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.label = self.path.name
        self._book = _open(self.path)

    def sheet_names(self) -> list[str]:
        return list(self._book.sheet_names)

    def read(self, name: str) -> RawSheet:
        try:
            rows = self._book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except python_calamine.CalamineError as exc:
            raise UnreadableWorkbook(
                f"“{self.label}”的工作表“{name}”读取失败，文件可能已损坏。"
                f"请用 Excel 或 WPS 打开后重新保存再试。（{exc}）"
            ) from None
        if self.path.suffix.lower() in (".xlsx", ".xlsm"):
            _mark_errors(self.path, name, rows)
        return RawSheet(name, rows)


def _mark_errors(path: Path, name: str, rows: list[list[object]]) -> None:
    try:
        member = sheet_members(path).get(name)
        errors = error_cells(path, member) if member else {}
    except (KeyError, OSError, zipfile.BadZipFile, ElementTree.ParseError):
        return  # calamine read the sheet; a quirk here must not stop the run
    for (row, column), text in errors.items():
        if row < len(rows) and column < len(rows[row]):
            rows[row][column] = CellError(text)


def _open(path: Path):
    if not path.exists():
        raise WorkbookNotFound(f"找不到表格文件“{path}”，请检查文件名和位置。")
    if path.is_dir():
        raise WorkbookNotFound(f"“{path}”是一个文件夹，不是表格文件。")
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise UnreadableWorkbook(f"“{path.name}”是空文件（0 字节），不是表格。请重新导出或下载。")
    if head == _OLE_MAGIC and _ENCRYPTED_MARK in path.read_bytes():
        raise EncryptedWorkbook(
            f"“{path.name}”设置了打开密码，无法读取。请在 Excel/WPS 中取消密码"
            "（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后另存再试。"
        )
    if path.suffix.lower() not in SUFFIXES:
        raise UnreadableWorkbook(
            f"“{path.name}”不是支持的表格格式。请另存为 .xlsx（也支持 .xls、.ods）。"
        )
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise UnreadableWorkbook(
            f"“{path.name}”无法作为表格打开：文件可能已损坏、只下载了一半，"
            f"或者其实不是 Excel 文件（例如 CSV 改了扩展名）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。（{exc}）"
        ) from None
