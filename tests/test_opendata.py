"""Open data (site/data/*.csv, *.json), 数据看板 and the home page: small cells are suppressed in
every published file, marked rather than dropped, and cannot be recovered from published totals.

One site is built (module scope) as of 2026-06-30 with 最小公布人数 5 from a community of 20 residents
in the register (and one who moved away):

    第一网格 A1–A10 (10)   第二网格 B1–B8 (8)   第三网格 C1, C2 (2: a small grid)
    老年 A1, B1 (2: a small age band)   中年 A2–A5, B2–B4 (7)   青年 A6–A10, B5–B8, C1, C2 (11)

2026, residents with a counted entry each month (points):
    January   B1–B8 patrol 1 h                            8 people   80
    February  C1 patrols 7 h, C2 6 h                        2 people  130   ← a small month
    March     A3–A8 mediate (矛盾调解)                      6 people  120
    April     A1, A2, B1–B8 patrol 2 h                     10 people  200
    May       B2–B4 环境整治 ×2, C1 C2 patrol 1 h, A3 A4 mediate   7 people   90
    June      B1–B8 and A1 patrol 1 h                       9 people   90
2025 (inside the 12 months shown): August B1–B4 and M1 (moved) 5 people, October A9 A10 C1 3 people
(a small month of a year whose total is not published), November A1–A6 6 people.

Categories in 2026: 平安巡防 12 people, 矛盾调解 6, 环境整治 3 (a small category).
平安巡防 is a hotspot in 第一网格: 2 of 10 against 12 of 20 (p ≈ 0.012), with only 2 people behind it.

The one suppression pass (kit/disclosure.py) hides 第三网格 and, as its complement, 第一网格 (8
participants, the next smallest, tied with 第二网格 and first by id); 老年 and its complement; February;
环境整治 and 矛盾调解 (always two categories); and the 2026 points total, because a month is hidden.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import html as htmllib
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kit.ledger import compute
from kit.model import Book, Entry, Grid, Resident, Rule, Settings, Staff
from kit.opendata import files as opendata_files
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.stats import Figures
from kit.views import site_view
from tests.conftest import BASE, make_project, run_kit

D = dt.date
AS_OF = D(2026, 6, 30)
MINIMUM = 5
SUPPRESSED = "不公布"
DATASETS = ("monthly", "categories", "grids", "age_bands", "hotspots")

# id, grid, birth year
RESIDENTS = (
    [("A1", "G1", 1950), ("A2", "G1", 1970), ("A3", "G1", 1975), ("A4", "G1", 1980), ("A5", "G1", 1981)]
    + [(f"A{i}", "G1", 1984 + i) for i in range(6, 11)]
    + [("B1", "G2", 1955), ("B2", "G2", 1968), ("B3", "G2", 1972), ("B4", "G2", 1978)]
    + [(f"B{i}", "G2", 1985 + i) for i in range(5, 9)]
    + [("C1", "G3", 1995), ("C2", "G3", 1998)]
)
A = [f"A{i}" for i in range(1, 11)]
B = [f"B{i}" for i in range(1, 9)]

# (date, resident, rule, quantity)
ENTRIES = (
    [(D(2025, 8, 12), rid, "XL", 1) for rid in B[:4] + ["M1"]]
    + [(D(2025, 10, 8), rid, "XL", 1) for rid in ("A9", "A10", "C1")]
    + [(D(2025, 11, 3), rid, "XL", 1) for rid in A[:6]]
    + [(D(2026, 1, 10), rid, "XL", 1) for rid in B]
    + [(D(2026, 2, 14), "C1", "XL", 7), (D(2026, 2, 15), "C2", "XL", 6)]
    + [(D(2026, 3, 7), rid, "TJ", 1) for rid in A[2:8]]
    + [(D(2026, 4, 11), rid, "XL", 2) for rid in ["A1", "A2"] + B]
    + [(D(2026, 5, 9), rid, "HJ", 2) for rid in ("B2", "B3", "B4")]
    + [(D(2026, 5, 16), rid, "XL", 1) for rid in ("C1", "C2")]
    + [(D(2026, 5, 23), rid, "TJ", 1) for rid in ("A3", "A4")]
    + [(D(2026, 6, 6), rid, "XL", 1) for rid in B + ["A1"]]
)


def _sheets() -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    sheets["设置"].append(["最小公布人数", MINIMUM])
    sheets["网格"] = [["网格编号", "网格名称", "所属社区"], ["G1", "第一网格", "幸福社区"],
                     ["G2", "第二网格", "幸福社区"], ["G3", "第三网格", "幸福社区"]]
    sheets["居民"] = [sheets["居民"][0]] + [
        [rid, f"居民{rid}", grid, birth, f"1380000{i:04d}", "否", None, "在册"]
        for i, (rid, grid, birth) in enumerate(RESIDENTS)] + [["M1", "居民M1", "G1", 1960, None, "否", None, "迁出"]]
    sheets["积分规则"] = [sheets["积分规则"][0],
                       ["XL", "治安巡逻", "平安巡防", 10, "小时", None, "否", None, None, "是"],
                       ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", None, None, "是"],
                       ["HJ", "环境整治", "环境整治", 5, "次", None, "否", None, None, "是"]]
    sheets["积分记录"] = [sheets["积分记录"][0]] + [
        [f"E{i}", day, None, rid, code, quantity, None, "S1", "S2", "S3" if code == "TJ" else None, "通过"]
        for i, (day, rid, code, quantity) in enumerate(ENTRIES, start=1)]
    sheets["奖品"] = [["编码", "名称", "类型", "所需积分"], ["JP1", "毛巾", "物质", 10]]
    sheets["兑换记录"] = [["编号", "日期", "居民编号", "奖品编码", "数量"]] + [
        [f"D{i}", D(2026, 6, 20), rid, "JP1", 1] for i, rid in enumerate(B[:5], start=1)]
    return sheets


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("opendata") / "幸福社区", _sheets())
    result = run_kit(root, "build", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def validated(site):
    result = validate(open_source(site / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors, result.errors
    return result


@pytest.fixture(scope="module")
def view(validated):
    return site_view(validated.book, validated.ledger)


@pytest.fixture(scope="module")
def year(validated):
    """The real (unsuppressed) figures for 2026, from kit.stats."""
    return Figures(validated.book, validated.ledger).period("2026", D(2026, 1, 1), AS_OF)


@pytest.fixture(scope="module")
def months(validated):
    return {p.label: p for p in Figures(validated.book, validated.ledger).months(12)}


def read_csv(site: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((site / "site" / "data" / f"{name}.csv").read_text("utf-8-sig"))))


def read_json(site: Path, name: str) -> dict:
    return json.loads((site / "site" / "data" / f"{name}.json").read_text("utf-8"))


def by_key(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def home_figures(site: Path) -> dict[str, int | None]:
    page = (site / "site" / "index.html").read_text("utf-8")
    found = {}
    for value, label in re.findall(r'kit-figure-value">(.*?)</div><div class="kit-figure-label">(.*?)</div>', page):
        value = re.sub(r"<small>.*?</small>", "", value)
        found[htmllib.unescape(label)] = None if value == SUPPRESSED else int(value.replace(",", ""))
    return found


def dashboard_page(site: Path) -> str:
    return (site / "site" / "dashboard" / "index.html").read_text("utf-8")


def table_rows(page: str, name: str) -> dict[str, list[str]]:
    """The rows (first cell → other cells) of the table that has a row for name."""
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        rows = {}
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                     for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            if cells:
                rows[cells[0]] = cells[1:]
        if name in rows:
            return rows
    raise AssertionError(f"no table with a row for {name}")


def chart_values(page: str, title: str) -> dict[str, str]:
    """Label → the text printed on its bar, for the SVG chart with this title."""
    svg = next(s for s in re.findall(r"<svg.*?</svg>", page, re.S) if f"<title>{title}</title>" in s)
    texts = [htmllib.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    if 'text-anchor="end"' in svg:  # horizontal bars: label, then value
        return dict(zip(texts[0::2], texts[1::2]))
    return {label: value for value, label in zip(texts[0::2], texts[1::2])}  # columns: value, then label


# --- the community is as described ----------------------------------------------------------


def test_the_small_cells_exist_in_the_real_figures(year, months):
    assert {g: (s.registered, s.participants) for g, s in year.by_grid.items()} == {
        "G1": (10, 8), "G2": (8, 8), "G3": (2, 2)}
    assert {b: (s.registered, s.participants) for b, s in year.by_age.items()} == {
        "老年": (2, 2), "中年": (7, 7), "青年": (11, 9)}
    assert {k: (p.took_part, p.issued) for k, p in months.items() if k.startswith("2026")} == {
        "2026-01": (8, 80), "2026-02": (2, 130), "2026-03": (6, 120), "2026-04": (10, 200),
        "2026-05": (7, 90), "2026-06": (9, 90)}
    assert months["2025-10"].took_part == 3 and months["2025-08"].took_part == 5
    assert year.people_by_category == {"平安巡防": 12, "矛盾调解": 6, "环境整治": 3}
    assert year.issued == 710


# --- small cells are suppressed in every published file ------------------------------------------


def test_small_grid_is_suppressed_in_csv_json_and_dashboard(site):
    row = by_key(read_csv(site, "grids"), "grid")["第三网格"]
    assert row == {"grid": "第三网格", "registered": SUPPRESSED, "participants": SUPPRESSED, "rate": SUPPRESSED,
                   "suppressed": "是"}
    record = by_key(read_json(site, "grids")["rows"], "grid")["第三网格"]
    assert record == {"grid": "第三网格", "registered": None, "participants": None, "rate": None, "suppressed": True}
    page = dashboard_page(site)
    assert table_rows(page, "第三网格")["第三网格"] == [SUPPRESSED] * 3
    assert chart_values(page, "各网格参与率")["第三网格"] == SUPPRESSED


def test_small_age_band_is_suppressed_in_csv_json_and_dashboard(site):
    row = by_key(read_csv(site, "age_bands"), "age_band")["老年"]
    assert row == {"age_band": "老年", "registered": SUPPRESSED, "participants": SUPPRESSED, "rate": SUPPRESSED,
                   "suppressed": "是"}
    record = by_key(read_json(site, "age_bands")["rows"], "age_band")["老年"]
    assert record == {"age_band": "老年", "registered": None, "participants": None, "rate": None, "suppressed": True}
    assert table_rows(dashboard_page(site), "老年")["老年"] == [SUPPRESSED] * 3


@pytest.mark.parametrize("month", ["2026-02", "2025-10"])
def test_small_month_is_suppressed_in_csv_json_and_dashboard(site, month):
    row = by_key(read_csv(site, "monthly"), "month")[month]
    assert row == {"month": month, "points": SUPPRESSED, "participants": SUPPRESSED, "suppressed": "是"}
    record = by_key(read_json(site, "monthly")["rows"], "month")[month]
    assert record == {"month": month, "points": None, "participants": None, "suppressed": True}
    page = dashboard_page(site)
    assert chart_values(page, "每月发放的积分")[month[2:]] == SUPPRESSED
    assert chart_values(page, "每月参与的居民")[month[2:]] == SUPPRESSED


def test_small_category_is_suppressed_in_csv_and_json(site):
    row = by_key(read_csv(site, "categories"), "category")["环境整治"]
    assert row == {"category": "环境整治", "points": SUPPRESSED, "participants": SUPPRESSED, "suppressed": "是"}
    record = by_key(read_json(site, "categories")["rows"], "category")["环境整治"]
    assert (record["points"], record["participants"], record["suppressed"]) == (None, None, True)
    chart = chart_values(dashboard_page(site), "各类活动的积分")
    assert chart["环境整治"] == SUPPRESSED and chart["平安巡防"] == "520"  # 8 + 13 + 20 + 2 + 9 patrol hours


def test_hotspots_of_hidden_grids_are_not_published(site):
    """第一网格 is hidden this year (the complement of 第三网格): its 平安巡防 hotspot (2 of 10, a
    rate over 2 people) is not published anywhere, neither as a rate nor as a line."""
    assert [row for row in read_csv(site, "hotspots") if row["grid"] in ("第一网格", "第三网格")] == []
    assert [r for r in read_json(site, "hotspots")["rows"] if r["grid"] in ("第一网格", "第三网格")] == []
    page = htmllib.unescape(dashboard_page(site))
    assert "第一网格 平安巡防" not in page and "参与率 20%" not in page


def test_hotspot_over_few_people_shows_no_rate():
    """A hotspot in a grid that is shown, but with fewer than 5 people behind its rate."""
    grids = (Grid(2, "G1", "第一网格", None), Grid(3, "G2", "第二网格", None), Grid(4, "G3", "第三网格", None))
    residents = tuple(Resident(i + 2, f"R{i}", f"居民{i}", ("G1", "G2", "G3")[i % 3], 1980, None, False, None,
                               "active") for i in range(60))
    rules = (Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True),
             Rule(3, "HJ", "环境整治", "环境整治", 5, "次", 0, False, None, None, True))
    g1 = [r.resident_id for r in residents if r.grid_id == "G1"]
    doers = [(r.resident_id, "XL") for r in residents if r.grid_id != "G1"] + [(rid, "XL") for rid in g1[:2]] \
        + [(rid, "HJ") for rid in g1[2:12]]  # 第一网格 takes part (12 of 20), just not in 平安巡防
    entries = tuple(Entry(i + 2, f"E{i}", D(2026, 3, 1), None, rid, code, Decimal(1), None, "S1", "S2", None,
                          "approved") for i, (rid, code) in enumerate(doers))
    book = Book(settings=Settings(min_group_size=MINIMUM), grids=grids,
                staff=(Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer")),
                residents=residents, rules=rules, entries=entries)
    view = site_view(book, compute(book, AS_OF))
    hotspots = {(h.grid, h.category): h.rate for h in view.dashboard.hotspots}
    assert hotspots[("第一网格", "平安巡防")] is None  # 2 of 20: the rate is over 2 people
    assert hotspots[("第二网格", "环境整治")] == 0.0  # over nobody: no one's data
    record = next(r for r in json.loads(opendata_files(view.dashboard)["hotspots.json"])["rows"]
                  if r["grid"] == "第一网格")
    assert (record["rate"], record["suppressed"]) == (None, True)
    assert any("第一网格 平安巡防 参与率 人数较少，不公布" in h.advice for h in view.dashboard.hotspots)


def test_real_small_values_are_not_published_anywhere(site, year, months):
    """The suppressed cells' values appear in no cell of any data file or dashboard table/chart."""
    data = {name: read_csv(site, name) for name in DATASETS}
    assert all(v != "130" for row in data["monthly"] for v in row.values())  # February's points
    page = dashboard_page(site)
    assert chart_values(page, "每月发放的积分")["26-02"] != "130"
    assert "130" not in chart_values(page, "每月发放的积分").values()
    assert "2" not in chart_values(page, "每月参与的居民").values()
    # 第三网格: 2 registered, 2 participants, 100%; 老年: 2 and 2
    assert table_rows(page, "第三网格")["第三网格"] == [SUPPRESSED] * 3
    assert chart_values(page, "各网格参与率")["第三网格"] == SUPPRESSED


def test_home_page_shows_the_totals(site, view, year):
    figures = home_figures(site)
    assert figures["居民"] == 20  # the register; M1 moved and took no part this year
    assert figures["2026 年参与居民"] == 18  # A1–A8, B1–B8, C1, C2
    assert figures["2026 年发放积分"] is None  # February is hidden: the total would give it back
    assert year.issued == 710
    assert figures["2026 年兑换次数"] == 5
    assert figures == {f.label: f.value for f in view.home.figures}


# --- totals do not give a hidden cell away (complementary suppression) ---------------------------------


def _hidden_cells(rows: list[dict[str, str]], key: str, column: str) -> tuple[list[str], int]:
    hidden = [row[key] for row in rows if row[column] == SUPPRESSED]
    shown = sum(int(row[column]) for row in rows if row[column] != SUPPRESSED)
    return hidden, shown


def _groups(site: Path, year, months) -> list[tuple[str, list[str], int, int | None, dict[str, int]]]:
    """(group, hidden cells, Σ shown, published total or None, real values) for every group of cells
    whose total the site publishes."""
    home = home_figures(site)
    grids, ages = read_csv(site, "grids"), read_csv(site, "age_bands")
    monthly = [row for row in read_csv(site, "monthly") if row["month"].startswith("2026")]
    categories = read_csv(site, "categories")
    names = {"G1": "第一网格", "G2": "第二网格", "G3": "第三网格"}
    found = []
    for title, rows, key, column, total, real in (
        ("grid residents", grids, "grid", "registered", home["居民"],
         {names[g]: s.registered for g, s in year.by_grid.items()}),
        ("grid participants", grids, "grid", "participants", home["2026 年参与居民"],
         {names[g]: s.participants for g, s in year.by_grid.items()}),
        ("age band residents", ages, "age_band", "registered", home["居民"],
         {b: s.registered for b, s in year.by_age.items()}),
        ("age band participants", ages, "age_band", "participants", home["2026 年参与居民"],
         {b: s.participants for b, s in year.by_age.items()}),
        ("2026 monthly points", monthly, "month", "points", home["2026 年发放积分"],
         {k: p.issued for k, p in months.items() if k.startswith("2026")}),
        ("category points", categories, "category", "points", home["2026 年发放积分"], year.points_by_category),
    ):
        hidden, shown = _hidden_cells(rows, key, column)
        found.append((title, hidden, shown, total, real))
    return found


def test_published_totals_are_the_sums_of_their_cells(site, year, months):
    for title, hidden, shown, total, real in _groups(site, year, months):
        if total is None:  # the points total: hidden with February
            assert title in ("2026 monthly points", "category points")
            continue
        assert sum(real.values()) == total, title  # the total really is the sum: the check below means something
        assert shown + sum(real[k] for k in hidden) == total, title


def test_no_single_hidden_cell_can_be_recovered_from_a_total(site, year, months):
    for title, hidden, shown, total, real in _groups(site, year, months):
        if total is not None:
            assert len(hidden) != 1, (title, hidden, f"{total} − {shown} = {total - shown} gives it away")


def test_each_small_cell_has_a_complement(site, year, months):
    hidden = {title: set(cells) for title, cells, *_ in _groups(site, year, months)}
    for title, small in (("grid residents", "第三网格"), ("grid participants", "第三网格"),
                         ("age band residents", "老年"), ("age band participants", "老年"),
                         ("category points", "环境整治")):
        assert small in hidden[title] and len(hidden[title]) >= 2, title
    assert hidden["2026 monthly points"] == {"2026-02"}  # a month has no complement: the total is hidden


def test_complement_is_also_hidden_on_the_dashboard(site):
    page = dashboard_page(site)
    grids = table_rows(page, "第三网格")
    csv_grids = by_key(read_csv(site, "grids"), "grid")
    for grid, cells in grids.items():
        row = csv_grids[grid]
        assert (cells[0] == SUPPRESSED) == (row["registered"] == SUPPRESSED), grid
        assert (cells[1] == SUPPRESSED) == (row["participants"] == SUPPRESSED), grid
    chart = chart_values(page, "每月发放的积分")
    for row in read_csv(site, "monthly"):
        assert (chart[row["month"][2:]] == SUPPRESSED) == (row["points"] == SUPPRESSED), row["month"]


def test_a_small_category_is_not_revealed_by_a_hotspot_community_rate():
    """环境整治 has 4 participants (fewer than 5: suppressed in categories). 第一网格 (80 residents, none of
    them in 环境整治) is a hotspot: 0.96^80 ≈ 0.038 < 0.05. The published community rate times the published
    register (100) must not give the 4 back."""
    grids = (Grid(2, "G1", "第一网格", None), Grid(3, "G2", "第二网格", None))
    residents = tuple(Resident(i + 2, f"R{i}", f"居民{i}", "G1" if i < 80 else "G2", 1980, None, False, None, "active")
                      for i in range(100))
    rules = (Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True),
             Rule(3, "HJ", "环境整治", "环境整治", 5, "次", 0, False, None, None, True))
    entries = tuple(Entry(i + 2, f"E{i}", D(2026, 3, 1), None, f"R{i}", "HJ" if i >= 96 else "XL", Decimal(1),
                          None, "S1", "S2", None, "approved") for i in range(100))
    book = Book(settings=Settings(min_group_size=MINIMUM), grids=grids,
                staff=(Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer")),
                residents=residents, rules=rules, entries=entries)
    view = site_view(book, compute(book, AS_OF))
    register = {f.label: f.value for f in view.home.figures}["居民"]
    assert register == 100
    categories = {s.label: s for s in view.dashboard.categories}
    assert categories["环境整治"].participants is None  # 4 people: suppressed
    published = json.loads(opendata_files(view.dashboard)["hotspots.json"])["rows"]
    recovered = [round(row["community_rate"] * register) for row in published
                 if row["category"] == "环境整治" and row["community_rate"] is not None]
    assert 4 not in recovered, published
    assert not any("社区平均 4%" in h.advice for h in view.dashboard.hotspots)


# --- the files match the dashboard, are described, and are safe to open ---------------------------------


def _expected_rows(dashboard) -> dict[str, list[tuple]]:
    return {
        "monthly": [(m.month, m.points, m.participants) for m in dashboard.months],
        "categories": [(s.label, s.points, s.participants) for s in dashboard.categories],
        "grids": [(g.grid, g.registered, g.participants, g.rate) for g in dashboard.grids],
        "age_bands": [(g.grid, g.registered, g.participants, g.rate) for g in dashboard.ages],
        "hotspots": [(h.grid, h.category, h.rate, h.community_rate) for h in dashboard.hotspots],
    }


def _as_csv(value: object) -> str:
    if value is None:
        return SUPPRESSED
    return str(round(value, 4)) if isinstance(value, float) else str(value)


def test_csv_and_json_rows_equal_the_dashboard_view(site, view):
    dashboard = view.dashboard
    assert dashboard.min_group_size == MINIMUM and len(dashboard.months) == 12
    for name, rows in _expected_rows(dashboard).items():
        csv_rows = read_csv(site, name)
        if not rows:  # the one hotspot is in a hidden grid: a file with its header only
            assert name == "hotspots" and csv_rows == [] and read_json(site, name)["rows"] == [], name
            continue
        keys = list(csv_rows[0].keys())
        assert keys[-1] == "suppressed"
        assert [[row[k] for k in keys[:-1]] for row in csv_rows] == [[_as_csv(v) for v in row] for row in rows], name
        assert [row["suppressed"] for row in csv_rows] == ["是" if None in row else "否" for row in rows], name
        records = read_json(site, name)["rows"]
        assert len(records) == len(rows), name
        for record, row in zip(records, rows):
            values = [record[k] for k in keys[:-1]]
            for got, want in zip(values, row):
                if isinstance(want, float):
                    assert got == pytest.approx(want, abs=5e-5), name
                else:
                    assert got == want, name
            assert record["suppressed"] is (None in row), name


def test_view_shows_the_real_value_wherever_it_is_not_suppressed(view, year, months):
    dashboard = view.dashboard
    for m in dashboard.months:
        if m.points is not None:
            assert (m.points, m.participants) == (months[m.month].issued, months[m.month].took_part)
    names = {"G1": "第一网格", "G2": "第二网格", "G3": "第三网格"}
    for g in dashboard.grids:
        real = year.by_grid[next(k for k, v in names.items() if v == g.grid)]
        assert g.registered in (None, real.registered) and g.participants in (None, real.participants)
    for s in dashboard.categories:
        assert s.points in (None, year.points_by_category[s.label])


def test_data_page_lists_every_file_and_field(site):
    folder = site / "site" / "data"
    page = (folder / "index.html").read_text("utf-8")
    published = sorted(p.name for p in folder.iterdir() if p.suffix in (".csv", ".json"))
    assert published == sorted(f"{n}.{ext}" for n in DATASETS for ext in ("csv", "json"))
    for name in published:
        assert f'href="../data/{name}"' in page or f'href="./{name}"' in page or f'href="{name}"' in page, name
    for name in DATASETS:
        header = next(csv.reader(io.StringIO((folder / f"{name}.csv").read_text("utf-8-sig"))))
        fields = read_json(site, name)["fields"]
        assert [f["key"] for f in fields] + ["suppressed"] == header, name
        for field in fields:
            assert f"<code>{field['key']}</code>" in page, (name, field["key"])
            assert field["zh"] in page and field["meaning"] in htmllib.unescape(page), (name, field)
        assert read_json(site, name)["title"] in htmllib.unescape(page), name
    assert "<code>suppressed</code>" in page
    assert SUPPRESSED in page and "null" in page
    assert f"少于 {MINIMUM} 人" in page


def test_csv_files_start_with_a_bom_and_no_cell_runs_as_a_formula(site):
    for path in sorted((site / "site" / "data").glob("*.csv")):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), path.name
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert len(rows) > 1 or path.name == "hotspots.csv", path.name
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (path.name, cell)


def test_json_files_are_plain_utf8_json(site):
    for name in DATASETS:
        raw = (site / "site" / "data" / f"{name}.json").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        data = json.loads(raw.decode("utf-8"))
        assert set(data) == {"title", "fields", "rows"}
        for record in data["rows"]:
            assert set(record) == {f["key"] for f in data["fields"]} | {"suppressed"}
