"""Find each schema sheet and its columns in a source, by zh label or English key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kit.errors import MissingColumns, MissingSheet
from kit.problems import Problem, problem
from kit.schema import SHEETS, SHEETS_BY_KEY, Sheet, labels, normalize_label
from kit.sources import Source

HEADER_SCAN_ROWS = 10


@dataclass(frozen=True)
class SheetLayout:
    """Where a schema sheet lives in the staff's file."""

    key: str
    name: str  # the tab name in the file
    header_row: int  # spreadsheet row number of the header
    columns: dict[str, int]  # column key → 0-based column index
    headers: dict[str, str]  # column key → header text as written


@dataclass(frozen=True)
class Table:
    sheet: Sheet
    layout: SheetLayout
    rows: list[list[object]]  # every row of the sheet; rows[i] is spreadsheet row i + 1


@dataclass(frozen=True)
class Tables:
    source_label: str
    tables: dict[str, Table]  # only the sheets present in the file
    problems: tuple[Problem, ...] = field(default=())

    def layout(self, key: str) -> SheetLayout | None:
        table = self.tables.get(key)
        return table.layout if table else None


def locate(source: Source, progress: Callable[[str], None] = lambda step: None) -> Tables:
    """Match sheets and headers; a missing required sheet or column stops here."""
    by_label: dict[str, str] = {}
    for name in source.sheet_names():
        by_label.setdefault(normalize_label(name), name)
    found: dict[str, str] = {}
    missing: list[Sheet] = []
    for sheet in SHEETS:
        name = next((by_label[l] for l in labels(sheet) if l in by_label), None)
        if name is not None:
            found[sheet.key] = name
        elif sheet.required:
            missing.append(sheet)
    if missing:
        wanted = "、".join(f"“{s.zh}”" for s in missing)
        present = "、".join(f"“{n}”" for n in source.sheet_names()) or "（没有）"
        raise MissingSheet(
            f"“{source.label}”缺少工作表 {wanted}。现有的工作表：{present}。"
            "请按模板（kit init 生成的 ledger.xlsx）补上这些工作表，或把工作表改成模板中的名称。"
        )

    tables: dict[str, Table] = {}
    problems: list[Problem] = []
    gaps: list[str] = []
    for sheet in SHEETS:
        if sheet.key not in found:
            continue
        progress(f"读取工作表“{found[sheet.key]}”")
        raw = source.read(found[sheet.key])
        if not sheet.required and not any(c != "" for row in raw.rows for c in row):
            continue  # an optional sheet left blank is as good as absent
        layout, dupes, absent = _find_header(sheet, raw.name, raw.rows)
        problems.extend(dupes)
        if absent:
            gaps.append(f"工作表“{raw.name}”缺少列 " + "、".join(f"“{c}”" for c in absent))
            continue
        tables[sheet.key] = Table(sheet, layout, raw.rows)
    if gaps:
        raise MissingColumns(
            "；".join(gaps) + "。请在表头行补上这些列（列的顺序可以随意），或把列标题改成模板中的名称。"
        )
    return Tables(source.label, tables, tuple(problems))


def _find_header(sheet: Sheet, name: str, rows: list[list[object]]):
    wanted = {label: col.key for col in sheet.columns for label in labels(col)}
    best_row, best_hits = 0, -1
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = sum(1 for cell in row if cell != "" and normalize_label(cell) in wanted)
        if hits > best_hits:
            best_row, best_hits = index, hits
    header = rows[best_row] if rows else []
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    dupes: list[Problem] = []
    for index, cell in enumerate(header):
        if cell == "":
            continue
        key = wanted.get(normalize_label(cell))
        if key is None:
            continue  # extra columns are kept out of everything
        if key in columns:
            dupes.append(problem("duplicate-column", sheet.key, best_row + 1, key, value=str(cell).strip()))
            continue
        columns[key] = index
        headers[key] = str(cell).strip()
    absent = [c.zh for c in sheet.columns if c.required and c.key not in columns]
    return SheetLayout(sheet.key, name, best_row + 1, columns, headers), dupes, absent


@dataclass(frozen=True)
class Place:
    sheet: str  # tab name as in the file
    column: str | None  # header text as in the file
    cell: str | None  # e.g. "C12", when the cell is known
    column_index: int | None  # 0-based


def place(tables: Tables, found: Problem) -> Place:
    """Where a problem sits, in the names the staff see."""
    sheet = SHEETS_BY_KEY[found.sheet]
    layout = tables.layout(found.sheet)
    if found.column is None:
        column = None
    elif layout and found.column in layout.headers:
        column = layout.headers[found.column]
    else:
        column = next((c.zh for c in sheet.columns if c.key == found.column), found.column)
    index = layout.columns.get(found.column) if layout and found.column else None
    cell = f"{column_letter(index)}{found.row}" if index is not None and found.row else None
    return Place(layout.name if layout else sheet.zh, column, cell, index)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
