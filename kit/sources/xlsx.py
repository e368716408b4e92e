"""Local workbooks (xlsx, xlsm, xls, ods) read with python-calamine, within kit.limits."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import ParseError

import python_calamine
from defusedxml import DefusedXmlException

from kit.errors import (
    EncryptedWorkbook,
    MacroWorkbook,
    UnreadableWorkbook,
    WorkbookNotFound,
)
from kit.limits import (
    Archive,
    ReadLimits,
    check_cell_text,
    check_extent,
    check_file,
    exceeded,
    member_chunks,
)
from kit.sources import CellError, RawSheet
from kit.sources.xlsx_errors import SheetScan, scan_sheet, sheet_members

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_OOXML = (".xlsx", ".xlsm")  # what calamine reads as xlsx (it goes by the extension)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


class XlsxSource:
    def __init__(self, path: Path, limits: ReadLimits = ReadLimits()):
        self.path = Path(path)
        self.label = self.path.name
        self.limits = limits
        self._archive: Archive | None = None
        self._members: dict[str, list[str]] | None = None
        self._book = self._open()

    def sheet_names(self) -> list[str]:
        return list(self._book.sheet_names)

    def read(self, name: str) -> RawSheet:
        where = f"“{self.label}”的工作表“{name}”"
        scans = self._scan(name, where)  # before calamine: a far cell would abort the process
        try:
            sheet = self._book.get_sheet_by_name(name)
            if sheet.end is not None:  # to_python pads from A1 (xls and ods are not scanned)
                check_extent(sheet.end[0] + 1, sheet.end[1] + 1, where, self.limits)
            rows = sheet.to_python(skip_empty_area=False)
        except python_calamine.CalamineError as exc:
            raise UnreadableWorkbook(
                f"“{self.label}”的工作表“{name}”读取失败，文件可能已损坏。"
                f"请用 Excel 或 WPS 打开后重新保存再试。（{exc}）"
            ) from None
        for scan in scans:
            for (row, column), text in scan.errors.items():
                if row < len(rows) and column < len(rows[row]):
                    rows[row][column] = CellError(text)
        long_shared = self._archive is not None and self._archive.long_shared_text
        if long_shared or any(s.long_text for s in scans) or self.path.suffix.lower() not in _OOXML:
            check_cell_text(rows, f"“{self.label}”工作表“{name}”", self.limits)
        return RawSheet(name, rows)

    def _scan(self, name: str, where: str) -> list[SheetScan]:
        if self._archive is None or self.path.suffix.lower() not in _OOXML:
            return []
        members = self._sheet_members()
        # a name spelled differently here than calamine spells it (whitespace in the
        # attribute, say): every sheet is checked, and no sheet's error cells are used
        wanted = members.get(name) or dict.fromkeys(m for found in members.values() for m in found)
        scans = []
        for member in wanted:
            info = self._archive.info(member)
            if info is None:
                continue  # calamine reports the missing sheet
            scan = scan_sheet(lambda: member_chunks(self.path, info), self.limits)
            check_extent(scan.rows, scan.columns, where, self.limits)
            scans.append(scan)
        return scans if name in members else []

    def _sheet_members(self) -> dict[str, list[str]]:
        if self._members is None:
            book = self._archive.info("xl/workbook.xml")
            rels = self._archive.info("xl/_rels/workbook.xml.rels")
            if book is None or rels is None:
                self._members = {}  # calamine then finds no sheet either
            else:
                try:
                    self._members = sheet_members(b"".join(member_chunks(self.path, book)),
                                                  b"".join(member_chunks(self.path, rels)))
                except (ParseError, DefusedXmlException, ValueError) as exc:
                    raise UnreadableWorkbook(
                        f"“{self.label}”的工作簿结构（workbook.xml）读不懂，文件可能已损坏。"
                        f"请用 Excel 或 WPS 打开后另存为 .xlsx 再试。（{exc}）"
                    ) from None
        return self._members

    def _open(self):
        path = self.path
        if not path.exists():
            raise WorkbookNotFound(f"找不到表格文件“{path}”，请检查文件名和位置。")
        if path.is_dir():
            raise WorkbookNotFound(f"“{path}”是一个文件夹，不是表格文件。")
        with path.open("rb") as fh:
            head = fh.read(8)
        if not head:
            raise UnreadableWorkbook(f"“{path.name}”是空文件（0 字节），不是表格。请重新导出或下载。")
        self._archive = check_file(path, self.limits)  # before anything parses the file
        if head == _OLE_MAGIC and _ENCRYPTED_MARK in path.read_bytes():
            raise EncryptedWorkbook(
                f"“{path.name}”设置了打开密码，无法读取。请在 Excel/WPS 中取消密码"
                "（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后另存再试。"
            )
        if path.suffix.lower() not in SUFFIXES:
            raise UnreadableWorkbook(
                f"“{path.name}”不是支持的表格格式。请另存为 .xlsx（也支持 .xls、.ods）。"
            )
        # Macros are never run: calamine does not even open xl/vbaProject.bin. So an .xlsm
        # is read like an .xlsx, quietly (kit cards keeps its macros when it writes card
        # numbers back). Only macros in a file whose name says .xlsx are refused: Excel
        # itself will not open such a file, and renaming is how macro attachments hide.
        if (self._archive is not None and path.suffix.lower() == ".xlsx"
                and self._archive.info("xl/vbaProject.bin") is not None):
            raise MacroWorkbook(
                f"“{path.name}”的扩展名是 .xlsx，里面却带有宏（VBA 代码）。正常的 .xlsx 不含宏，Excel 也打不开这样的文件，"
                "它可能被改过扩展名或被篡改过。积分工具包从不运行宏，但为安全起见不读取。"
                "如果宏是你们自己加的，请把文件改名为 .xlsm；否则请在 Excel/WPS 中另存为 .xlsx（不含宏）再用。"
            )
        try:
            book = python_calamine.CalamineWorkbook.from_path(str(path))
        except (python_calamine.CalamineError, OSError, ValueError) as exc:
            raise UnreadableWorkbook(
                f"“{path.name}”无法作为表格打开：文件可能已损坏、只下载了一半，"
                f"或者其实不是 Excel 文件（例如 CSV 改了扩展名）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。（{exc}）"
            ) from None
        if len(book.sheet_names) > self.limits.max_sheets:  # xls and ods (xlsx was counted before opening)
            raise exceeded("max_sheets", len(book.sheet_names), self.limits.max_sheets, f"“{path.name}”")
        return book

