"""`kit balances`: the counter's list and one resident's statement."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner

from kit.cli import cli
from kit.counter import BALANCE_KEYS, BALANCE_TITLES

from tests.conftest import write_xlsx

EXAMPLE_AS_OF = "2026-11-15"


def run(*args: str):
    """Invoke kit; .stdout is the command's output, .stderr its reminders."""
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def workbook(tmp_path, base):
    # R1: 2 h patrol at 20:30 (20) + a 3 h patrol on the next day (30), redeems 1 × 40
    base["积分记录"].append(["E3", dt.date(2026, 3, 6), None, "R1", "XL", 3, None, "S1", "S2", None, "通过"])
    base["积分记录"].append(["E4", dt.date(2026, 3, 7), None, "R1", "XL", 1, None, "S1", None, None, "待审核"])
    base["奖品"] = [["编码", "名称", "类型", "所需积分", "库存"], ["JP1", "洗衣液", "物质", 40, 10]]
    base["兑换记录"] = [["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
                     ["D1", dt.date(2026, 4, 1), "R1", "JP1", 1, "S1"]]
    base["居民"].append(["R3", "@SUM(1+1)", "G1", None, None, None, None, None])
    return write_xlsx(tmp_path / "ledger.xlsx", base)


def test_json_lists_every_resident_with_the_ledger_numbers(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [tuple(r) for r in rows] == [BALANCE_KEYS] * 3
    assert rows[0] == {"resident_id": "R1", "name": "张三", "grid_id": "G1", "earned": 50,
                       "redeemed": 40, "decayed": 0, "balance": 10, "expiring_30d": 0}
    assert rows[1]["earned"] == rows[1]["balance"] == 20  # R2: one mediation


def test_balances_decay_with_the_as_of_date(workbook):
    rows = json.loads(run("balances", str(workbook), "--as-of", "2027-03-06", "--format", "json").stdout)
    # 2027-03-05: E1's 20 were used by the redemption; 2027-03-06: the 10 left of E3 → 5
    assert (rows[0]["decayed"], rows[0]["balance"]) == (5, 5)
    assert rows[1]["decayed"] == 10 and rows[1]["balance"] == 10  # R2's 20 of 2026-03-06 halved


def test_csv_is_safe_to_open_in_excel(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(result.stdout.lstrip("\ufeff"))))
    assert tuple(rows[0]) == BALANCE_TITLES
    assert rows[3][:2] == ["R3", "'@SUM(1+1)"]
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_table_for_the_counter(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30")
    assert result.exit_code == 0
    assert "积分余额（统计日 2026-06-30）" in result.output
    assert "张三" in result.output


def test_resident_statement_explains_the_balance(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30", "--resident", "R1")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "张三（R1，网格 G1）" in text
    assert "获得 50 − 已兑换 40 − 已衰减 0 = 余额 10" in text
    assert "治安巡逻 2 小时" in text and "积分记录 第 2 行" in text
    assert "兑换 洗衣液" in text and "兑换记录 第 2 行" in text
    assert "待审核，审核通过后计分" in text  # E4 is pending


def test_resident_statement_as_json_has_running_balances(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30", "--resident", "R1", "--format", "json")
    data = json.loads(result.stdout)
    assert [(l["change"], l["balance"]) for l in data["lines"]] == [(20, 20), (30, 50), (-40, 10)]
    assert data["balance"] == 10


def test_unknown_resident_is_exit_2(workbook):
    result = run("balances", str(workbook), "--as-of", "2026-06-30", "--resident", "R99")
    assert result.exit_code == 2
    assert "R99" in result.output and "Traceback" not in result.output


def test_errors_are_left_out_and_said_on_stderr(tmp_path, base):
    base["积分记录"][2][3] = "R9"  # E2 names an unknown resident
    path = write_xlsx(tmp_path / "bad.xlsx", base)
    result = run("balances", str(path), "--as-of", "2026-06-30", "--format", "json")
    assert result.exit_code == 0
    assert "1 个错误" in result.stderr
    assert [r["earned"] for r in json.loads(result.stdout)] == [20, 0]


def test_invariant_over_the_whole_example():
    result = run("balances", "sheets/example.xlsx", "--as-of", EXAMPLE_AS_OF, "--format", "json")
    rows = json.loads(result.stdout)
    assert len(rows) == 320
    for r in rows:
        assert r["earned"] - r["redeemed"] - r["decayed"] == r["balance"] >= 0
    assert sum(r["redeemed"] for r in rows) > 0 and sum(r["decayed"] for r in rows) > 0
