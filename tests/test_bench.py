"""The benchmark scripts (bench/) at a small size: the generated book is
deterministic, the size asked for, valid, and the runner prints its figures."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.cell import Cell
from python_calamine import CalamineWorkbook

from bench.generate import AS_OF, COMMUNITIES, _converter, big_book, write_workbook
from kit.example import END, START
from kit.pipeline import open_source, validate
from kit.schema import SHEETS
from kit.template import _cell

REPO = Path(__file__).resolve().parent.parent
SIZE = dict(residents=300, entries=3000, redemptions=100)
LEDGER_ERRORS = {"redemption-overdraft", "out-of-stock"}  # the engine reports these; allowed


@pytest.fixture(scope="module")
def book():
    return big_book(**SIZE)


@pytest.fixture(scope="module")
def workbook(book, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "big.xlsx"
    write_workbook(book, path)
    return path


def test_same_seed_same_book(book):
    assert big_book(**SIZE) == book
    assert big_book(**SIZE, seed=8) != book


def test_requested_size_and_shape(book):
    assert len(book.residents) == 300
    assert len(book.entries) == 3000
    assert len(book.redemptions) == 100
    assert len(book.appeals) == 15  # 0.5 % of the entries
    per_community = collections.Counter(g.community for g in book.grids)
    assert set(per_community) == set(COMMUNITIES)
    assert all(4 <= n <= 8 for n in per_community.values())
    statuses = collections.Counter(e.status for e in book.entries)
    assert statuses["approved"] > 2500 and statuses["pending"] > 0 and statuses["rejected"] > 0
    assert all(START <= e.date <= END for e in book.entries)
    assert [e.row for e in book.entries] == list(range(2, 3002))
    assert len({e.entry_id for e in book.entries}) == 3000
    assert [(e.date, e.row) for e in book.entries] == sorted((e.date, e.row) for e in book.entries)


def test_reviews_are_valid(book):
    rules = {r.code: r for r in book.rules}
    reviewers = {s.staff_id for s in book.staff if s.can_review}
    for entry in book.entries:
        if entry.status == "pending":
            continue
        assert entry.reviewer1 in reviewers and entry.reviewer1 != entry.recorder
        if rules[entry.rule_code].double_review:
            assert entry.reviewer2 in reviewers
            assert entry.reviewer2 not in (entry.recorder, entry.reviewer1)
        else:
            assert entry.reviewer2 is None


def test_written_workbook_validates_and_reads_back_as_the_book(book, workbook):
    validated = validate(open_source(workbook), AS_OF)
    errors = [(p.code, p.sheet, p.row) for p in validated.errors if p.code not in LEDGER_ERRORS]
    assert errors == []
    assert validated.book == book
    assert len(validated.ledger.redemptions) >= 95  # mostly affordable
    assert all(a.balance >= 0 for a in validated.ledger.accounts.values())


def test_workbook_layout_is_the_templates(workbook):
    wb = CalamineWorkbook.from_path(str(workbook))
    assert wb.sheet_names == ["说明"] + [s.zh for s in SHEETS]
    for sheet in SHEETS:
        header = wb.get_sheet_by_name(sheet.zh).to_python()[0]
        expected = [c.zh for c in sheet.columns] + (["说明"] if sheet.key == "settings" else [])
        assert header == expected
    residents = wb.get_sheet_by_name("居民").to_python()
    assert {row[5] for row in residents[1:]} == {"是", "否"}
    entries = wb.get_sheet_by_name("积分记录").to_python()
    assert {row[10] for row in entries[1:]} == {"通过", "待审核", "驳回"}


def test_fast_cells_equal_the_templates_cells(book):
    ws = Workbook(write_only=True).create_sheet("x")
    for sheet in SHEETS:
        if sheet.key == "settings":
            continue
        converters = [(col, _converter(ws, col)) for col in sheet.columns]
        for record in getattr(book, sheet.key)[:500]:
            for col, convert in converters:
                value = getattr(record, col.key)
                fast = convert(value)
                if isinstance(fast, Cell):
                    assert fast.number_format == "hh:mm"
                    fast = fast.value
                assert fast == _cell(col, value), (sheet.key, record.row, col.key)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_ledger_script_runs(tmp_path):
    done = _run(str(REPO / "bench" / "ledger.py"), "--residents", "60", "--entries", "400",
                "--redemptions", "10")
    assert done.returncode == 0, done.stderr
    assert "compute time" in done.stdout
    assert "tracemalloc peak during compute" in done.stdout
    assert "holds for all 60 accounts" in done.stdout


def test_generate_then_ledger_on_the_workbook(tmp_path):
    path = tmp_path / "tiny.xlsx"
    made = _run(str(REPO / "bench" / "generate.py"), str(path), "--residents", "60",
                "--entries", "400", "--redemptions", "10")
    assert made.returncode == 0, made.stderr
    assert path.exists() and "generation" in made.stdout and "MB" in made.stdout
    done = _run(str(REPO / "bench" / "ledger.py"), "--workbook", str(path), "--no-tracemalloc")
    assert done.returncode == 0, done.stderr
    assert "reading alone" in done.stdout and "compute time" in done.stdout
    assert "workbook problems (validation, not ledger)      0" in done.stdout


def test_commands_bench_runs_every_command_at_a_small_size(tmp_path):
    """bench/commands.py end to end: a generated book, every command a real process."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "commands.py"), "--residents", "300", "--entries", "3000",
         "--redemptions", "100", "--dir", str(tmp_path / "p")],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}
    for label in ("raw read (calamine alone)", "kit validate", "kit balances", "kit build",
                  "kit build (unchanged)", "kit cards --grid"):
        assert label in lines, done.stdout
        assert " exit " not in lines[label], lines[label]
        wall, ratio = lines[label][26:].split()[:2]
        assert float(wall) > 0 and float(ratio) > 0
    assert (tmp_path / "p" / "private" / "balances.csv").read_text(encoding="utf-8-sig").startswith("居民编号,姓名,网格,获得,已兑换,已衰减,余额")
    assert (tmp_path / "p" / "private" / "cards.pdf").stat().st_size > 10_000
    site = {line.split()[0]: line for line in done.stdout.split("site/")[1].splitlines() if line.strip()}
    assert int(site["files"].split()[1]) > 100
    assert "search/search_index.json" not in site["largest"]
    assert "sealed" in done.stdout and "300" in site["sealed"]  # every resident has a card
