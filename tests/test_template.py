"""The template written with openpyxl: read back with calamine, dropdowns, layout."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from kit.model import Book, Settings
from kit.pipeline import open_source, validate
from kit.schema import SETTINGS, SHEETS, SHEETS_BY_KEY, Kind
from kit.tables import column_letter
from kit.template import INSTRUCTIONS, LAST_ROW, list_name, write_book


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "ledger.xlsx"
    write_book(path, Book(settings=Settings(pseudonym_secret="7b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e")))  # as kit init does
    return path


def test_empty_template_reads_back_with_zero_problems(template):
    result = validate(open_source(template), dt.date(2026, 6, 30))
    assert result.problems == ()
    assert set(result.tables.tables) == {s.key for s in SHEETS}
    assert result.book.entries == ()


def test_sheet_order_and_headers(template):
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == [INSTRUCTIONS] + [s.zh for s in SHEETS]
    for sheet in SHEETS:
        headers = [c.value for c in wb[sheet.zh][1]]
        expected = [c.zh for c in sheet.columns] + (["说明"] if sheet.key == "settings" else [])
        assert headers == expected, sheet.key


def test_every_setting_is_listed_with_its_default(template):
    ws = openpyxl.load_workbook(template)["设置"]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == [s.zh for s in SETTINGS]
    assert rows["积分有效期(月)"] == 12
    assert rows["衰减比例"] == 0.5
    assert rows["公示天数"] == 7


def _validations(ws):
    return {str(dv.sqref): (dv.type, dv.formula1) for dv in ws.data_validations.dataValidation}


def test_dropdowns_cover_every_coded_column_to_the_last_row(template):
    wb = openpyxl.load_workbook(template)
    for sheet in SHEETS:
        if sheet.key == "settings":
            continue
        found = _validations(wb[sheet.zh])
        for index, col in enumerate(sheet.columns):
            letter = column_letter(index)
            span = f"{letter}2:{letter}{LAST_ROW}"
            if col.ref:
                assert found.get(span) == ("list", "=" + list_name(*col.ref)), (sheet.key, col.key)
            elif col.choices:
                options = '"' + ",".join(c.zh for c in col.choices) + '"'
                assert found.get(span) == ("list", options), (sheet.key, col.key)
            else:
                assert span not in found, (sheet.key, col.key)


def test_the_dropdowns_the_issue_names_exist(template):
    wb = openpyxl.load_workbook(template)
    formulas = {f for name in wb.sheetnames for _, f in _validations(wb[name]).values()}
    for target in [("rules", "code"), ("rewards", "code"), ("residents", "resident_id"),
                   ("staff", "staff_id"), ("grids", "grid_id")]:
        assert "=" + list_name(*target) in formulas
    for options in ['"是,否"', '"通过,待审核,驳回"', '"在册,迁出"', '"登记员,审核员,管理员"',
                    '"物质,精神,服务"', '"受理中,维持,更正"']:
        assert options in formulas


def test_dropdown_names_follow_the_other_sheets_as_they_grow(template):
    wb = openpyxl.load_workbook(template)
    formula = wb.defined_names[list_name("residents", "resident_id")].attr_text
    # OFFSET from the first data row, as tall as the filled part of the column
    assert formula == "OFFSET('居民'!$A$2,0,0,MAX(1,COUNTA('居民'!$A:$A)-1),1)"
    rule_codes = wb.defined_names[list_name("rules", "code")].attr_text
    assert rule_codes.startswith("OFFSET('积分规则'!$A$2")


def test_headers_are_frozen_and_columns_sized(template):
    wb = openpyxl.load_workbook(template)
    for sheet in SHEETS:
        ws = wb[sheet.zh]
        assert ws.freeze_panes == "A2", sheet.key
        for index, col in enumerate(sheet.columns):
            assert ws.column_dimensions[column_letter(index)].width == col.width


def test_date_and_time_columns_are_formatted(template):
    wb = openpyxl.load_workbook(template)
    entries = SHEETS_BY_KEY["entries"]
    ws = wb["积分记录"]
    for index, col in enumerate(entries.columns):
        fmt = ws.column_dimensions[column_letter(index)].number_format
        if col.kind is Kind.DATE:
            assert fmt == "yyyy-mm-dd"
        elif col.kind is Kind.TIME:
            assert fmt == "hh:mm"


def test_instructions_sheet_explains_every_sheet_and_column(template):
    ws = openpyxl.load_workbook(template)[INSTRUCTIONS]
    text = "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    for sheet in SHEETS:
        assert f"工作表：{sheet.zh}" in text
        assert sheet.help in text
        for col in sheet.columns if sheet.key != "settings" else ():
            assert col.help in text
    for setting in SETTINGS:
        assert setting.help in text
    assert "双人" in text and "申诉" in text


def test_the_original_is_replaced_atomically_and_readable_by_others(tmp_path):
    path = tmp_path / "ledger.xlsx"
    write_book(path)
    assert path.stat().st_mode & 0o044  # group/others may read it like any saved file
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.xlsx"]  # no temporary left
