"""Attacks on what the site publishes together (issue 15): each worked before and must fail now.

The attacker reads every public figure, every page, the open data and the poster,
archived day after day, and knows a neighbour's activity. Each test rebuilds one
recovery and checks it gives nothing: a notice line links to no other record, and
no hidden cell comes back as the difference of shown ones (kit/disclosure.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from kit.disclosure import OTHER_GRIDS
from kit.ledger import compute
from kit.model import Book, Entry, Grid, Resident, Rule, Settings, Staff
from kit.privacy import public_names
from kit.views import site_view

D = dt.date
SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
MINIMUM = 5
STAFF = (Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer"))
PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True)
MEDIATION = Rule(3, "TJ", "矛盾调解", "矛盾调解", 20, "次", 0, False, None, None, True)
GRIDS = (Grid(2, "G1", "第一网格", None), Grid(3, "G2", "第二网格", None), Grid(4, "G3", "第三网格", None))


def residents(counts: dict[str, int], moved: dict[str, int] | None = None) -> tuple[Resident, ...]:
    found = []
    for grid, n in counts.items():
        for i in range(n):
            found.append(Resident(len(found) + 2, f"{grid}R{i:02d}", f"居民{grid}{i}", grid, 1970, None, i % 2 == 0,
                                  None, "active"))
    for grid, n in (moved or {}).items():
        for i in range(n):
            found.append(Resident(len(found) + 2, f"{grid}M{i:02d}", f"迁出{grid}{i}", grid, 1970, None, False,
                                  None, "moved"))
    return tuple(found)


def entries(plan: list[tuple[dt.date, str, str, int]]) -> tuple[Entry, ...]:
    return tuple(Entry(i + 2, f"E{i:04d}", day, dt.time(8 + i % 12, 0), rid, code, Decimal(qty), None,
                       "S1", "S2", None, "approved") for i, (day, rid, code, qty) in enumerate(plan))


def book(people: tuple[Resident, ...], plan, minimum: int = MINIMUM) -> Book:
    return Book(settings=Settings(min_group_size=MINIMUM if minimum is None else minimum, notice_days=7,
                                  ranking_size=20, pseudonym_secret=SECRET),
                grids=GRIDS, staff=STAFF, residents=people, rules=(PATROL, MEDIATION), entries=entries(plan))


def view(b: Book, as_of: dt.date):
    return site_view(b, compute(b, as_of))


def ids(people, grid: str) -> list[str]:
    return [r.resident_id for r in people if r.grid_id == grid and r.status == "active"]


# --- linkage: one known fact about a neighbour leads nowhere -------------------------------


def test_a_known_notice_line_links_to_no_ranking_and_no_other_line():
    """30 residents patrol every day of the notice window. Knowing "my neighbour patrolled 3 h in
    第一网格 on 11-14" finds that line, and nothing in it appears anywhere else: no name or
    pseudonym, no time, codes unique per entry. 0 residents linkable to the rankings."""
    people = residents({"G1": 12, "G2": 10, "G3": 8})
    plan = [(D(2026, 11, day), r.resident_id, "XL", 1 + (day + k) % 3)
            for day in range(1, 16) for k, r in enumerate(people)]
    b = book(people, plan)
    v = view(b, D(2026, 11, 15))
    names = public_names(SECRET, people, D(2026, 11, 15))
    shown_names = {row.name for board in v.ranking.community for row in board.rows}
    shown_names |= {row.name for _, *boards in v.ranking.grids for board in boards for row in board.rows}
    assert shown_names  # the rankings are published
    line_texts = {text for line in v.notice.lines for text in (line.code, line.grid, line.activity)}
    linkable = [rid for rid in names.display if names.display[rid] in line_texts or names.pseudonym[rid] in line_texts]
    assert linkable == []
    assert all(":" not in line.activity for line in v.notice.lines)  # no time of day anywhere in a line
    codes = [line.code for line in v.notice.lines]
    assert len(codes) == len(set(codes)) == 7 * 30
    # the same resident's lines on consecutive days share nothing but public facts
    by_resident: dict[str, list[str]] = {}
    for award in compute(b, D(2026, 11, 15)).awards.values():
        if award.entry.date >= D(2026, 11, 9):
            by_resident.setdefault(award.entry.resident_id, []).append(award.entry.entry_id)
    assert all(len(v_) == 7 for v_ in by_resident.values())


def test_notice_order_within_a_day_does_not_follow_time():
    people = residents({"G1": 12, "G2": 10, "G3": 8})
    plan = [(D(2026, 11, 14), r.resident_id, "XL", 1) for r in people]  # times 08:00, 09:00 … by row
    v = view(book(people, plan), D(2026, 11, 15))
    rows = [line.code for line in v.notice.lines]
    by_time = [line for line in sorted(v.notice.lines, key=lambda l: l.code)]
    assert rows == [l.code for l in by_time]  # ordered by the keyed code
    from kit.privacy import notice_code
    in_time_order = [notice_code(SECRET, f"E{i:04d}") for i in range(len(people))]
    assert rows != in_time_order and sorted(rows) == sorted(in_time_order)


# --- (1) the notice against the monthly table ----------------------------------------------


def test_notice_rows_cannot_rebuild_a_hidden_month():
    """As of 12-03 December has 3 residents: its cell is hidden, and its notice lines (which
    would add up to it) are not listed; November's are."""
    people = residents({"G1": 12, "G2": 10, "G3": 8})
    november = [(D(2026, 11, 28 + d), r.resident_id, "XL", 1) for d in range(3) for r in people]
    december = [(D(2026, 12, 1), rid, "XL", 2) for rid in ids(people, "G1")[:3]]
    v = view(book(people, november + december), D(2026, 12, 3))
    dec = next(m for m in v.dashboard.months if m.month == "2026-12")
    assert (dec.points, dec.participants) == (None, None)
    assert [l for l in v.notice.lines if l.date.month == 12] == []
    assert v.notice.withheld_months == ("2026 年 12 月",)
    assert {l.date for l in v.notice.lines} == {D(2026, 11, 28), D(2026, 11, 29), D(2026, 11, 30)}
    totals = {f.label: f.value for f in v.home.figures}
    assert totals["2026 年发放积分"] is None  # the year total minus shown months would be December


# --- (2) the complement across the year boundary -------------------------------------------


def test_hidden_months_stay_hidden_after_the_year_turns():
    """2026-10 has 3 residents. On 12-31 the year total is hidden (a month is); on 01-15 of the
    next year, 2026's months are still shown the same way, so the archived December total
    (hidden) and January's months give nothing."""
    people = residents({"G1": 12, "G2": 10, "G3": 8})
    plan = [(D(2026, month, 10), r.resident_id, "XL", 1) for month in (8, 9, 11, 12) for r in people]
    plan += [(D(2026, 10, 10), rid, "XL", 1) for rid in ids(people, "G2")[:3]]
    plan += [(D(2027, 1, 5), r.resident_id, "XL", 1) for r in people]
    b = book(people, plan)
    december, january = view(b, D(2026, 12, 31)), view(b, D(2027, 1, 15))
    assert {f.label: f.value for f in december.home.figures}["2026 年发放积分"] is None
    shown = {m.month: m.points for m in december.dashboard.months if m.month.startswith("2026")}
    later = {m.month: m.points for m in january.dashboard.months if m.month.startswith("2026")}
    assert shown["2026-10"] is None and later["2026-10"] is None
    assert later == {k: v_ for k, v_ in shown.items() if k in later}  # the same cells, the same values
    assert {f.label: f.value for f in january.home.figures}["2027 年发放积分"] == 300


# --- (3) a grid board that lists the whole grid ---------------------------------------------


def test_no_board_lists_the_residents_of_a_complement_grid():
    """第三网格 has 2 participants (hidden); 第二网格 (6) is hidden with it. A board of 第二网格
    listing all 6 would publish its count, and the total minus the shown grids would give
    第三网格's: so 第二网格 has no board either."""
    people = residents({"G1": 20, "G2": 6, "G3": 2})
    plan = [(D(2026, 5, 10), r.resident_id, "XL", 1 + i % 4) for i, r in enumerate(people)]
    v = view(book(people, plan), D(2026, 5, 20))
    rates = {g.grid: (g.registered, g.participants) for g in v.dashboard.grids}
    assert rates["第三网格"] == rates["第二网格"] == (None, None)
    boards = {name: (year, month) for name, year, month in v.ranking.grids}
    for grid in ("第二网格", "第三网格"):
        assert all(board.suppressed and board.rows == () for board in boards[grid])
    assert not boards["第一网格"][0].suppressed
    total = {f.label: f.value for f in v.home.figures}["2026 年参与居民"]
    shown = sum(g.participants for g in v.dashboard.grids if g.participants is not None)
    assert total - shown == 8  # 第二网格 and 第三网格 together: neither alone


# --- (4) the community board and the notice naming a hidden grid ---------------------------


def test_community_board_and_notice_never_name_a_hidden_grid():
    people = residents({"G1": 20, "G2": 6, "G3": 2})
    plan = [(D(2026, 5, 17), r.resident_id, "XL", 5 if r.grid_id == "G3" else 1) for r in people]
    v = view(book(people, plan), D(2026, 5, 20))
    board = v.ranking.community[0]
    assert board.rows[0].points == 50 and board.rows[0].grid == OTHER_GRIDS  # 第三网格's patrollers top it
    named = {row.grid for b in v.ranking.community for row in b.rows} | {l.grid for l in v.notice.lines}
    assert "第三网格" not in named and "第二网格" not in named
    assert [l for l in v.notice.lines if l.grid == OTHER_GRIDS]


# --- (5) one population: moved-away residents counted the same everywhere ---------------------


def test_home_and_grid_tables_count_the_same_residents():
    """Two residents of 第一网格 patrolled, then moved away. The home page and the grid table
    both count them, so the difference between the two is never a small group."""
    people = residents({"G1": 10, "G2": 10, "G3": 10}, moved={"G1": 2})
    plan = [(D(2026, 3, 10), r.resident_id, "XL", 1) for r in people]
    b = book(people, plan, minimum=1)
    v = view(b, D(2026, 6, 30))
    home = {f.label: f.value for f in v.home.figures}
    assert home["居民"] == 32 == sum(g.registered for g in v.dashboard.grids)
    assert home["2026 年参与居民"] == 32 == sum(g.participants for g in v.dashboard.grids)
    assert home["2026 年发放积分"] == 320 == sum(m.points for m in v.dashboard.months if m.month.startswith("2026"))
    ranked = len([row for row in v.ranking.community[0].rows])
    assert ranked == 20  # ranking_size; the moved residents are ranked like everyone else
    # with the real minimum the same holds wherever something is shown
    v5 = view(dataclasses.replace(b, settings=dataclasses.replace(b.settings, min_group_size=5)), D(2026, 6, 30))
    home5 = {f.label: f.value for f in v5.home.figures}
    assert home5["居民"] == sum(g.registered for g in v5.dashboard.grids if g.registered is not None) == 32


def test_past_figures_do_not_change_when_a_resident_moves():
    """Archived day by day: a resident moving away must not change last month's numbers (the
    difference would be their points)."""
    people = residents({"G1": 10, "G2": 10, "G3": 10})
    plan = [(D(2026, 3, 10), r.resident_id, "XL", 1 + i % 3) for i, r in enumerate(people)]
    b = book(people, plan)
    before = view(b, D(2026, 6, 30))
    moved = tuple(dataclasses.replace(r, status="moved") if r.resident_id == "G1R03" else r for r in people)
    after = view(dataclasses.replace(b, residents=moved), D(2026, 6, 30))
    assert before.dashboard.months == after.dashboard.months
    assert before.dashboard.categories == after.dashboard.categories
    assert [f for f in before.home.figures if "参与" in f.label or "积分" in f.label] == \
        [f for f in after.home.figures if "参与" in f.label or "积分" in f.label]


# --- (6) a board that lists everyone adds up to a hidden total --------------------------------


def test_the_year_board_never_adds_up_to_a_hidden_year_total():
    """12 residents took part this year and the board has room for 20; October had 3 residents,
    so the year total is hidden. Listing all 12 would give it back (their sum): the board leaves
    at least min_group_size residents off."""
    people = residents({"G1": 6, "G2": 6})
    plan = [(D(2026, 9, 10), r.resident_id, "XL", 1 + i % 4) for i, r in enumerate(people)]
    plan += [(D(2026, 10, 10), rid, "XL", 1) for rid in ids(people, "G1")[:3]]
    v = view(book(people, plan), D(2026, 11, 15))
    assert {f.label: f.value for f in v.home.figures}["2026 年发放积分"] is None
    board = v.ranking.community[0]
    assert not board.suppressed and len(board.rows) == 12 - MINIMUM
    shown = {m.month: m.points for m in v.dashboard.months}
    assert shown["2026-10"] is None
    everyone = sum(a.points for a in compute(book(people, plan), D(2026, 11, 15)).awards.values())
    assert sum(row.points for row in board.rows) < everyone - max(row.points for row in board.rows)
