"""What staff read first: validate's text output (errors first, warnings by code, 80 columns),
suggestions for mistyped codes and ids, the annotate line, and the counter's lookups.

Real workbooks through the real command (click's CliRunner with COLUMNS=80, the width of
an office's console window).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from rich.cells import cell_len

from kit.cli import cli
from kit.counter import BALANCE_KEYS, BALANCE_TITLES, STATEMENT_KEYS, STATEMENT_TITLES
from kit.problem_text import _wrapped
from kit.problems import CATALOGUE, Severity
from kit.suggest import Suggester, edit_distance
from tests.conftest import BASE, OPTIONAL, write_xlsx

EXAMPLE = Path(__file__).resolve().parent.parent / "sheets" / "example.xlsx"
EXAMPLE_AS_OF = ["--as-of", "2026-11-15"]
AS_OF = ["--as-of", "2026-06-30"]
PUNCTUATION = "，。；：、？！）"


def kit(*args: object, columns: int = 80):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": str(columns), "KIT_DEBUG": None})


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def sheets() -> dict:
    book = copy.deepcopy(BASE)
    book.update(copy.deepcopy(OPTIONAL))
    return book


def set_cell(book: dict, sheet: str, row: int, header: str, value) -> None:
    book[sheet][row - 1][book[sheet][0].index(header)] = value


# --------------------------------------------------------------------------- the text output


def test_the_example_fits_one_screen_at_80_columns():
    result = kit("validate", EXAMPLE, *EXAMPLE_AS_OF)
    assert result.exit_code == 0, result.output
    shown = lines(result.stdout)
    assert len(shown) <= 40, result.stdout
    assert all(cell_len(line) <= 80 for line in shown), [line for line in shown if cell_len(line) > 80]
    assert shown[0] == "提醒 163 个（不影响发布，但请核对）："
    capped = next(n for n, line in enumerate(shown) if "capped-entry" in line)
    assert shown[capped] == "  capped-entry 162 条：超出每日或年度上限的部分没有计分"
    assert shown[capped + 1] == "    （如 积分记录 F47、F53、F173）"
    assert shown[-1] == "! example.xlsx：0 个错误，163 个提醒。提醒不影响发布，但请核对。"
    assert sum("F47" in line for line in shown) == 1  # not one line per warning


def test_all_lists_every_warning_and_json_stays_complete():
    every = kit("validate", EXAMPLE, *EXAMPLE_AS_OF, "--all", columns=200)
    assert every.exit_code == 0
    capped = [line for line in lines(every.stdout) if "capped-entry：" in line]
    assert len(capped) == 162 and capped[0].startswith("  F47 数量 capped-entry：这条记录应得")
    found = json.loads(kit("validate", EXAMPLE, *EXAMPLE_AS_OF, "--format", "json").stdout)
    assert len(found) == 163 and sum(p["code"] == "capped-entry" for p in found) == 162


@pytest.fixture
def noisy(tmp_path) -> Path:
    """300 capped patrols (warnings) and, in the last rows, two errors."""
    book = sheets()
    for n in range(300):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=n % 150)
        resident = "R1" if n < 150 else "R2"
        book["积分记录"].append([f"C{n}", day, None, resident, "XL", 5, None, "S1", "S2", None, "通过"])
    book["积分记录"].append(["C900", dt.date(2026, 6, 1), None, "R1", "XLO", 1, None, "S1", "S2", None, "通过"])
    book["积分记录"].append(["C901", dt.date(2026, 6, 1), None, "R1", "XL", "两", None, "S1", "S2", None, "通过"])
    return write_xlsx(tmp_path / "noisy.xlsx", book)


def test_errors_come_first_among_hundreds_of_warnings(noisy):
    result = kit("validate", noisy, *AS_OF)
    assert result.exit_code == 1, result.output
    shown = lines(result.stdout)
    assert shown[0] == "错误 2 个（请先改正，有错误的行不计入任何统计）："
    assert shown[1] == "工作表“积分记录”（2 个）"
    rule = next(n for n, line in enumerate(shown) if "unknown-rule" in line)
    number = next(n for n, line in enumerate(shown) if "bad-number" in line)
    assert rule < 15 and number < 15
    assert shown[rule].startswith("  E304 规则编码 unknown-rule：") and shown[number].startswith("  F305 数量 bad-number")
    assert shown.index("提醒 300 个（不影响发布，但请核对）：") > number
    assert "  capped-entry 300 条：超出每日或年度上限的部分没有计分" in shown
    assert len(shown) <= 20
    assert shown[-1] == "✗ noisy.xlsx：2 个错误，300 个提醒。改正后再运行一次。"


def test_build_lists_the_errors_only(tmp_path, noisy):
    from tests.conftest import make_project, run_kit

    project = make_project(tmp_path / "p", sheets())
    shutil.copyfile(noisy, project / "sheets" / "ledger.xlsx")
    result = run_kit(project, "build", *AS_OF)
    assert result.exit_code == 1
    assert "unknown-rule" in result.output and "capped-entry" not in result.output


def test_no_phrase_is_cut_at_80_columns(noisy):
    """Every break falls after a phrase's punctuation or before a parenthesis."""
    result = kit("validate", noisy, *AS_OF, "--all")
    shown = lines(result.stdout)
    for line, after in zip(shown, shown[1:]):
        assert cell_len(line) <= 80
        if after.startswith("    "):  # a continuation
            assert line[-1] in PUNCTUATION or after.lstrip().startswith("（"), (line, after)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["规则", "编码", "XL01", "治安巡逻", " 2 小时", "，", "。", "（少计 20 分）",
                                 "kit rotate-secret", "请从下拉列表选择", "“居民”"]), min_size=1, max_size=40),
       st.integers(min_value=40, max_value=120))
def test_wrapping_keeps_every_character_and_the_width(parts, width):
    text = "".join(parts)
    wrapped = [line.text for line in _wrapped(text, width, "  E12 规则编码 unknown-rule：", "    ")]
    assert all(cell_len(line) <= width for line in wrapped)
    rebuilt = wrapped[0][len("  E12 规则编码 unknown-rule："):] + "".join(line[4:] for line in wrapped[1:])
    assert rebuilt.replace(" ", "") == text.replace(" ", "")


def test_a_blank_status_is_said_once(tmp_path):
    book = sheets()
    for n in range(12):
        book["积分记录"].append([f"P{n}", dt.date(2026, 5, 1), None, "R1", "XL", 1, None, "S1", None, None, None])
    found = json.loads(kit("validate", write_xlsx(tmp_path / "b.xlsx", book), *AS_OF, "--format", "json").stdout)
    blank = [p for p in found if p["code"] == "blank-entry-status"]
    assert len(blank) == 1 and blank[0]["row"] is None and blank[0]["column"] == "状态"
    assert blank[0]["message"].startswith("12 条记录没有填状态，按待审核处理，不计分（如第 4、5、6 行）")


def test_every_warning_has_a_meaning_for_its_summary_line():
    assert [c.code for c in CATALOGUE.values() if c.severity is Severity.WARNING and not c.summary] == []


# --------------------------------------------------------------------------- suggestions


@pytest.mark.parametrize("sheet, row, header, typed, hint", [
    ("居民", 2, "网格", "g1", "是不是 G1（第一网格）？"),
    ("积分记录", 2, "居民编号", "Rl", "是不是 R1（张三）？"),  # full-width ids are read as half-width already
    ("积分记录", 2, "规则编码", "XI", "是不是 XL（治安巡逻）？"),  # I, l and 1 look alike
    ("积分记录", 2, "规则编码", "XY", None),  # two letters, no look-alike: too short to guess
    ("积分记录", 2, "登记人", "SI", "是不是 S1（王芳）？"),
    ("积分记录", 2, "登记人", "s1", "是不是 S1（王芳）？"),
    ("积分记录", 2, "审核人1", "S 2", "是不是 S2（李强）？"),
    ("兑换记录", 2, "奖品编码", "JPl", "是不是 JP1（洗衣液）？"),
    ("兑换记录", 2, "经办人", "s3", "是不是 S3（赵敏）？"),
    ("申诉", 2, "记录编号", "e1", "是不是 E1（R1 2026-03-05）？"),
    ("加分规则", 2, "适用类别", "平安巡访", "是不是 平安巡防？"),
])
def test_each_kind_of_reference_suggests_the_closest(tmp_path, sheet, row, header, typed, hint):
    book = sheets()
    set_cell(book, sheet, row, header, typed)
    path = write_xlsx(tmp_path / "b.xlsx", book)
    found = json.loads(kit("validate", path, *AS_OF, "--format", "json").stdout)
    mine = [p for p in found if p["sheet"] == sheet and p["row"] == row and p["column"] == header]
    assert mine, found
    if hint is None:
        assert "是不是" not in mine[0]["message"]
    else:
        assert f"，{hint}" in mine[0]["message"]


def test_the_issue_example_and_the_annotated_copy(tmp_path):
    book = sheets()
    book["积分规则"].append(["XL01", "治安巡逻", "平安巡防", 10, "小时", None, "否", None, None, "是"])
    set_cell(book, "积分记录", 2, "规则编码", "XLO1")
    path = write_xlsx(tmp_path / "b.xlsx", book)
    out = tmp_path / "marked.xlsx"
    result = kit("validate", path, *AS_OF, "--annotate", out)
    assert result.exit_code == 1
    assert "“积分规则”表中没有编码“XLO1”的规则，是不是 XL01（治安巡逻）？请从下拉列表选择。" in result.stdout.replace(
        "\n    ", "")
    comment = openpyxl.load_workbook(out)["积分记录"]["E2"].comment.text
    assert "是不是 XL01（治安巡逻）？" in comment
    told = lines(result.stderr)[-1]
    assert told.startswith(f"已另存批注副本：{out}（标出 ") and f"请在原表格 {path} 里改正" in told


def test_suggester_orders_by_likeness_then_sheet_order():
    near = Suggester(["R0002", "R0020", "R0200", "X1"])
    assert near.near("R00020") == ["R0002", "R0020"]
    assert near.near("r0o2o") == ["R0020"]  # a look-alike beats an edit
    assert near.near("QQQQQ") == []
    assert edit_distance("XL01", "XL10") == 1 and edit_distance("abc", "") == 3


def test_a_hundred_thousand_ids_are_indexed_once():
    ids = [f"R{n:06d}" for n in range(100_000)]
    near = Suggester(ids)
    assert near.near("RO12345") == ["R012345"] and near.near("r012345") == ["R012345"]
    found = near.near("R0001234")  # one key too many: every id one deletion away, in sheet order
    assert found == ["R000123", "R000124", "R000134"]
    assert all(edit_distance("R0001234", f) == 1 for f in found)


# --------------------------------------------------------------------------- the counter


@pytest.fixture
def counter_book(tmp_path) -> Path:
    book = sheets()
    book["居民"].append(["R3", "张三", "G2", 1980, "139 0000 1234", "否", None, "在册"])
    book["积分记录"].append(["E3", dt.date(2026, 3, 7), None, "R3", "XL", 1, None, "S1", "S2", None, "通过"])
    return write_xlsx(tmp_path / "c.xlsx", book)


@pytest.mark.parametrize("asked", ["r2", "Ｒ２", " R2 ", "李四"])
def test_one_resident_by_id_in_any_case_or_width_or_by_name(counter_book, asked):
    result = kit("balances", counter_book, *AS_OF, "--resident", asked)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("李四（R2，网格 G2）")
    assert "余额 20" in result.stdout


def test_a_shared_name_lists_everyone_to_pick_from(counter_book):
    result = kit("balances", counter_book, *AS_OF, "--resident", "张三", columns=120)
    assert result.exit_code == 0, result.output
    assert "姓名是“张三”的居民有 2 位" in result.stdout
    rows = [line for line in lines(result.stdout) if "张三" in line and "│" in line]
    assert len(rows) == 2 and "R1" in rows[0] and "G1" in rows[0] and "1956" in rows[0]
    assert "R3" in rows[1] and "G2" in rows[1] and "1980" in rows[1]
    as_json = json.loads(kit("balances", counter_book, *AS_OF, "--resident", "张三", "--format", "json").stdout)
    assert [(r["resident_id"], r["grid_id"], r["birth_year"]) for r in as_json] == [("R1", "G1", 1956),
                                                                                    ("R3", "G2", 1980)]


def test_the_last_four_digits_of_a_phone(counter_book):
    result = kit("balances", counter_book, *AS_OF, "--resident", "1234")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("张三（R3，网格 G2）") and "余额 10" in result.stdout


def test_nobody_found_names_the_closest_id(counter_book):
    result = kit("balances", counter_book, *AS_OF, "--resident", "R33")
    assert result.exit_code == 2
    assert "resident-not-found" in result.output
    assert "按居民编号、姓名和手机后 4 位都没有找到，是不是 R3（张三）？" in result.output.replace("\n", "")


def test_csv_headers_are_chinese_unless_keys_are_asked(counter_book):
    def header(*extra):
        text = kit("balances", counter_book, *AS_OF, "--format", "csv", *extra).stdout
        return tuple(next(csv.reader(io.StringIO(text.lstrip("\ufeff")))))

    assert header() == BALANCE_TITLES == ("居民编号", "姓名", "网格", "获得", "已兑换", "已衰减", "余额", "30天内将衰减")
    assert header("--keys") == BALANCE_KEYS
    assert header("--resident", "R1") == STATEMENT_TITLES
    assert header("--resident", "R1", "--keys") == STATEMENT_KEYS
    text = kit("balances", counter_book, *AS_OF, "--format", "csv", "--resident", "R1").stdout
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1][:2] == ["2026-03-05", "获得"]
