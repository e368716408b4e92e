"""An annotated copy of the staff's workbook: problem cells filled and commented.

The original file is never written. xlsx/xlsm are copied with their formatting;
other formats (xls, ods) become an xlsx holding the same cell values.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from kit.errors import OutputError
from kit.files import refuse_if_open, save_workbook
from kit.pipeline import Validated
from kit.sources import Source
from kit.snapshot import values_workbook
from kit.tables import place

FILLS = {
    "error": PatternFill("solid", fgColor="FFC7CE"),
    "warning": PatternFill("solid", fgColor="FFEB9C"),
}


def annotate(source_path: Path | None, source: Source, validated: Validated, out: Path) -> int:
    """Write the annotated copy to out; returns the number of cells marked.

    source_path is the local file (None for a Google Sheet, which gets a values copy)."""
    out = Path(out)
    if source_path is not None and out.exists() and out.resolve() == Path(source_path).resolve():
        raise OutputError("批注副本不能覆盖原表格，请换一个文件名，如 检查结果.xlsx。")
    if out.suffix.lower() != ".xlsx":
        raise OutputError(f"批注副本请用 .xlsx 作扩展名（现在是“{out.name}”）。")
    if source_path is not None and Path(source_path).suffix.lower() in (".xlsx", ".xlsm"):
        wb = openpyxl.load_workbook(source_path)
    else:
        wb = values_workbook(source)  # text stays text, errors stay errors

    notes: dict[tuple[str, int, int], list] = defaultdict(list)
    for found in validated.problems:
        spot = place(validated.tables, found)
        layout = validated.tables.layout(found.sheet)
        if spot.sheet not in wb.sheetnames:
            continue
        row = found.row or (layout.header_row if layout else 1)
        notes[(spot.sheet, row, spot.column_index or 0)].append(found)
    for (sheet, row, column), found in sorted(notes.items()):
        cell = wb[sheet].cell(row=row, column=column + 1)
        worst = "error" if any(p.is_error for p in found) else "warning"
        cell.fill = FILLS[worst]
        text = "\n".join(f"【{'错误' if p.is_error else '提醒'} {p.code}】{p.message}" for p in found)
        cell.comment = Comment(text, "积分工具包", width=320, height=40 + 40 * len(found))
    refuse_if_open(out, "批注副本")
    save_workbook(wb, out, "批注副本")
    return len(notes)
