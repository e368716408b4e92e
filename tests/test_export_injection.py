"""Exports a spreadsheet may open write workbook strings as text (issue 11, item 3).

Formula-like text (= + - @ tab CR, HYPERLINK, DDE) is typed into every text field
of a workbook: names, notes, rule, reward and grid names, categories, units,
appeal reasons, settings, ids, an extra column and an extra sheet. The input is
checked to hold text cells, not formulas. Then:

* `kit balances --format csv`, and a resident's statement as CSV: no field that
  a spreadsheet would run as a formula, and every row holds the expected values;
* `kit validate --annotate OUT.xlsx` of an xlsx and of an ods: OUT has no <f>
  element in any sheet and every payload is a string cell (shared or inline)
  holding its text;
* `kit pull` and `kit validate --annotate` of a Google Sheet (tests/fake_gspread.py):
  the same.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import functools
import io
import json
import os
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
import python_calamine
from click.testing import CliRunner

from kit.cli import cli
from kit.counter import BALANCE_TITLES, STATEMENT_TITLES
from kit.pipeline import validate
from kit.sources import gsheet
from kit.sources.gsheet import GSheetSource, SheetSpec
from kit.sources.xlsx import XlsxSource
from tests.conftest import AS_OF, BASE, assert_well_formed, write_ods, write_text_xlsx
from tests.fake_gspread import FakeGoogle
from tests.test_gsheet import KEY, TITLE, google_project, service_account_info

AS_OF_ARG = ("--as-of", AS_OF.isoformat())
PAYLOADS = (
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("http://x")',
    "=cmd|' /C calc'!A0",
    " =2+3",  # the kit trims the space: what it writes starts with "="
)
N = len(PAYLOADS)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
EXTRA_SHEET = "=1+1"  # a tab the kit does not know; it is copied into annotated copies and snapshots
EXTRA_HEADER = "=SUM(A1)"  # a column the kit does not know

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_FORMULA_TAG = re.compile(rb"<(\w+:)?f[\s>/]")


def p(i: int) -> str:
    return PAYLOADS[i % N]


def ident(i: int, tag: str) -> str:
    """An id that starts with a payload, distinct for each i even after trimming."""
    return f"{p(i)}{tag}{i}"


STAFF = [ident(i, "S") for i in range(3)]
GOOD_ROWS = range(2, N + 2)  # spreadsheet rows of the valid records on each sheet
BAD_ROW = N + 2  # first row of the entries that have errors


def hostile_book() -> dict[str, list[list[object]]]:
    """A workbook whose every text field starts like a formula.

    Each resident i earns 20 points on 2026-03-05 (resident 0: a ×2 bonus, 40),
    corrected by an appeal to 30, and redeems 5 on 2026-04-01: balance 25."""
    date, day_after = dt.date(2026, 3, 5), dt.date(2026, 3, 7)
    return {
        "设置": [["项目", "值"], ["名称", p(0)], ["单位", p(1)], ["积分有效期(月)", 12],
               ["化名密钥", "7e57c0de5ec2e7a9b1d4f6083c5a2e91"], [p(7), p(6)]],  # the last: an unknown setting
        "网格": [["网格编号", "网格名称", "所属社区"]]
        + [[ident(i, "G"), p(i), p(i + 1)] for i in range(N)],
        "工作人员": [["工号", "姓名", "角色"], [STAFF[0], p(2), "登记员"], [STAFF[1], p(3), "审核员"],
                 [STAFF[2], p(4), "管理员"]],
        "居民": [["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态", EXTRA_HEADER]]
        + [[ident(i, "R"), p(i), ident(i, "G"), 1956, None, "是", None, "在册", p(i + 5)] for i in range(N)],
        "积分规则": [["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"]]
        + [[ident(i, "K"), p(i), p(i + 1), 10, p(i + 2), None, "否", p(i + 3), p(i + 4), "是"] for i in range(N)],
        "加分规则": [["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
                 [p(5), p(1), ident(0, "K"), dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                  dt.time(20, 0), dt.time(6, 0), 2]],
        "积分记录": [["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"]]
        + [[ident(i, "E"), date, dt.time(20, 30), ident(i, "R"), ident(i, "K"), 2, p(i), STAFF[0], STAFF[1], None,
            "通过"] for i in range(N)]
        + [  # payloads where the kit expects something else: problems on payload cells
            [ident(0, "X"), date, None, ident(0, "R"), ident(0, "K"), p(0), p(1), STAFF[0], STAFF[1], None, "通过"],
            [ident(1, "X"), date, None, p(6), ident(1, "K"), 1, p(3), STAFF[0], STAFF[1], None, "通过"],
            [ident(2, "X"), date, p(2), ident(2, "R"), ident(2, "K"), 1, p(4), STAFF[0], STAFF[1], None, p(7)],
        ],
        "奖品": [["编码", "名称", "类型", "所需积分", "库存", "说明"]]
        + [[ident(i, "J"), p(i), "物质", 5, 100, p(i + 1)] for i in range(N)],
        "兑换记录": [["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"]]
        + [[ident(i, "D"), dt.date(2026, 4, 1), ident(i, "R"), ident(i, "J"), 1, STAFF[0]] for i in range(N)],
        "申诉": [["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"]]
        + [[ident(i, "A"), day_after, ident(i, "R"), ident(i, "E"), p(i), "更正", 30, dt.date(2026, 3, 10)]
           for i in range(N)],
        EXTRA_SHEET: [[v] for v in PAYLOADS],
    }


def text_cells(sheets: dict[str, list[list[object]]]) -> dict[tuple[str, str], str]:
    """(sheet, A1) → text of every string cell of a workbook given as rows."""
    found = {}
    for name, rows in sheets.items():
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, str):
                    found[(name, f"{openpyxl.utils.get_column_letter(c)}{r}")] = value
    return found


def payload_cells(sheets: dict[str, list[list[object]]]) -> dict[tuple[str, str], str]:
    """The string cells that hold a payload (most of the text of the book)."""
    return {where: text for where, text in text_cells(sheets).items() if any(x in text for x in PAYLOADS)}


# --- writing and reading xlsx at the XML level ---------------------------------------------


def formulas(path: Path) -> list[str]:
    """Every <f> element in any worksheet part of the xlsx."""
    found = []
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        assert members, archive.namelist()
        for member in members:
            data = archive.read(member)
            found += [f"{member}: {m.group(0)!r}" for m in _FORMULA_TAG.finditer(data)]
            found += [f"{member}: <f>{el.text}" for el in ElementTree.fromstring(data).iter()
                      if el.tag.rpartition("}")[2] == "f"]
    return found


def xml_cells(path: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(sheet name, A1) → (cell type attribute, text) straight from the xlsx's XML.

    Shared strings (t="s") are looked up; inline strings (t="inlineStr") read from <is>;
    _xHHHH_ escapes decoded as Excel does."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        shared = []
        if "xl/sharedStrings.xml" in names:
            for si in ElementTree.fromstring(archive.read("xl/sharedStrings.xml")).iter(MAIN + "si"):
                shared.append("".join(t.text or "" for t in si.iter(MAIN + "t")))
        targets = {rel.get("Id"): rel.get("Target") for rel in rels}
        cells = {}
        for sheet in book.iter(MAIN + "sheet"):
            target = targets[sheet.get(RELS + "id")]
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            for c in ElementTree.fromstring(archive.read(member)).iter(MAIN + "c"):
                kind = c.get("t", "n")
                v = c.find(MAIN + "v")
                if kind == "s":
                    text = shared[int(v.text)]
                elif kind == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(MAIN + "t"))
                else:
                    text = v.text if v is not None else None
                if kind in ("s", "inlineStr"):
                    text = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)
                cells[(sheet.get("name"), c.get("r"))] = (kind, text)
    return cells


def assert_text_not_formulas(path: Path, expected: dict[tuple[str, str], str], cr_as_lf: bool = False) -> None:
    """No formula anywhere in the sheets, and each expected cell is a string holding its text.

    cr_as_lf: a CR may have come back as LF (test_google_sheet_exports_keep_carriage_returns
    is about that; here only formulas matter)."""
    assert formulas(path) == [], f"{path.name} holds formulas"
    cells = xml_cells(path)
    allowed = {where: {text, text.replace("\r", "\n") if cr_as_lf else text} for where, text in expected.items()}
    wrong = {where: cells.get(where) for where, texts in allowed.items()
             if cells.get(where) not in {(kind, text) for kind in ("s", "inlineStr") for text in texts}}
    assert not wrong, {where: (expected[where], got) for where, got in wrong.items()}


def assert_no_formula_fields(rows: list[list[str]]) -> None:
    for row in rows:
        for field in row:
            assert not field.startswith(FORMULA_STARTS) or NUMBER.fullmatch(field), (field, row)


# --- the CLI -------------------------------------------------------------------------------------


def run(*args: object, cwd: Path | None = None):
    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args], env={"KIT_DEBUG": None, "COLUMNS": "300"})
    finally:
        os.chdir(here)


def parse_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def hostile_xlsx(tmp_path) -> Path:
    sheets = hostile_book()
    path = write_text_xlsx(tmp_path / "台账.xlsx", sheets)
    # the input really holds text cells, not formulas, and the kit reads the payloads as typed
    assert formulas(path) == []
    cells = xml_cells(path)
    assert all(cells[where] == ("inlineStr", text) for where, text in payload_cells(sheets).items())
    read = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("居民").to_python()
    assert [row[1] for row in read[1:]] == list(PAYLOADS)
    return path


def trimmed(text: str) -> str:
    return text.strip()


def shown(text: str) -> str:
    """How a text field must appear in CSV: trimmed, and made inert when it starts like a formula."""
    text = trimmed(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def test_every_payload_starts_like_a_formula_once_trimmed():
    assert all(trimmed(x).startswith(FORMULA_STARTS) for x in PAYLOADS)
    assert len({trimmed(ident(i, "R")) for i in range(N)}) == N


# --- balances CSV -------------------------------------------------------------------------------


def test_balances_csv_writes_payloads_as_inert_text(hostile_xlsx):
    result = run("balances", hostile_xlsx, *AS_OF_ARG, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "4 个错误" in result.stderr  # the bad entry rows: quantity; resident; time and status
    rows = parse_csv(result.stdout)
    assert tuple(rows[0]) == BALANCE_TITLES
    assert_no_formula_fields(rows)
    expected = sorted(
        [shown(ident(i, "R")), shown(p(i)), shown(ident(i, "G")), "30", "5", "0", "25", "0"] for i in range(N))
    assert sorted(rows[1:]) == expected
    assert all(field.startswith("'") for row in rows[1:] for field in row[:3])


def test_statement_csv_writes_payloads_as_inert_text(hostile_xlsx):
    for i in range(N):
        resident = trimmed(ident(i, "R"))
        result = run("balances", hostile_xlsx, *AS_OF_ARG, "--format", "csv", f"--resident={resident}")
        assert result.exit_code == 0, (resident, result.output)
        rows = parse_csv(result.stdout)
        assert tuple(rows[0]) == STATEMENT_TITLES
        assert_no_formula_fields(rows)
        earned = f"{trimmed(p(i))} 2 {trimmed(p(i + 2))}"
        base = 20
        if i == 0:
            earned += f"（{trimmed(p(5))} ×2）"
            base = 40
        assert rows[1:] == [
            ["2026-03-05", "获得", shown(earned), str(base), str(base), f"积分记录 第 {i + 2} 行"],
            ["2026-03-05", "申诉更正",
             f"申诉 {trimmed(ident(i, 'A'))} 更正：记录 {trimmed(ident(i, 'E'))} 改为 30 分",
             str(30 - base), "30", f"申诉 第 {i + 2} 行"],
            ["2026-04-01", "兑换", f"兑换 {trimmed(p(i))}", "-5", "25", f"兑换记录 第 {i + 2} 行"],
        ], resident
        assert rows[1][2].startswith("'")


# --- annotated copies --------------------------------------------------------------------------


def test_annotated_copy_of_an_xlsx_keeps_payloads_as_text(hostile_xlsx, tmp_path):
    out = tmp_path / "批注.xlsx"
    result = run("validate", hostile_xlsx, *AS_OF_ARG, "--format", "json", "--annotate", out)
    assert result.exit_code == 1, result.output
    found = {(f["sheet"], f["row"], f["column"], f["code"]) for f in json.loads(result.stdout)}
    assert {("积分记录", BAD_ROW, "数量", "bad-number"), ("积分记录", BAD_ROW + 1, "居民编号", "unknown-resident"),
            ("积分记录", BAD_ROW + 2, "时间", "bad-time"), ("积分记录", BAD_ROW + 2, "状态", "bad-choice"),
            ("设置", 6, "项目", "unknown-setting")} <= found
    sheets = hostile_book()
    assert_text_not_formulas(out, text_cells(sheets))
    # the problem cells holding payloads were marked, and stay text
    ws = openpyxl.load_workbook(out)["积分记录"]
    assert ws[f"F{BAD_ROW}"].value == "=1+1" and ws[f"F{BAD_ROW}"].data_type == "s"
    assert "bad-number" in ws[f"F{BAD_ROW}"].comment.text and "“=1+1”不是数字" in ws[f"F{BAD_ROW}"].comment.text
    assert "unknown-resident" in ws[f"D{BAD_ROW + 1}"].comment.text
    assert ws[f"D{BAD_ROW + 1}"].value == '=HYPERLINK("http://x")'


def test_annotated_copy_of_an_ods_keeps_payloads_as_text(tmp_path):
    sheets = hostile_book()
    source = write_ods(tmp_path / "台账.ods", sheets)
    # what the kit reads from the ods (a CR cannot be in its XML: it reads as LF)
    book = python_calamine.CalamineWorkbook.from_path(str(source))
    expected = {}
    for (name, where), text in text_cells(sheets).items():
        column, row = openpyxl.utils.cell.coordinate_from_string(where)
        value = book.get_sheet_by_name(name).to_python(skip_empty_area=False)[row - 1][
            openpyxl.utils.column_index_from_string(column) - 1]
        assert value == text.replace("\r", "\n"), (name, where, value)
        expected[(name, where)] = value
    out = tmp_path / "批注.xlsx"
    result = run("validate", source, *AS_OF_ARG, "--annotate", out)
    assert result.exit_code == 1, result.output
    assert_text_not_formulas(out, expected)
    ws = openpyxl.load_workbook(out)["积分记录"]
    assert ws[f"F{BAD_ROW}"].value == "=1+1" and "bad-number" in ws[f"F{BAD_ROW}"].comment.text


def test_annotated_copy_quoting_control_characters_is_well_formed(tmp_path):
    """A problem's comment quotes the cell. A control character in the cell (typed or pasted;
    Excel stores it as _x001B_, the kit reads the character) must not go into the comment's
    XML as is: the copy would be a corrupt file that Excel repairs by dropping comments and
    openpyxl cannot open at all."""
    sheets = copy.deepcopy(BASE)
    sheets["积分记录"][1][5] = "两\x1b[31m"  # F2: bad-number
    sheets["居民"][1][2] = "G\x01"  # C2: unknown-grid
    source = write_text_xlsx(tmp_path / "台账.xlsx", sheets)
    assert XlsxSource(source).read("积分记录").rows[1][5] == "两\x1b[31m"
    out = tmp_path / "批注.xlsx"
    result = run("validate", source, *AS_OF_ARG, "--annotate", out)
    assert result.exit_code == 1, result.output
    assert_well_formed(out)  # the annotated copy is a well-formed xlsx
    wb = openpyxl.load_workbook(out)
    assert "bad-number" in wb["积分记录"]["F2"].comment.text
    assert "unknown-grid" in wb["居民"]["C2"].comment.text


# --- Google Sheet snapshots and annotated copies --------------------------------------------


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}s: nothing here should be retried")


@pytest.fixture
def google(monkeypatch) -> FakeGoogle:
    fake = FakeGoogle()
    monkeypatch.setattr(gsheet, "connect", fake.service_account)
    monkeypatch.setattr(gsheet, "GSheetSource", functools.partial(GSheetSource, sleep=no_sleep))
    return fake


@pytest.fixture
def remote(tmp_path) -> Path:
    """A project whose workbook is a Google Sheet; its key file outside the project."""
    creds = tmp_path / "kit-secrets" / "service-account.json"
    creds.parent.mkdir()
    creds.write_text(json.dumps(service_account_info()), encoding="utf-8")
    return google_project(tmp_path / "remote", creds)


def google_export(project: Path, how: str) -> Path:
    out = project / "out.xlsx"
    if how == "pull":
        result = run("pull", "-o", out, cwd=project)
        assert result.exit_code == 0, result.output
    else:
        result = run("validate", *AS_OF_ARG, "--annotate", out, cwd=project)
        assert result.exit_code == 1, result.output  # the bad entry rows
    assert "Traceback" not in result.output
    return out


@pytest.mark.parametrize("how", ["pull", "annotate"])
def test_google_sheet_exports_keep_payloads_as_text(how, google, remote):
    sheets = hostile_book()
    google.add(KEY, TITLE, sheets)
    assert all(google.cell(KEY, "居民", r, 2).formula is None for r in GOOD_ROWS)
    out = google_export(remote, how)
    assert_text_not_formulas(out, text_cells(sheets), cr_as_lf=True)
    assert openpyxl.load_workbook(out).sheetnames == list(sheets)


@pytest.mark.parametrize("how", ["pull", "annotate"])
def test_google_sheet_exports_keep_carriage_returns(how, google, remote):
    """A CR typed in the sheet comes back from the copy as a CR, not as a line feed.

    values_workbook writes the CR bare into the XML, where every reader turns it into
    LF (XML 1.0, 2.11); Excel writes it as _x000D_."""
    sheets = copy.deepcopy(BASE)
    sheets["居民"][1][1] = "\r=1"
    sheets["积分记录"][2][6] = "邻里\r\n噪音"
    sheets["积分记录"][1][3] = "R9"  # a problem, so that validate exits 1 as google_export expects
    google.add(KEY, TITLE, sheets)
    out = google_export(remote, how)
    cells = xml_cells(out)
    assert cells[("居民", "B2")] in (("s", "\r=1"), ("inlineStr", "\r=1"))
    assert cells[("积分记录", "G3")] in (("s", "邻里\r\n噪音"), ("inlineStr", "邻里\r\n噪音"))
    assert XlsxSource(out).read("积分记录").rows[2][6] == "邻里\r\n噪音"


@pytest.mark.parametrize("how", ["pull", "annotate"])
def test_google_sheet_exports_survive_control_characters(how, google, remote):
    """A cell holding a control character (pasted from another program) must not stop
    `kit pull` or the annotated copy. openpyxl refuses such text (IllegalCharacterError);
    Excel writes it escaped (_x0001_), which every reader decodes, so the copy validates
    exactly as the sheet does."""
    sheets = copy.deepcopy(BASE)
    sheets["居民"][1][1] = "张\x01三"
    sheets["积分记录"][2][6] = "噪音\x1b[31m"
    sheets["积分记录"][1][3] = "R9"  # a problem, so that validate exits 1 as google_export expects
    google.add(KEY, TITLE, sheets)
    out = google_export(remote, how)
    assert formulas(out) == []
    spec = SheetSpec(KEY, remote.parent / "kit-secrets" / "service-account.json")
    from_sheet = validate(GSheetSource(spec, connect=google.service_account, sleep=no_sleep), AS_OF)
    from_copy = validate(XlsxSource(out), AS_OF)
    assert [(x.sheet, x.row, x.column, x.code) for x in from_copy.problems] == \
        [(x.sheet, x.row, x.column, x.code) for x in from_sheet.problems]
    assert from_copy.book == from_sheet.book
