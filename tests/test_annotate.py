"""`kit validate FILE --annotate OUT.xlsx`: a copy with every problem cell marked.

Real files in, real files out, read back with openpyxl; nothing of kit is mocked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from kit.cli import cli

from tests.conftest import write_ods, write_xlsx

AS_OF = ["--as-of", "2026-06-30"]
ERROR_FILL, WARNING_FILL = "FFC7CE", "FFEB9C"


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "300", "KIT_DEBUG": None})


def problems(path: Path) -> list[dict]:
    result = run("validate", path, *AS_OF, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def annotate(source: Path, out: Path):
    result = run("validate", source, *AS_OF, "--format", "json", "--annotate", out)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    return result, json.loads(result.stdout)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def marks(path: Path) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(sheet, cell) → (fill colour, comment text) for every filled or commented cell."""
    found = {}
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                filled = cell.fill is not None and cell.fill.fill_type is not None
                if filled or cell.comment is not None:
                    colour = cell.fill.fgColor.rgb if filled else None
                    text = cell.comment.text if cell.comment is not None else None
                    found[(ws.title, cell.coordinate)] = (colour, text)
    return found


def set_cell(book, sheet: str, row: int, header: str, value: object) -> None:
    rows = book[sheet]
    rows[row - 1][rows[0].index(header)] = value


def with_problems(base):
    """One error and one warning on the entries sheet, one warning on residents."""
    set_cell(base, "积分记录", 2, "居民编号", "R9")  # D2 unknown-resident (error)
    set_cell(base, "积分记录", 3, "数量", "两")  # F3 bad-number (error)
    set_cell(base, "居民", 2, "手机", "12345")  # E2 bad-phone (warning)
    return base


# --- fills and comments ---------------------------------------------------------


def test_problem_cells_are_filled_and_commented(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    out = tmp_path / "批注.xlsx"
    result, found = annotate(source, out)
    assert result.exit_code == 1
    assert "批注.xlsx" in result.stderr and "3 个单元格" in result.stderr
    marked = marks(out)
    assert set(marked) == {("积分记录", "D2"), ("积分记录", "F3"), ("居民", "E2")}

    by_code = {p["code"]: p for p in found}
    for (sheet, cell), code, colour in [
        (("积分记录", "D2"), "unknown-resident", ERROR_FILL),
        (("积分记录", "F3"), "bad-number", ERROR_FILL),
        (("居民", "E2"), "bad-phone", WARNING_FILL),
    ]:
        fill, comment = marked[(sheet, cell)]
        assert fill.endswith(colour), (cell, fill)
        assert code in comment
        assert by_code[code]["message"] in comment
    assert "“居民”表中没有编号“R9”的居民" in marked[("积分记录", "D2")][1]
    assert "“两”不是数字" in marked[("积分记录", "F3")][1]
    assert "错误" in marked[("积分记录", "D2")][1]
    assert "提醒" in marked[("居民", "E2")][1]


def test_the_copy_keeps_every_value(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    out = tmp_path / "批注.xlsx"
    annotate(source, out)
    original, copy = openpyxl.load_workbook(source), openpyxl.load_workbook(out)
    assert copy.sheetnames == original.sheetnames
    for name in original.sheetnames:
        assert list(copy[name].iter_rows(values_only=True)) == list(original[name].iter_rows(values_only=True))


def test_valid_workbook_gives_a_copy_without_marks(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", base)
    out = tmp_path / "批注.xlsx"
    result, found = annotate(source, out)
    assert result.exit_code == 0 and found == []
    assert out.is_file()
    assert marks(out) == {}


def test_original_workbook_is_not_changed(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    os.utime(source, (1_700_000_000, 1_700_000_000))
    before, mtime = digest(source), source.stat().st_mtime_ns
    annotate(source, tmp_path / "批注.xlsx")
    assert digest(source) == before
    assert source.stat().st_mtime_ns == mtime
    assert marks(source) == {}


def test_problem_cell_follows_header_row_and_column_order(tmp_path, base):
    # A title row above the header and columns in another order: the mark is on
    # the cell the staff see, not on a schema position.
    rows = base["积分记录"]
    for row in rows:
        row.insert(0, row.pop(3))  # 居民编号 becomes column A
    rows.insert(0, ["幸福社区积分记录"])
    rows[2][0] = "R9"  # spreadsheet row 3, column A
    source = write_xlsx(tmp_path / "台账.xlsx", base)
    out = tmp_path / "批注.xlsx"
    _, found = annotate(source, out)
    assert [(p["row"], p["column"], p["code"]) for p in found] == [(3, "居民编号", "unknown-resident")]
    marked = marks(out)
    assert set(marked) == {("积分记录", "A3")}
    assert "unknown-resident" in marked[("积分记录", "A3")][1]


# --- where the copy may go ----------------------------------------------------------


def refused(result) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "（output-error）" in result.stderr
    return result.stderr


@pytest.mark.parametrize("spelling", ["same", "dotdot", "relative", "symlink"])
def test_annotating_onto_the_source_is_refused(tmp_path, base, monkeypatch, spelling):
    (tmp_path / "sub").mkdir()
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    before = digest(source)
    out = {
        "same": source,
        "dotdot": tmp_path / "sub" / ".." / "台账.xlsx",
        "relative": Path("台账.xlsx"),
        "symlink": tmp_path / "sub" / "链接.xlsx",
    }[spelling]
    if spelling == "symlink":
        out.symlink_to(source)
    monkeypatch.chdir(tmp_path)
    result = run("validate", source, *AS_OF, "--annotate", out)
    message = refused(result)
    assert "原表格" in message
    assert digest(source) == before
    assert marks(source) == {}


@pytest.mark.parametrize("name", ["批注.xls", "批注.csv", "批注.ods", "批注"])
def test_annotation_must_be_an_xlsx(tmp_path, base, name):
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    before = digest(source)
    out = tmp_path / name
    result = run("validate", source, *AS_OF, "--annotate", out)
    message = refused(result)
    assert ".xlsx" in message
    assert not out.exists()
    assert digest(source) == before


def test_upper_case_xlsx_suffix_is_fine(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", with_problems(base))
    out = tmp_path / "批注.XLSX"
    annotate(source, out)
    assert ("积分记录", "D2") in marks(out)


# --- several problems on one cell -------------------------------------------------------


def test_two_problems_on_one_cell_share_one_comment(tmp_path, base):
    # An appeals sheet without the optional 更正分值 and 处理日期 columns: a
    # "corrected" appeal then has both missing-correction (error) and
    # missing-resolved-date (warning). Neither column exists, so both problems
    # are marked on the row's first cell, in one comment.
    base["申诉"] = [
        ["编号", "日期", "居民编号", "记录编号", "理由", "状态"],
        ["A1", dt.date(2026, 3, 7), "R1", "E1", "时长记少了", "更正"],
    ]
    source = write_xlsx(tmp_path / "台账.xlsx", base)
    out = tmp_path / "批注.xlsx"
    result, found = annotate(source, out)
    assert sorted((p["sheet"], p["row"], p["code"]) for p in found) == [
        ("申诉", 2, "missing-correction"),
        ("申诉", 2, "missing-resolved-date"),
    ]
    assert "1 个单元格" in result.stderr
    marked = marks(out)
    assert list(marked) == [("申诉", "A2")]
    fill, comment = marked[("申诉", "A2")]
    assert fill.endswith(ERROR_FILL)  # the worse of the two
    assert "missing-correction" in comment and "missing-resolved-date" in comment
    for p in found:
        assert p["message"] in comment


# --- ods in, values-only xlsx out -----------------------------------------------------------

def test_ods_source_gives_an_annotated_values_copy(tmp_path, base):
    source = write_ods(tmp_path / "台账.ods", with_problems(base))
    before = digest(source)
    out = tmp_path / "批注.xlsx"
    result, found = annotate(source, out)
    assert result.exit_code == 1
    assert [(p["sheet"], p["row"], p["column"], p["code"]) for p in found] == [
        ("居民", 2, "手机", "bad-phone"),
        ("积分记录", 2, "居民编号", "unknown-resident"),
        ("积分记录", 3, "数量", "bad-number"),
    ]
    assert digest(source) == before

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(base)
    entries = wb["积分记录"]
    assert [c.value for c in entries[1]] == base["积分记录"][0]
    assert entries["A2"].value == "E1"
    assert entries["B2"].value.date() == dt.date(2026, 3, 5)
    assert entries["D2"].value == "R9"
    assert entries["F3"].value == "两"

    marked = marks(out)
    assert set(marked) == {("积分记录", "D2"), ("积分记录", "F3"), ("居民", "E2")}
    assert marked[("积分记录", "D2")][0].endswith(ERROR_FILL)
    assert marked[("居民", "E2")][0].endswith(WARNING_FILL)
    assert "unknown-resident" in marked[("积分记录", "D2")][1]
    assert "bad-phone" in marked[("居民", "E2")][1]


# --- annotation does not change the data ------------------------------------------------------


def located(found: list[dict]) -> list[tuple]:
    return [(p["sheet"], p["code"], p["row"], p["column"]) for p in found]


def rich_problems(base, error_cell: bool = True):
    """Problems of many kinds; error_cell adds an xlsx formula-error cell (t="e")."""
    with_problems(base)
    set_cell(base, "积分记录", 2, "时间", "25:00")  # bad-time
    base["积分记录"].append(["E4", dt.date(2026, 7, 1), None, "R1", "XL", 1, None, "S1", "S2", None, "通过"])
    if error_cell:
        base["积分记录"].append(["E3", "2026/3/5", "20:30", "R1", "XL", "#DIV/0!", None, "S1", "S2", None, "通过"])
    base["居民"].append(["R3", "王五", "G9", "五六年", None, "也许", None, "在册"])
    base["设置"].append(["积分有效期(月)", "十二"])
    return base


def test_annotated_copy_validates_the_same(tmp_path, base):
    source = write_xlsx(tmp_path / "台账.xlsx", rich_problems(base))
    out = tmp_path / "批注.xlsx"
    _, found = annotate(source, out)
    codes = {p["code"] for p in found}
    assert {"bad-time", "future-date", "formula-error", "bad-year", "bad-yes-no", "duplicate-setting"} <= codes
    assert located(problems(out)) == located(found)


def test_annotated_ods_copy_validates_the_same(tmp_path, base):
    source = write_ods(tmp_path / "台账.ods", rich_problems(base, error_cell=False))
    out = tmp_path / "批注.xlsx"
    _, found = annotate(source, out)
    codes = {p["code"] for p in found}
    assert {"bad-time", "future-date", "bad-year", "bad-yes-no", "duplicate-setting"} <= codes
    assert located(problems(out)) == located(found)


def test_ods_text_that_looks_like_an_error_code_stays_text(tmp_path, base):
    # Staff typed "#N/A" (not applicable) as a note in LibreOffice. It is text in
    # the .ods and the .ods is valid; the values copy must hold the same text,
    # not turn it into an Excel error cell that then fails validation.
    set_cell(base, "积分记录", 2, "备注", "#N/A")
    source = write_ods(tmp_path / "台账.ods", base)
    out = tmp_path / "批注.xlsx"
    result, found = annotate(source, out)
    assert result.exit_code == 0 and found == []
    cell = openpyxl.load_workbook(out)["积分记录"]["G2"]
    assert (cell.value, cell.data_type) == ("#N/A", "s")
    assert problems(out) == []


# --- the staff's real workbook: made from the template --------------------------------------


def test_annotating_a_template_workbook_keeps_its_dropdowns_and_layout(tmp_path):
    assert run("init", tmp_path / "proj").exit_code == 0
    ledger = tmp_path / "proj" / "sheets" / "ledger.xlsx"
    wb = openpyxl.load_workbook(ledger)

    def fill(sheet: str, *rows: dict[str, object]) -> None:
        ws = wb[sheet]
        headers = [c.value for c in ws[1]]
        for offset, row in enumerate(rows, start=2):
            for header, value in row.items():
                ws.cell(offset, headers.index(header) + 1, value)

    fill("网格", {"网格编号": "G1", "网格名称": "第一网格"})
    fill("工作人员", {"工号": "S1", "姓名": "王芳", "角色": "登记员"},
         {"工号": "S2", "姓名": "李强", "角色": "审核员"})
    fill("居民", {"居民编号": "R1", "姓名": "张三", "网格": "G1"})
    fill("积分规则", {"编码": "XL", "名称": "治安巡逻", "类别": "平安巡防", "分值": 10})
    fill("积分记录",
         {"记录编号": "E1", "日期": dt.date(2026, 3, 5), "居民编号": "R9", "规则编码": "XL",
          "登记人": "S1", "审核人1": "S2", "状态": "通过"},
         {"记录编号": "E2", "日期": dt.date(2026, 3, 6), "居民编号": "R1", "规则编码": "XL",
          "登记人": "S1", "审核人1": "S1", "状态": "通过"})
    wb.save(ledger)
    before = digest(ledger)

    out = tmp_path / "批注.xlsx"
    result, found = annotate(ledger, out)
    assert result.exit_code == 1
    assert located(found) == [
        ("积分记录", "unknown-resident", 2, "居民编号"),
        ("积分记录", "self-review", 3, "审核人1"),
    ]
    assert digest(ledger) == before
    marked = marks(out)
    headers = [c.value for c in openpyxl.load_workbook(ledger)["积分记录"][1]]
    resident = openpyxl.utils.get_column_letter(headers.index("居民编号") + 1)
    reviewer = openpyxl.utils.get_column_letter(headers.index("审核人1") + 1)
    expected = {("积分记录", f"{resident}2"), ("积分记录", f"{reviewer}3")}
    # the template's own header fills stay; only problem cells get comments or problem colours
    assert {k for k, (_, text) in marked.items() if text is not None} == expected
    assert {k for k, (fill, _) in marked.items()
            if fill and fill.endswith((ERROR_FILL, WARNING_FILL))} == expected
    assert "self-review" in marked[("积分记录", f"{reviewer}3")][1]

    original, copy = openpyxl.load_workbook(ledger), openpyxl.load_workbook(out)
    assert copy.sheetnames == original.sheetnames
    assert set(copy.defined_names) == set(original.defined_names)
    for name in original.sheetnames:
        a, b = original[name], copy[name]
        assert b.freeze_panes == a.freeze_panes, name
        assert len(b.data_validations.dataValidation) == len(a.data_validations.dataValidation), name
        assert list(b.iter_rows(values_only=True)) == list(a.iter_rows(values_only=True)), name
    assert located(problems(out)) == located(found)
