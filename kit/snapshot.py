"""A local copy of a workbook's cells (a Google Sheet at a moment), as an xlsx.

Text is written as text: nothing a resident typed can become a formula when the
snapshot is opened in a spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl

from kit.files import save_workbook, unique_path
from kit.sources import CellError, Source

FORMATS = {dt.datetime: "yyyy-mm-dd hh:mm", dt.date: "yyyy-mm-dd", dt.time: "hh:mm"}


def write_snapshot(source: Source, out: Path) -> Path:
    save_workbook(values_workbook(source), out)
    return out


def values_workbook(source: Source) -> openpyxl.Workbook:
    """Every sheet's cells as values: text as text, formula errors as error cells."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in source.sheet_names():
        ws = wb.create_sheet(name[:31])
        for r, row in enumerate(source.read(name).rows, start=1):
            for c, value in enumerate(row, start=1):
                if value == "" or value is None:
                    continue
                cell = ws.cell(r, c)
                if isinstance(value, CellError):
                    cell.value = value.text  # an error cell again, read back as one
                    cell.data_type = "e"
                elif isinstance(value, str):
                    cell.value = excel_text(value)
                    cell.data_type = "s"  # never a formula, whatever it starts with
                else:
                    cell.value = value
                    number_format = FORMATS.get(type(value))
                    if number_format:
                        cell.number_format = number_format
    return wb


_ESCAPED = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_UNWRITABLE = re.compile("[\x00-\x08\x0b-\x1f]")  # XML 1.0 has no place for these (CR is kept as _x000D_)


def excel_text(text: str) -> str:
    """text as Excel stores it: control characters (and CR, which XML would turn into LF)
    as _xHHHH_, and a literal _xHHHH_ protected by _x005F_, so it reads back exactly."""
    text = _ESCAPED.sub(r"_x005F_\1", text)
    return _UNWRITABLE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def snapshot_path(folder: Path, now: dt.datetime) -> Path:
    return unique_path(folder, f"{now:%Y-%m-%d_%H%M%S}", ".xlsx")
