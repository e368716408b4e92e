"""The staff workbook template, written with openpyxl from the schema.

`write_book` writes a Book (empty for a new community, or the example data) with
Chinese headers, dropdown lists, frozen headers, widths, formats and a 说明 sheet.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from kit.files import save_workbook
from kit.model import Book
from kit.schema import SETTINGS, SHEETS, SHEETS_BY_KEY, Column, Kind, Sheet, choice_label
from kit.tables import column_letter

INSTRUCTIONS = "说明"
LAST_ROW = 1048576
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
FORMATS = {Kind.DATE: "yyyy-mm-dd", Kind.TIME: "hh:mm"}

GENERAL_NOTES = (
    "这个表格是社区积分的“总账”。工作人员在这里登记居民、积分规则和每一次得分，"
    "然后运行 kit validate 检查有没有填错，运行 kit build 生成公开网站。",
    "每个工作表的第一行是表头，不要改名、不要删除；列的顺序可以调整，多加的列会被忽略，不会公开。",
    "日期写成 2026-03-05、2026/3/5 或 2026年3月5日都可以；时间写成 20:30。",
    "“是/否”的格子也可以写 Y/N、√/×、1/0。数字可以带小数（如 1.5 小时）。",
    "带下拉箭头的格子请从列表中选择，这样编号不会写错。",
    "已公示的记录不要修改或删除；需要更正时，在“申诉”表登记更正结果。",
    "姓名、手机、备注、申诉理由、卡号只供工作人员使用，网站上永远不会出现。",
)

# How to change 分值 or 所需积分 from a date on: a new row per version (kit/versions.py).
VERSION_NOTES = {
    "rules": (
        "怎样从某一天起调整分值（例如治安巡逻 XL01 从 2027-01-01 起改为每小时 12 分）：",
        "1. 不要改原来那一行的分值。在原来那一行的“停用日期”填新规定生效的前一天：2026-12-31。",
        "2. 新加一行，编码和原来相同（XL01），填新的分值 12，“生效日期”填 2027-01-01，其余各列照原样填写。",
        "3. 每条积分记录按它的日期，用当天有效的那一行计分：以前的记录保持公示时的积分，不会因为改分值而变；"
        "2027-01-01 起的记录按新分值计算。",
        "4. 同一编码的几行，日期不能重叠：同一天只能有一个版本。重叠时 kit validate 报错“版本日期重叠”，重叠的行不计入。",
        "5. 某项活动到期不再开展：只在它那一行填“停用日期”。新活动从某天开始：新加一行，填“生效日期”。",
        "6. 网站的积分菜单、培训材料、自测题和宣传单都按当天有效的版本显示，并提前公告即将生效的调整。",
    ),
    "rewards": (
        "怎样从某一天起调整所需积分：和积分规则一样，不改原来那一行，在它的“停用日期”填生效前一天，"
        "再新加一行同样的编码，填新的所需积分和“生效日期”。每次兑换按兑换日期当天有效的所需积分计算，以前的兑换不变。"
        "同一编码的几行日期不能重叠。",
    ),
}


def write_book(path: Path, book: Book | None = None) -> None:
    """Write the template (with the book's rows, if any) to path, atomically."""
    book = book or Book()
    wb = Workbook()
    _instructions(wb.active)
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet.zh)
        if sheet.key == "settings":
            _settings_sheet(ws, sheet, book)
        else:
            _table_sheet(ws, sheet, getattr(book, sheet.key))
    _dropdowns(wb)
    save_workbook(wb, Path(path))



def _instructions(ws: Worksheet) -> None:
    ws.title = INSTRUCTIONS
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 10
    ws.column_dimensions["D"].width = 70
    ws.append(["社区积分总账 使用说明"])
    ws["A1"].font = Font(bold=True, size=16)
    for note in GENERAL_NOTES:
        ws.append([None, None, None, note])
    for sheet in SHEETS:
        ws.append([])
        ws.append([f"工作表：{sheet.zh}", None, None, sheet.help])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=13)
        if sheet.key == "settings":
            ws.append([None, "设置项", "默认值", "说明"])
            for setting in SETTINGS:
                ws.append([None, setting.zh, _cell_value(setting.default), setting.help])
            continue
        ws.append([None, "列", "必填", "怎么填"])
        for col in sheet.columns:
            ws.append([None, col.zh, "是" if col.mandatory else "", col.help])
        for note in VERSION_NOTES.get(sheet.key, ()):
            ws.append([None, None, None, note])
    for row in ws.iter_rows(min_row=2):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")


def _header(ws: Worksheet, titles: list[str], widths: list[int]) -> None:
    ws.append(titles)
    for index, width in enumerate(widths):
        cell = ws.cell(1, index + 1)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        ws.column_dimensions[column_letter(index)].width = width
    ws.freeze_panes = "A2"


def _settings_sheet(ws: Worksheet, sheet: Sheet, book: Book) -> None:
    _header(ws, [c.zh for c in sheet.columns] + ["说明"], [c.width for c in sheet.columns] + [60])
    for setting in SETTINGS:
        ws.append([setting.zh, _cell_value(getattr(book.settings, setting.key)), setting.help])


def _table_sheet(ws: Worksheet, sheet: Sheet, records: tuple) -> None:
    _header(ws, [c.zh for c in sheet.columns], [c.width for c in sheet.columns])
    for index, col in enumerate(sheet.columns):
        number_format = FORMATS.get(col.kind)
        if number_format:
            ws.column_dimensions[column_letter(index)].number_format = number_format
    formats = [(i + 1, FORMATS[c.kind]) for i, c in enumerate(sheet.columns) if c.kind in FORMATS]
    for row, record in enumerate(records, start=2):
        ws.append([_cell(col, getattr(record, col.key)) for col in sheet.columns])
        for index, number_format in formats:
            ws.cell(row, index).number_format = number_format


def _cell(col: Column, value: object) -> object:
    if value is None:
        return None
    if col.kind is Kind.BOOL:
        return "是" if value else "否"
    if col.kind is Kind.CHOICE:
        return choice_label(col.choices, value)
    return _cell_value(value)


def _cell_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def list_name(sheet_key: str, column_key: str) -> str:
    return f"list_{sheet_key}_{column_key}"


def _dropdowns(wb: Workbook) -> None:
    """Dropdowns that follow the other sheets as they grow (OFFSET/COUNTA names)."""
    for target in sorted({c.ref for s in SHEETS for c in s.columns if c.ref}):
        sheet = SHEETS_BY_KEY[target[0]]
        letter = column_letter([c.key for c in sheet.columns].index(target[1]))
        ref = f"'{sheet.zh}'!${letter}"
        formula = f"OFFSET({ref}$2,0,0,MAX(1,COUNTA({ref}:${letter})-1),1)"
        wb.defined_names[list_name(*target)] = DefinedName(list_name(*target), attr_text=formula)
    for sheet in SHEETS:
        ws = wb[sheet.zh]
        for index, col in enumerate(sheet.columns):
            if sheet.key == "settings":
                break
            if col.ref:
                formula = "=" + list_name(*col.ref)
            elif col.choices:
                formula = '"' + ",".join(c.zh for c in col.choices) + '"'
            else:
                continue
            letter = column_letter(index)
            check = DataValidation(
                type="list", formula1=formula, allow_blank=True, showDropDown=False,
                showErrorMessage=True, errorTitle="请从下拉列表选择",
                error=f"“{col.zh}”请从下拉列表中选择。{col.help}",
            )
            check.add(f"{letter}2:{letter}{LAST_ROW}")
            ws.add_data_validation(check)
