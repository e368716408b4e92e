"""kit.views: what each public page shows, built from model Books and the ledger.

Expected values are worked out here from the ledger's awards (the points engine is
tested in test_ledger.py), with the numbers written out where it helps to read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from kit.ledger import compute
from kit.model import (Appeal, Bonus, Book, Entry, Grid, Redemption, Resident, Reward, Rule,
                       Settings, Staff)
from kit.privacy import notice_code, public_names
from kit.views import config_text, site_view

D = dt.date
T = dt.time
AS_OF = D(2026, 6, 30)
SECRET = "51e3c2b1a0f9e8d7c6b5a4938271605f"

SETTINGS = Settings(site_name="幸福社区积分", organization="幸福街道综治中心", min_group_size=3,
                    notice_days=7, ranking_size=5, pseudonym_secret=SECRET)
GRIDS = (Grid(2, "G1", "第一网格", "幸福社区"), Grid(3, "G2", "第二网格", "幸福社区"),
         Grid(4, "G3", "第三网格", "幸福社区"))
STAFF = (Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer"), Staff(4, "S3", "赵敏", "admin"))
RESIDENTS = (
    Resident(2, "R01", "张三丰", "G1", 1956, "13800000001", True, "tok-aaaaaaaaaaaaaaaa", "active"),
    Resident(3, "R02", "李四", "G1", 1990, "13800000002", False, "tok-bbbbbbbbbbbbbbbb", "active"),
    Resident(4, "R03", "王五", "G1", 1970, None, True, None, "active"),
    Resident(5, "R04", "赵六", "G1", 1980, None, False, None, "active"),
    Resident(6, "R05", "孙七", "G2", 1960, None, True, None, "active"),
    Resident(7, "R06", "周八", "G2", 1965, None, False, None, "active"),
    Resident(8, "R07", "吴九", "G2", 1975, None, True, None, "active"),
    Resident(9, "R08", "郑十", "G3", 1985, None, True, None, "active"),
    Resident(10, "R09", "冯十一", "G1", 1950, None, True, None, "moved"),
    Resident(11, "R10", "陈一", "G3", 1995, None, False, None, "active"),
)
PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 40, False, "所有居民", "夜间加倍", True)
MEDIATION = Rule(3, "TJ", "矛盾调解", "矛盾调解", 20, "次", 0, True, None, None, True)
CLEANUP = Rule(4, "HJ", "环境整治", "环境整治", 5, "次", 0, False, "老年人", "清理楼道", True)
VOLUNTEER = Rule(5, "ZY", "志愿服务", "志愿服务", 8, "小时", 0, False, None, None, True)
OLD = Rule(6, "OLD", "旧活动", "志愿服务", 3, "次", 0, False, None, None, False)
RULES = (PATROL, MEDIATION, CLEANUP, VOLUNTEER, OLD)

NIGHT = Bonus(2, "夜间巡逻双倍", None, "XL", None, None, T(20, 0), T(6, 0), Decimal(2))
SUMMER = Bonus(3, "夏季环境月", "环境整治", None, D(2026, 6, 1), D(2026, 7, 31), None, None, Decimal("1.5"))
SPRING = Bonus(4, "春节加倍", None, None, D(2026, 1, 20), D(2026, 2, 20), None, None, Decimal(2))  # past
LAST_DAY = Bonus(5, "月底清洁日", None, "HJ", D(2026, 6, 30), D(2026, 6, 30), None, None, Decimal(2))
NATIONAL = Bonus(6, "国庆加分", None, None, D(2026, 10, 1), D(2026, 10, 7), None, None, Decimal(3))
BONUSES = (NIGHT, SUMMER, SPRING, LAST_DAY, NATIONAL)

REWARDS = (
    Reward(2, "JP1", "大米", "goods", 10, 10, "5 公斤"),
    Reward(3, "JP2", "优秀志愿者证书", "honour", 50, None, None),
    Reward(4, "FW1", "理发优先", "service", 5, 3, None),
)


def entry(row: int, date: dt.date, resident: str, rule: str, quantity: object = 1, time: dt.time | None = None,
          status: str = "approved", reviewer2: str | None = None) -> Entry:
    return Entry(row, f"E{row:02d}", date, time, resident, rule, Decimal(str(quantity)), f"备注{row}",
                 "S1", "S2", reviewer2, status)


ENTRIES = (
    entry(2, D(2025, 12, 10), "R01", "XL", 3),  # 30, last year
    entry(3, D(2026, 1, 5), "R01", "XL", 3),  # 30
    entry(4, D(2026, 2, 1), "R02", "ZY", 5),  # 40 (spring bonus ×2 ends 02-20 but starts 01-20: 80)
    entry(5, D(2026, 3, 5), "R03", "TJ", 1, reviewer2="S3"),  # 20
    entry(6, D(2026, 3, 6), "R04", "ZY", 2),  # 16
    entry(7, D(2026, 4, 2), "R05", "XL", 2, time=T(21, 0)),  # 40 (night ×2, daily cap 40)
    entry(8, D(2026, 4, 9), "R06", "HJ", 4),  # 20
    entry(9, D(2026, 5, 3), "R07", "ZY", 3),  # 24
    entry(10, D(2026, 5, 20), "R08", "XL", 1),  # 10
    entry(11, D(2026, 6, 2), "R09", "XL", 4),  # 40, moved resident
    entry(12, D(2026, 6, 23), "R02", "XL", 2),  # 20, one day before the notice window
    entry(13, D(2026, 6, 24), "R03", "HJ", 2),  # 15 (summer ×1.5), first day of the window
    entry(14, D(2026, 6, 26), "R04", "XL", 1, time=T(22, 0)),  # 20 (night ×2)
    entry(15, D(2026, 6, 28), "R05", "ZY", 2),  # 16, corrected to 24
    entry(16, D(2026, 6, 30), "R06", "TJ", 1, reviewer2="S3"),  # 20, appeal open
    entry(17, D(2026, 6, 29), "R07", "ZY", 1, status="pending"),
    entry(18, D(2026, 7, 1), "R01", "XL", 2),  # after the as-of date
    entry(19, D(2026, 6, 25), "R01", "XL", 1),  # 10
    entry(20, D(2026, 6, 27), "R07", "ZY", 1, status="rejected"),
    entry(21, D(2026, 6, 27), "R08", "TJ", 1),  # double review missing: does not count
)
REDEMPTIONS = (
    Redemption(2, "D1", D(2026, 5, 1), "R01", "JP1", 2, "S1"),
    Redemption(3, "D2", D(2026, 5, 2), "R03", "JP1", 1, "S1"),
    Redemption(4, "D3", D(2026, 5, 5), "R05", "FW1", 1, "S1"),
    Redemption(5, "D4", D(2026, 5, 25), "R08", "JP1", 2, "S1"),  # 20 > balance 10: not applied
)
APPEALS = (
    Appeal(2, "A1", D(2026, 6, 29), "R06", "E16", "次数登记错误", "open", None, None),
    Appeal(3, "A2", D(2026, 6, 28), "R05", "E15", "时长少记", "corrected", 24, D(2026, 6, 29)),
)

BOOK = Book(settings=SETTINGS, grids=GRIDS, staff=STAFF, residents=RESIDENTS, rules=RULES, bonuses=BONUSES,
            entries=ENTRIES, rewards=REWARDS, redemptions=REDEMPTIONS, appeals=APPEALS)


def build(book: Book = BOOK, as_of: dt.date = AS_OF):
    ledger = compute(book, as_of)
    return site_view(book, ledger), ledger


@pytest.fixture(scope="module")
def built():
    return build()


@pytest.fixture(scope="module")
def view(built):
    return built[0]


@pytest.fixture(scope="module")
def ledger(built):
    return built[1]


NAMES = public_names(SECRET, RESIDENTS, AS_OF)
GRID_NAME = {g.grid_id: g.grid_name for g in GRIDS}
RESIDENT = {r.resident_id: r for r in RESIDENTS}
HIDDEN_GRIDS = {"G2", "G3"}  # 2026: G3 has one participant, G2 (3) is hidden with it (complement)


def expected_board(ledger, start: dt.date, end: dt.date, grid: str | None = None, size: int = 5):
    """[(rank, display name, grid name, points)] from the ledger, or None when suppressed.

    Everyone who earned points counts, moved-away residents too (as in every public figure);
    residents of a hidden grid show 其他网格, and a hidden grid has no board."""
    if grid in HIDDEN_GRIDS:
        return None
    totals: Counter[str] = Counter()
    for award in ledger.awards.values():
        rid = award.entry.resident_id
        if start <= award.entry.date <= end and (grid is None or RESIDENT[rid].grid_id == grid):
            totals[rid] += award.points
    ranked = sorted(((p, NAMES.display[rid], rid) for rid, p in totals.items() if p > 0),
                    key=lambda t: (-t[0], t[1]))
    if len(ranked) < SETTINGS.min_group_size:
        return None
    rows = []
    for index, (points, name, rid) in enumerate(ranked[:size]):
        rank = rows[-1][0] if rows and rows[-1][3] == points else index + 1
        grid_id = RESIDENT[rid].grid_id
        rows.append((rank, name, "其他网格" if grid_id in HIDDEN_GRIDS else GRID_NAME[grid_id], points))
    return rows


def board_rows(board):
    return None if board.suppressed else [(r.rank, r.name, r.grid, r.points) for r in board.rows]


# --- the ledger this book gives (sanity: the numbers in the comments above) -------


def test_ledger_numbers_the_views_are_built_on(ledger):
    worth = {a.entry.entry_id: a.points for a in ledger.awards.values()}
    assert worth == {
        "E02": 30, "E03": 30, "E04": 80, "E05": 20, "E06": 16, "E07": 40, "E08": 20, "E09": 24,
        "E10": 10, "E11": 40, "E12": 20, "E13": 15, "E14": 20, "E15": 24, "E16": 20, "E19": 10,
    }
    assert ledger.under_appeal == frozenset({"E16"})


# --- ranking ----------------------------------------------------------------------


def test_community_year_ranking_equals_the_ledger(view, ledger):
    board = view.ranking.community[0]
    assert board.title == "全社区 · 2026 年"
    assert not board.suppressed
    assert board_rows(board) == expected_board(ledger, D(2026, 1, 1), AS_OF)
    # written out: R02 80+20, R05 40+24, R01 30+10 (2025 not counted), R06 20+20, R09 40 (moved)
    assert [(r.rank, r.points) for r in board.rows] == [(1, 100), (2, 64), (3, 40), (3, 40), (3, 40)]
    assert board.rows[0].name == NAMES.display["R02"]
    assert (board.rows[1].name, board.rows[1].grid) == ("孙*", "其他网格")  # G2 is hidden this year
    assert {r.name for r in board.rows[2:]} == {"张*丰", NAMES.display["R06"], "冯*一"}


def test_community_month_ranking_equals_the_ledger(view, ledger):
    board = view.ranking.community[1]
    assert board.title == "全社区 · 2026 年 6 月"
    assert board_rows(board) == expected_board(ledger, D(2026, 6, 1), AS_OF)
    # R09 40 (moved); R05 24; R02, R04, R06 20 share rank 3; R03 15 and R01 10 are cut by ranking_size
    assert [(r.rank, r.points) for r in board.rows] == [(1, 40), (2, 24), (3, 20), (3, 20), (3, 20)]


def test_ties_share_a_rank_and_are_ordered_by_name(view):
    rows = view.ranking.community[1].rows
    tied = [r.name for r in rows if r.points == 20]
    assert tied == sorted(tied)
    assert len(tied) == 3


def test_ranking_shows_only_ranking_size_rows():
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, ranking_size=3))
    view, ledger = build(book)
    assert board_rows(view.ranking.community[0]) == expected_board(ledger, D(2026, 1, 1), AS_OF, size=3)
    assert len(view.ranking.community[0].rows) == 3
    assert view.ranking.size == 3


def test_moved_residents_count_in_the_rankings_as_in_every_figure(view, ledger):
    """One population everywhere (kit/disclosure.py): R09 moved in June after patrolling; the
    boards, the home figures and the grid table all count R09, so no difference between
    them singles anyone out, and past figures never change when someone moves."""
    moved_name = NAMES.display["R09"]
    assert ledger.accounts["R09"].earned == 40
    assert moved_name in [r.name for r in view.ranking.community[0].rows]
    figures = {f.label: f.value for f in view.home.figures}
    assert figures["2026 年参与居民"] == 9  # R01–R09
    assert sum(g.participants for g in site_view(dataclasses.replace(
        BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=1)), compute(BOOK, AS_OF)).dashboard.grids) == 9


def test_grid_boards(view, ledger):
    boards = {name: (year, month) for name, year, month in view.ranking.grids}
    assert list(boards) == ["第一网格", "第二网格", "第三网格"]
    for grid in GRIDS:
        year, month = boards[grid.grid_name]
        assert year.title == f"{grid.grid_name} · 2026 年"
        assert month.title == f"{grid.grid_name} · 2026 年 6 月"
        assert board_rows(year) == expected_board(ledger, D(2026, 1, 1), AS_OF, grid.grid_id)
        assert board_rows(month) == expected_board(ledger, D(2026, 6, 1), AS_OF, grid.grid_id)
    g1_year, g1_month = boards["第一网格"]
    assert [r.points for r in g1_year.rows] == [100, 40, 40, 36, 35]  # R09 (moved) counted
    assert {r.grid for r in g1_year.rows} == {"第一网格"}


def test_grid_boards_of_hidden_grids_are_suppressed(view):
    """第三网格: only R08 took part this year, so its figures are hidden, and 第二网格 (the next
    smallest) with it; a board listing 第二网格's 3 residents would give its hidden count back."""
    boards = {name: (year, month) for name, year, month in view.ranking.grids}
    for grid in ("第二网格", "第三网格"):
        for board in boards[grid]:
            assert board.suppressed and board.rows == ()
    assert not boards["第一网格"][0].suppressed


def test_community_board_suppressed_below_the_minimum():
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=8))
    view, _ = build(book)
    assert view.ranking.community[1].suppressed  # 7 residents in June
    assert view.ranking.community[0].suppressed is False  # 9 residents this year
    assert view.ranking.min_group_size == 8


# --- notice -----------------------------------------------------------------------


def test_notice_window(view):
    notice = view.notice
    assert (notice.start, notice.end, notice.days) == (D(2026, 6, 24), AS_OF, 7)
    assert (notice.end - notice.start).days + 1 == 7


def test_notice_lists_exactly_the_counted_entries_of_the_window(view, ledger):
    start = AS_OF - dt.timedelta(days=6)
    counted = [a for a in ledger.awards.values() if start <= a.entry.date <= AS_OF]
    expected = sorted((a.entry.date, notice_code(SECRET, a.entry.entry_id), a.entry.entry_id in ledger.under_appeal,
                       a.entry.date + dt.timedelta(days=7)) for a in counted)
    lines = [(l.date, l.code, l.under_appeal, l.deadline) for l in view.notice.lines]
    assert sorted(lines) == expected
    # E13 (06-24, first day), E19, E14, E15, E16; not E12 (06-23), pending E17, rejected E20,
    # badly reviewed E21, nor E18 (after the as-of date)
    assert [l.date for l in view.notice.lines] == [D(2026, 6, 30), D(2026, 6, 28), D(2026, 6, 26),
                                                   D(2026, 6, 25), D(2026, 6, 24)]
    assert view.notice.withheld_months == ()


def test_notice_lines_name_nobody_and_show_the_menu_points(view):
    """No name or pseudonym, no time, no bonus: the points are the menu's (rule × quantity)."""
    by_date = {l.date: l for l in view.notice.lines}
    appealed = by_date[D(2026, 6, 30)]
    assert appealed.under_appeal is True
    assert appealed.activity == "其他活动"  # 矛盾调解 has 2 residents this year: a hidden category
    assert appealed.points == 20
    assert appealed.deadline == D(2026, 7, 7)
    corrected = by_date[D(2026, 6, 28)]
    assert corrected.points == 16  # 8 × 2 on the menu; the correction to 24 shows on R05's own page
    assert corrected.activity == "志愿服务 2 小时"
    night = by_date[D(2026, 6, 26)]
    assert (night.activity, night.points) == ("治安巡逻 1 小时", 10)  # awarded 20 with the night bonus
    assert by_date[D(2026, 6, 24)].points == 10  # 5 × 2 before the summer ×1.5
    assert sum(l.under_appeal for l in view.notice.lines) == 1
    names = set(NAMES.display.values()) | set(NAMES.pseudonym.values())
    for line in view.notice.lines:
        assert not set(_strings(line)) & names
        assert re.fullmatch(r"[ACDEFGHJKLMNPQRTUVWXY]{6}", line.code)
    assert len({l.code for l in view.notice.lines}) == len(view.notice.lines)


def test_notice_grids_of_small_groups_read_other_grids(view):
    """June: G1 has 5 residents, G2 only 2 (and is hidden this year): G2 cannot be named,
    and as the only one it would be recognised, so G1 joins it as 其他网格."""
    assert {l.grid for l in view.notice.lines} == {"其他网格"}
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=1))
    wider, _ = build(book)
    assert {l.grid for l in wider.notice.lines} == {"第一网格", "第二网格"}


def test_notice_rows_do_not_follow_the_time_of_day():
    same_day = tuple(entry(30 + i, D(2026, 6, 29), f"R0{1 + i % 7}", "XL", 1, time=T(6 + i, 0)) for i in range(7))
    view, _ = build(dataclasses.replace(BOOK, entries=ENTRIES + same_day))
    day = [l for l in view.notice.lines if l.date == D(2026, 6, 29)]
    assert [l.code for l in day] == sorted(l.code for l in day)
    by_row = [notice_code(SECRET, e.entry_id) for e in same_day]  # in time order
    assert [l.code for l in day] != by_row


def test_notice_withholds_a_month_with_too_few_residents():
    """As of 2026-07-02 July has one resident (R01, E18): the month's cell is hidden on the
    dashboard, so its notice lines are not listed either (their sum would give it back)."""
    view, _ = build(as_of=D(2026, 7, 2))
    assert view.notice.withheld_months == ("2026 年 7 月",)
    assert all(l.date.month == 6 for l in view.notice.lines)
    july = next(m for m in view.dashboard.months if m.month == "2026-07")
    assert (july.points, july.participants) == (None, None)


def test_notice_days_setting():
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, notice_days=3))
    view, _ = build(book)
    assert (view.notice.start, view.notice.end, view.notice.days) == (D(2026, 6, 28), AS_OF, 3)
    assert [(l.date, l.deadline) for l in view.notice.lines] == [
        (D(2026, 6, 30), D(2026, 7, 3)), (D(2026, 6, 28), D(2026, 7, 1))]


# --- menu -------------------------------------------------------------------------


def test_menu_lists_active_rules_by_category(view):
    categories = {name: [r.name for r in rules] for name, rules in view.menu.categories}
    assert categories == {"平安巡防": ["治安巡逻"], "矛盾调解": ["矛盾调解"], "环境整治": ["环境整治"],
                          "志愿服务": ["志愿服务"]}
    assert [name for name, _ in view.menu.categories] == ["平安巡防", "矛盾调解", "环境整治", "志愿服务"]
    patrol = view.menu.categories[0][1][0]
    assert (patrol.points, patrol.unit, patrol.daily_cap, patrol.double_review, patrol.audience,
            patrol.description) == (10, "小时", 40, False, "所有居民", "夜间加倍")
    mediation = view.menu.categories[1][1][0]
    assert mediation.double_review is True
    assert mediation.audience == "所有居民"  # blank audience reads as everyone


def test_menu_groups_several_rules_of_a_category():
    extra = Rule(7, "FZ", "反诈宣传", "平安巡防", 5, "次", 0, False, None, None, True)
    book = dataclasses.replace(BOOK, rules=RULES + (extra,))
    view, _ = build(book)
    categories = dict(view.menu.categories)
    assert [r.name for r in categories["平安巡防"]] == ["治安巡逻", "反诈宣传"]


def test_menu_bonuses_in_words(view):
    assert dict(view.menu.bonuses) == {
        "夜间巡逻双倍": "治安巡逻，每天 20:00–06:00，积分双倍",
        "夏季环境月": "“环境整治”类活动，2026-06-01 至 2026-07-31，积分 ×1.5",
        "月底清洁日": "环境整治，2026-06-30 至 2026-06-30，积分双倍",
        "国庆加分": "所有活动，2026-10-01 至 2026-10-07，积分 ×3",
    }


def test_menu_hides_past_bonuses(view):
    assert "春节加倍" not in dict(view.menu.bonuses)
    later, _ = build(as_of=D(2026, 7, 1))
    names = [name for name, _ in later.menu.bonuses]
    assert names == ["夜间巡逻双倍", "夏季环境月", "国庆加分"]  # 月底清洁日 ended on 06-30


def test_menu_caps_and_decay(view):
    assert (view.menu.annual_cap, view.menu.decay_after_months, view.menu.decay_factor) == (0, 12, "0.5")


# --- rewards ----------------------------------------------------------------------


def test_rewards_stock_left(view, ledger):
    lines = {r.name: r for r in view.rewards}
    assert list(lines) == ["大米", "优秀志愿者证书", "理发优先"]
    assert lines["大米"].stock_left == 10 - 2 - 1  # D4 overdrew and was not applied
    assert lines["优秀志愿者证书"].stock_left is None
    assert lines["理发优先"].stock_left == 3 - 1
    assert [(r.kind, r.cost) for r in view.rewards] == [("物质", 10), ("精神", 50), ("服务", 5)]
    used = Counter()
    for redemption in ledger.redemptions:
        used[redemption.reward_code] += redemption.quantity
    for reward, line in zip(REWARDS, view.rewards):
        if reward.stock is not None:
            assert line.stock_left == reward.stock - used[reward.code]


# --- home -------------------------------------------------------------------------


def test_home_figures(view, ledger):
    figures = {f.label: (f.value, f.unit) for f in view.home.figures}
    year_points = sum(a.points for a in ledger.awards.values() if a.entry.date.year == 2026)
    assert year_points == 389
    assert figures == {
        "居民": (10, "人"),  # 9 registered and R09, who took part before moving
        "2026 年参与居民": (9, "人"),
        "2026 年发放积分": (None, "分"),  # January had one resident: its month is hidden, so is the total
        "2026 年兑换次数": (3, "次"),
        "积分项目": (4, "项"),
        "可兑换奖品": (3, "种"),
    }
    assert view.home.site_name == "幸福社区积分"
    assert view.home.organization == "幸福街道综治中心"
    assert view.home.as_of == AS_OF


def test_home_year_total_is_shown_when_no_month_is_hidden(ledger):
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=1))
    view, _ = build(book)
    figures = {f.label: f.value for f in view.home.figures}
    assert figures["2026 年发放积分"] == 389 == sum(m.points for m in view.dashboard.months if m.month >= "2026")


# --- dashboard --------------------------------------------------------------------


def test_dashboard_monthly_series(view, ledger):
    months = view.dashboard.months
    keys = [m.month for m in months]
    assert keys == ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
                    "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    by_month = defaultdict(list)
    for award in ledger.awards.values():
        by_month[award.entry.date.strftime("%Y-%m")].append(award)
    for point in months:
        awards = by_month.get(point.month, [])
        people = len({a.entry.resident_id for a in awards})
        if people == 0:
            assert (point.points, point.participants) == (0, 0)  # nobody's data: nothing to hide
        elif people < SETTINGS.min_group_size:
            assert (point.points, point.participants) == (None, None)
        else:  # no month is hidden as a complement: the year total is hidden instead
            assert (point.points, point.participants) == (sum(a.points for a in awards), people)
    june = months[-1]
    assert (june.points, june.participants) == (10 + 20 + 15 + 20 + 24 + 20 + 40, 7)
    assert months[5] == type(months[5])("2025-12", None, None)  # one resident that month


def test_dashboard_monthly_series_in_january():
    view, _ = build(as_of=D(2026, 1, 31))
    keys = [m.month for m in view.dashboard.months]
    assert keys[0] == "2025-02" and keys[-1] == "2026-01" and len(keys) == 12


def test_dashboard_categories(view, ledger):
    shares = {s.label: (s.points, s.participants) for s in view.dashboard.categories}
    # this year: 平安巡防 R01 R02 R04 R05 R08 R09; 志愿服务 R02 R04 R05 R07;
    # 矛盾调解 R03 R06 and 环境整治 R03 R06 are under 3 people (two cells hidden: no extra)
    assert shares == {
        "平安巡防": (30 + 10 + 20 + 20 + 40 + 10 + 40, 6),
        "志愿服务": (80 + 16 + 24 + 24, 4),
        "矛盾调解": (None, None),
        "环境整治": (None, None),
    }


def test_dashboard_categories_complementary_suppression():
    # one more resident in 环境整治 (R07): now only 矛盾调解 (2 people) is under the minimum,
    # so the next smallest group, 环境整治 (3 people), is hidden too
    book = dataclasses.replace(BOOK, entries=ENTRIES + (entry(22, D(2026, 5, 10), "R07", "HJ", 1),))
    view, _ = build(book)
    shares = {s.label: (s.points, s.participants) for s in view.dashboard.categories}
    assert shares == {
        "平安巡防": (170, 6),
        "志愿服务": (144, 4),
        "矛盾调解": (None, None),
        "环境整治": (None, None),
    }


def test_dashboard_categories_nothing_hidden_when_all_large():
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=2))
    view, _ = build(book)
    shares = {s.label: (s.points, s.participants) for s in view.dashboard.categories}
    assert shares == {"平安巡防": (170, 6), "志愿服务": (144, 4), "矛盾调解": (40, 2), "环境整治": (35, 2)}
    assert [s.label for s in view.dashboard.categories] == ["平安巡防", "志愿服务", "矛盾调解", "环境整治"]


def test_dashboard_grid_participation_with_complementary_suppression(view):
    # residents (registered, and R09 who took part before moving): G1 5, G2 3, G3 2;
    # participants this year: G1 5, G2 3, G3 1 → G3 hidden, and G2, the next smallest, too
    rates = {g.grid: (g.registered, g.participants, g.rate) for g in view.dashboard.grids}
    assert rates == {
        "第一网格": (5, 5, 1.0),
        "第二网格": (None, None, None),
        "第三网格": (None, None, None),
    }


def test_dashboard_grid_participation_all_shown():
    book = dataclasses.replace(BOOK, settings=dataclasses.replace(SETTINGS, min_group_size=1))
    view, _ = build(book)
    rates = {g.grid: (g.registered, g.participants, g.rate) for g in view.dashboard.grids}
    assert rates == {
        "第一网格": (5, 5, 1.0),
        "第二网格": (3, 3, 1.0),
        "第三网格": (2, 1, 0.5),
    }
    figures = {f.label: f.value for f in view.home.figures}  # the same residents on every page
    assert figures["居民"] == 10 == sum(g.registered for g in view.dashboard.grids)
    assert figures["2026 年参与居民"] == 9 == sum(g.participants for g in view.dashboard.grids)


def test_dashboard_year_and_minimum(view):
    assert (view.dashboard.year, view.dashboard.min_group_size) == (2026, 3)


# --- privacy of the whole view ----------------------------------------------------


def _strings(value):
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _strings(item)


def test_views_carry_no_personal_data(view):
    text = "\n".join(_strings(view))
    secret_values = [r.name for r in RESIDENTS] + [s.name for s in STAFF] + [
        r.phone for r in RESIDENTS if r.phone] + [r.card_token for r in RESIDENTS if r.card_token] + [
        e.note for e in ENTRIES if e.note] + [a.reason for a in APPEALS if a.reason] + [SECRET]
    for value in secret_values:
        assert value not in text, value
    for r in RESIDENTS:
        assert r.resident_id not in text


# --- config text ------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("幸福社区积分", "幸福社区积分"),
    ("  幸福社区积分  ", "幸福社区积分"),
    ("**幸福社区**积分", "幸福社区积分"),
    ("幸福社区{{ config }}积分", "幸福社区 config 积分"),
    ("", "社区积分"),
    ("<>&*#", "社区积分"),
])
def test_config_text(raw, expected):
    assert config_text(raw, "社区积分") == expected


@pytest.mark.parametrize("raw", [
    "<script>alert(1)</script>幸福社区",
    '<img src=x onerror="alert(1)">幸福社区',
    "幸福社区 & 'quote' \"dq\" `tick` [link](x) |pipe| #hash \\ back",
    "幸福社区\n第二行\t制表",
])
def test_config_text_strips_markup(raw):
    cleaned = config_text(raw, "社区积分")
    assert "幸福社区" in cleaned
    for ch in "<>&\"'`{}[]|*_#\\\n\t":
        assert ch not in cleaned


def test_config_text_is_short():
    assert len(config_text("幸" * 200, "社区积分")) <= 60
