"""The example data: realistic, deterministic, valid, and the committed file is it."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from kit.example import END, START, example_book
from kit.pipeline import open_source, validate
from kit.template import write_book

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "sheets" / "example.xlsx"


@pytest.fixture(scope="module")
def book():
    return example_book()


def test_same_seed_same_book(book):
    assert example_book() == book
    assert example_book(seed=1) != book


def test_size_and_spread(book):
    assert len(book.residents) >= 300
    assert len(book.grids) == 4
    assert {r.grid_id for r in book.residents} == {g.grid_id for g in book.grids}
    assert len(book.entries) >= 5000
    dates = [e.date for e in book.entries]
    assert min(dates) == START and max(dates) == END
    assert (END - START).days >= 729
    statuses = collections.Counter(e.status for e in book.entries)
    assert statuses["pending"] > 50 and statuses["rejected"] > 50 and statuses["approved"] > 4000
    assert {r.kind for r in book.rewards} == {"goods", "honour", "service"}
    assert len(book.redemptions) >= 100
    assert {a.status for a in book.appeals} == {"open", "upheld", "corrected"}
    assert any(r.name_consent for r in book.residents) and not all(r.name_consent for r in book.residents)


def test_the_rules_of_the_seed(book):
    rules = {r.code: r for r in book.rules}
    assert (rules["XL01"].name, rules["XL01"].points, rules["XL01"].unit) == ("治安巡逻", 10, "小时")
    assert rules["YH01"].points == 20 and "隐患" in rules["YH01"].name
    assert rules["TJ01"].points == 20 and rules["TJ01"].category == "矛盾调解"
    assert rules["TJ01"].double_review
    night = next(b for b in book.bonuses if "夜间" in b.name)
    assert (night.rule_code, night.start_time, night.end_time, night.multiplier) == (
        "XL01", dt.time(20), dt.time(6), Decimal(2))
    assert any("春节" in b.name and b.start_date and b.end_date for b in book.bonuses)


def test_the_annual_cap_never_binds(book):
    # The redemption generator's safety argument assumes the annual cap never
    # cuts: even at the largest multiplier every resident-year stays below it.
    rules = {r.code: r for r in book.rules}
    top = max(b.multiplier for b in book.bonuses)
    per_day = collections.Counter()
    per_year = collections.Counter()
    for e in book.entries:
        if e.status != "approved":
            continue
        rule = rules[e.rule_code]
        points = int(rule.points * e.quantity * top)
        key = (e.resident_id, e.rule_code, e.date)
        points = min(points, rule.daily_cap - per_day[key])
        per_day[key] += points
        per_year[(e.resident_id, e.date.year)] += points
    assert max(per_year.values()) < book.settings.annual_cap


def test_example_validates_without_errors(book, tmp_path):
    path = tmp_path / "example.xlsx"
    write_book(path, book)
    result = validate(open_source(path), END)
    assert result.errors == ()
    # busy patrollers hit the daily cap; the demo's secret is public (refused outside the demo)
    assert {p.code for p in result.warnings} == {"capped-entry", "public-pseudonym-secret"}
    assert result.book == book  # the template round-trips every value


def _cells(path: Path) -> dict[str, list[list[object]]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names}


def test_committed_example_is_what_the_generator_makes(tmp_path):
    fresh = tmp_path / "fresh.xlsx"
    write_book(fresh, example_book())
    assert _cells(COMMITTED) == _cells(fresh)  # regenerate: python -m kit.example sheets/example.xlsx
