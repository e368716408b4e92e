"""Governance figures (kit.stats) on a small book written out here, numbers in comments.

The community on 2026-06-30 (age = 2026 − birth year):

    R1 第一网格 1956 (70 老年)   R4 第二网格 1981 (45 中年)   R7 第二网格 1966 (60 老年)
    R2 第一网格 1990 (36 青年)   R5 第二网格 1982 (44 青年)   R8 第一网格 1950, moved away
    R3 第一网格 1970 (56 中年)   R6 第二网格 no birth year (年龄未知)

Rules: XL 平安巡防 10 a unit, TJ 矛盾调解 20 (double review), HJ 环境整治 5.
Decay: 12 months × 0.5 (the defaults). Rewards: JP1 50 points, JP2 15 points.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

import pytest

from kit.errors import KitError
from kit.ledger import compute
from kit.model import Appeal, Book, Entry, Grid, Redemption, Resident, Reward, Rule, Settings, Staff
from kit.stats import (Figures, Share, age_band, binomial_cdf, month_bounds, previous_quarter,
                       quarter_bounds, quarter_of)

D = dt.date
AS_OF = D(2026, 6, 30)

STAFF = (Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer"), Staff(4, "S3", "赵敏", "admin"))
GRIDS = (Grid(2, "G1", "第一网格", None), Grid(3, "G2", "第二网格", None))
RESIDENTS = (
    Resident(2, "R1", "张三", "G1", 1956, None, True, None, "active"),
    Resident(3, "R2", "李四", "G1", 1990, None, False, None, "active"),
    Resident(4, "R3", "王五", "G1", 1970, None, False, None, "active"),
    Resident(5, "R4", "赵六", "G2", 1981, None, False, None, "active"),
    Resident(6, "R5", "钱七", "G2", 1982, None, False, None, "active"),
    Resident(7, "R6", "孙八", "G2", None, None, False, None, "active"),
    Resident(8, "R7", "周九", "G2", 1966, None, False, None, "active"),
    Resident(9, "R8", "吴十", "G1", 1950, None, False, None, "moved"),
)
RULES = (
    Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True),
    Rule(3, "TJ", "矛盾调解", "矛盾调解", 20, "次", 0, True, None, None, True),
    Rule(4, "HJ", "环境整治", "环境整治", 5, "次", 0, False, None, None, True),
)
REWARDS = (Reward(2, "JP1", "大米", "goods", 50, None, None), Reward(3, "JP2", "毛巾", "goods", 15, None, None))


def entry(row: int, date: dt.date, resident: str, rule: str, quantity: int = 1, status: str = "approved") -> Entry:
    return Entry(row, f"E{row}", date, None, resident, rule, Decimal(quantity), None, "S1", "S2",
                 "S3" if rule == "TJ" else None, status)


ENTRIES = (
    # 2025: two lots that decay in 2026Q2
    entry(2, D(2025, 4, 10), "R1", "XL", 10),  # 100 → 50 on 2026-04-10 (50 decayed)
    entry(3, D(2025, 5, 20), "R2", "XL", 4),  # 40 → 20 on 2026-05-20 (20 decayed)
    # 2026Q1
    entry(4, D(2026, 2, 10), "R4", "HJ"),  # 5
    entry(5, D(2026, 3, 1), "R7", "XL"),  # 10, corrected to 15 by A4 (decided 2026-04-05)
    # 2026Q2
    entry(6, D(2026, 4, 3), "R1", "XL", 2),  # 20
    entry(7, D(2026, 4, 15), "R2", "HJ"),  # 5, corrected to 8 by A1
    entry(8, D(2026, 5, 6), "R1", "TJ"),  # 20 mediation, 第一网格
    entry(9, D(2026, 5, 8), "R4", "TJ"),  # 20 mediation, 第二网格
    entry(10, D(2026, 5, 9), "R3", "TJ"),  # 20 mediation, 第一网格
    entry(11, D(2026, 6, 1), "R8", "XL", 3),  # 30, by a resident who has moved away
    entry(12, D(2026, 6, 2), "R6", "HJ", 2),  # 10
    entry(13, D(2026, 6, 10), "R5", "XL", status="pending"),  # waiting 20 days
    entry(14, D(2026, 6, 20), "R7", "XL", status="rejected"),
    entry(15, D(2026, 6, 25), "R2", "XL", status="pending"),  # waiting 5 days
    entry(16, D(2026, 5, 1), "R3", "HJ", status="pending"),  # waiting 60 days
    entry(17, D(2026, 7, 2), "R7", "XL", 5),  # after the as-of date
    entry(18, D(2026, 7, 3), "R5", "XL", status="pending"),  # after the as-of date
)
REDEMPTIONS = (
    # R1 on 04-12: 50 (after decay) + 20 = 70 ≥ 50 → applied, 50 points
    Redemption(2, "D1", D(2026, 4, 12), "R1", "JP1", 1, "S1"),
    # R2 on 05-25: 20 (after decay) + 8 = 28 < 2 × 15 → refused, not redeemed
    Redemption(3, "D2", D(2026, 5, 25), "R2", "JP2", 2, "S1"),
    # R4 on 06-05: 5 + 20 = 25 ≥ 15 → applied, 15 points
    Redemption(4, "D3", D(2026, 6, 5), "R4", "JP2", 1, "S1"),
    Redemption(5, "D4", D(2026, 7, 5), "R7", "JP2", 1, "S1"),  # after the as-of date
)
APPEALS = (
    Appeal(2, "A1", D(2026, 4, 16), "R2", "E7", None, "corrected", 8, D(2026, 4, 20)),  # 4 days
    Appeal(3, "A2", D(2026, 5, 10), "R1", "E8", None, "upheld", None, D(2026, 5, 20)),  # 10 days
    Appeal(4, "A3", D(2026, 6, 1), "R4", "E9", None, "open", None, None),
    Appeal(5, "A4", D(2026, 3, 25), "R7", "E5", None, "corrected", 15, D(2026, 4, 5)),  # 11 days
)
BOOK = Book(settings=Settings(), grids=GRIDS, staff=STAFF, residents=RESIDENTS, rules=RULES,
            entries=ENTRIES, rewards=REWARDS, redemptions=REDEMPTIONS, appeals=APPEALS)


@pytest.fixture(scope="module")
def ledger():
    return compute(BOOK, AS_OF)


@pytest.fixture(scope="module")
def figures(ledger):
    return Figures(BOOK, ledger)


@pytest.fixture(scope="module")
def q2(figures):
    return figures.quarter("2026Q2")


def test_the_book_is_as_described(ledger):
    assert not [p for p in ledger.problems if p.code != "redemption-overdraft"]
    assert [r.redemption_id for r in ledger.redemptions] == ["D1", "D3"]
    balances = {rid: a.balance for rid, a in ledger.accounts.items()}
    # R1 50 + 20 + 20 − 50; R2 20 + 8; R4 5 + 20 − 15; R7 15 (corrected); R8 30 (moved, still owns them)
    assert balances == {"R1": 40, "R2": 28, "R3": 20, "R4": 10, "R5": 0, "R6": 10, "R7": 15, "R8": 30}


# --- participation ---------------------------------------------------------------


def test_quarter_participation_overall_counts_the_register_only(q2):
    assert (q2.label, q2.start, q2.end) == ("2026Q2", D(2026, 4, 1), D(2026, 6, 30))
    # registered: R1–R7 (R8 moved away); took part: R1 R2 R3 R4 R6 (R5 pending, R7 rejected)
    assert q2.overall == Share(7, 5)
    assert q2.overall.rate == pytest.approx(5 / 7)
    assert q2.took_part == 6  # and R8, who moved away


def test_quarter_participation_per_grid(q2):
    # 第一网格: R1 R2 R3 in the register (R8 moved), all three took part
    # 第二网格: R4 R5 R6 R7, of whom R4 and R6 took part
    assert q2.by_grid == {"G1": Share(3, 3), "G2": Share(4, 2)}
    assert q2.by_grid["G2"].rate == 0.5


def test_quarter_participation_per_age_band_at_the_borders(q2):
    # 老年 R1 (70) R7 (60): R1 took part; 青年 R2 (36) R5 (44): R2; 中年 R3 (56) R4 (45): both; R6 unknown
    assert q2.by_age == {"中年": Share(2, 2), "老年": Share(2, 1), "青年": Share(2, 1), "年龄未知": Share(1, 1)}


def test_age_band_is_counted_from_the_period_end_year(figures):
    # R4 (1981) is 44 in 2025 (青年) and 45 in 2026 (中年); R7 (1966) is 59 then 60
    late_2025 = figures.period("2025Q4", D(2025, 10, 1), D(2025, 12, 31))
    early_2026 = figures.quarter("2026Q1")
    assert {k: s.registered for k, s in late_2025.by_age.items()} == {"中年": 2, "老年": 1, "青年": 3,
                                                                      "年龄未知": 1}
    assert {k: s.registered for k, s in early_2026.by_age.items()} == {"中年": 2, "老年": 2, "青年": 2,
                                                                       "年龄未知": 1}
    # 2026Q1: R4 (HJ in February, 中年 now) and R7 (XL in March, 老年 now)
    assert early_2026.by_age["中年"] == Share(2, 1) and early_2026.by_age["老年"] == Share(2, 1)
    assert early_2026.overall == Share(7, 2)


@pytest.mark.parametrize("birth, band", [(None, "年龄未知"), (1982, "青年"), (1981, "中年"), (1967, "中年"),
                                         (1966, "老年"), (2026, "青年"), (1920, "老年")])
def test_age_band_borders(birth, band):
    assert age_band(birth, 2026) == band


def test_month_participation_and_points(figures):
    june = figures.period("2026-06", *month_bounds(D(2026, 6, 15)))
    # June: R8 (moved, 30) and R6 (10) earned; only R6 is in the register
    assert june.overall == Share(7, 1)
    assert june.took_part == 2
    assert june.issued == 40
    assert june.points_by_category == {"平安巡防": 30, "环境整治": 10}
    assert june.by_grid == {"G1": Share(3, 0), "G2": Share(4, 1)}
    assert june.by_age["年龄未知"] == Share(1, 1)
    may = figures.period("2026-05", *month_bounds(D(2026, 5, 1)))
    assert may.overall == Share(7, 3)  # R1 R4 R3 mediated
    assert may.issued == 60
    assert may.mediation_by_grid == {"G1": 2, "G2": 1}
    assert may.decayed == 20  # R2's 40-point lot halves on 2026-05-20
    assert may.redeemed == 0  # D2 was refused


def test_months_are_the_last_calendar_months_oldest_first(figures):
    months = figures.months(4)
    assert [m.label for m in months] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    # March: E5 corrected to 15; April: E6 20 + E7 8 (corrected); May: 3 × 20; June: 30 + 10
    assert [m.issued for m in months] == [15, 28, 60, 40]
    assert [m.overall.participants for m in months] == [1, 2, 3, 1]
    year = figures.months(12)  # 2025-07 … 2026-06: the 2025 lots (April, May) are outside
    assert year[0].label == "2025-07" and len(year) == 12
    assert sum(m.issued for m in year) == 5 + 15 + 28 + 60 + 40


# --- points ------------------------------------------------------------------------


def test_points_per_category_use_corrected_points_and_count_moved_residents(q2):
    # 平安巡防: E6 20 + E11 30 (moved) ; 环境整治: E7 8 (corrected from 5) + E12 10 ; 矛盾调解: 3 × 20
    assert q2.points_by_category == {"平安巡防": 50, "环境整治": 18, "矛盾调解": 60}
    assert q2.people_by_category == {"平安巡防": 2, "环境整治": 2, "矛盾调解": 3}
    assert q2.issued == 128


def test_redeemed_is_cost_times_quantity_of_applied_redemptions(q2):
    assert q2.redeemed == 50 + 15  # D1 (JP1 × 1) and D3 (JP2 × 1); D2 refused; D4 later


def test_decayed_within_the_period(figures, q2):
    assert q2.decayed == 50 + 20
    april = figures.period("2026-04", D(2026, 4, 1), D(2026, 4, 30))
    assert april.decayed == 50
    assert figures.quarter("2026Q1").decayed == 0


def _outstanding(book: Book, day: dt.date) -> int:
    return sum(a.balance for a in compute(book, day).accounts.values())


@pytest.mark.parametrize("start, end", [
    (D(2026, 4, 1), D(2026, 6, 30)),  # the quarter
    (D(2026, 4, 1), D(2026, 4, 30)),
    (D(2026, 5, 1), D(2026, 5, 31)),
    (D(2026, 6, 1), D(2026, 6, 30)),
])
def test_outstanding_at_the_period_end_equals_the_engine_as_of_that_day(figures, start, end):
    assert figures.period("p", start, end).outstanding == _outstanding(BOOK, end)


def test_outstanding_at_the_quarter_end_by_hand(q2):
    assert q2.outstanding == 40 + 28 + 20 + 10 + 0 + 10 + 15 + 30 == 153


def test_a_period_reaching_past_the_as_of_date_stops_there(figures):
    q3 = figures.quarter("2026Q3")
    assert q3.end == AS_OF
    assert (q3.issued, q3.redeemed, q3.overall.participants) == (0, 0, 0)
    assert q3.outstanding == 153


def test_issued_minus_redeemed_minus_decayed_is_the_change_in_outstanding(figures, q2):
    before = figures.period("p", D(2025, 1, 1), D(2026, 3, 31)).outstanding
    assert before + q2.issued - q2.redeemed - q2.decayed == q2.outstanding


# --- appeals, mediation, backlog -------------------------------------------------------


def test_appeals_in_the_quarter_and_odd_median(q2):
    assert q2.appeals_opened == 3  # A1 A2 A3 (A4 was opened in March)
    assert q2.appeals_resolved == 3  # A1 (4 days) A2 (10) A4 (11)
    assert q2.appeals_corrected == 2  # A1 A4
    assert q2.median_days_to_resolve == 10


def test_even_number_of_resolved_appeals_takes_the_middle_two(figures):
    april = figures.period("2026-04", D(2026, 4, 1), D(2026, 4, 30))
    assert april.appeals_resolved == 2  # A4 on 04-05 (11 days), A1 on 04-20 (4 days)
    assert april.median_days_to_resolve == 7.5
    assert april.appeals_corrected == 2


def test_no_resolved_appeals_no_median(figures):
    q1 = figures.quarter("2026Q1")
    assert (q1.appeals_opened, q1.appeals_resolved, q1.median_days_to_resolve) == (1, 0, None)


def test_mediation_entries_per_grid(q2, figures):
    assert q2.mediation_by_grid == {"G1": 2, "G2": 1}
    assert figures.quarter("2026Q1").mediation_by_grid == {}


def test_backlog_count_median_age_and_oldest(figures):
    backlog = figures.backlog()
    # E13 (06-10, 20 days), E15 (06-25, 5 days), E16 (05-01, 60 days); E18 is after the as-of date
    assert backlog.pending == 3
    assert backlog.median_age_days == 20
    assert backlog.oldest_days == 60
    assert backlog.by_grid == {"G1": 2, "G2": 1}


def test_backlog_even_count_and_empty():
    two = Book(settings=Settings(), grids=GRIDS, staff=STAFF, residents=RESIDENTS, rules=RULES,
               entries=(entry(2, D(2026, 6, 10), "R5", "XL", status="pending"),
                        entry(3, D(2026, 6, 25), "R2", "XL", status="pending")))
    backlog = Figures(two, compute(two, AS_OF)).backlog()
    assert (backlog.pending, backlog.median_age_days, backlog.oldest_days) == (2, 12.5, 20)
    empty = Figures(Book(residents=RESIDENTS), compute(Book(residents=RESIDENTS), AS_OF)).backlog()
    assert (empty.pending, empty.median_age_days, empty.oldest_days, empty.by_grid) == (0, None, None, {})


# --- quarters ----------------------------------------------------------------------------


@pytest.mark.parametrize("label, start, end", [
    ("2026Q1", D(2026, 1, 1), D(2026, 3, 31)),
    ("2026Q2", D(2026, 4, 1), D(2026, 6, 30)),
    ("2026Q3", D(2026, 7, 1), D(2026, 9, 30)),
    ("2026Q4", D(2026, 10, 1), D(2026, 12, 31)),
    ("2024q1", D(2024, 1, 1), D(2024, 3, 31)),
    (" 2025 Q3 ", D(2025, 7, 1), D(2025, 9, 30)),
])
def test_quarter_bounds(label, start, end):
    assert quarter_bounds(label) == (start, end)


@pytest.mark.parametrize("label, previous", [("2026Q1", "2025Q4"), ("2026Q2", "2026Q1"), ("2026Q4", "2026Q3"),
                                             ("2000Q1", "1999Q4")])
def test_previous_quarter(label, previous):
    assert previous_quarter(label) == previous


def test_quarter_of():
    assert [quarter_of(D(2026, m, 15)) for m in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        "2026Q1", "2026Q1", "2026Q2", "2026Q2", "2026Q3", "2026Q3", "2026Q4", "2026Q4"]


@pytest.mark.parametrize("label", ["2026Q5", "2026Q0", "2026-Q1", "Q1 2026", "26Q1", "2026", "", "二〇二六Q1"])
def test_bad_quarter_label_is_a_kit_error(label):
    with pytest.raises(KitError) as raised:
        quarter_bounds(label)
    assert "2026Q3 这样的格式" in raised.value.message
    with pytest.raises(KitError):
        previous_quarter(label)


# --- binomial test and hotspots -------------------------------------------------------------


def _exact_cdf(x: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(x + 1)))


@pytest.mark.parametrize("x, n, p, expected", [
    (2, 10, 0.5, 56 / 1024),  # (1 + 10 + 45) / 2^10
    (0, 10, 0.5, 1 / 1024),
    (10, 10, 0.5, 1.0),
    (0, 5, 0.3, 0.7 ** 5),
    (1, 3, 0.25, 0.75 ** 3 + 3 * 0.25 * 0.75 ** 2),  # 27/64 + 27/64
    (0, 4, 0.0, 1.0),
    (3, 4, 1.0, 0.0),
    (4, 4, 1.0, 1.0),
])
def test_binomial_cdf_small_exact_values(x, n, p, expected):
    assert binomial_cdf(x, n, p) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("x, p", [(300, Fraction(3, 10)), (600, Fraction(3, 10)), (900, Fraction(1, 2)),
                                  (1000, Fraction(1, 2))])
def test_binomial_cdf_large_grid_does_not_underflow(x, p):
    # 0.7^2000 ≈ 1e-310 and C(2000, 1000) ≈ 1e600: a naive product would under- or overflow
    got = binomial_cdf(x, 2000, float(p))
    expected = _exact_cdf(x, 2000, p)
    assert got > 0
    assert got == pytest.approx(expected, rel=1e-9)


def test_binomial_cdf_large_grid_values():
    assert binomial_cdf(1000, 2000, 0.5) == pytest.approx(0.5 + math.comb(2000, 1000) / 2 ** 2001, rel=1e-9)
    assert 0 < binomial_cdf(300, 2000, 0.3) < 1e-30


def _hotspot_book() -> Book:
    """环境整治 (HJ) in 2026Q2: 第一网格 10 of 20, 第二网格 10 of 20, 第三网格 1 of 20, 第四网格 0 of 4,
    第五网格 0 of 6 → community 21 of 70 = 30%."""
    sizes = {"G1": (20, 10), "G2": (20, 10), "G3": (20, 1), "G4": (4, 0), "G5": (6, 0)}
    grids = tuple(Grid(i + 2, g, f"第{'一二三四五'[i]}网格", None) for i, g in enumerate(sizes))
    residents, entries = [], []
    for grid_id, (size, doers) in sizes.items():
        for i in range(size):
            rid = f"{grid_id}R{i:02d}"
            residents.append(Resident(len(residents) + 2, rid, f"居民{rid}", grid_id, 1980, None, False, None,
                                      "active"))
            if i < doers:
                entries.append(entry(len(entries) + 2, D(2026, 5, 1), rid, "HJ"))
    # a moved-away resident of 第三网格 who did 环境整治 is not in the register and does not count
    residents.append(Resident(len(residents) + 2, "G3MOVED", "迁出者", "G3", 1980, None, False, None, "moved"))
    entries.append(entry(len(entries) + 2, D(2026, 5, 1), "G3MOVED", "HJ"))
    return Book(settings=Settings(), grids=grids, staff=STAFF, residents=tuple(residents), rules=RULES,
                entries=tuple(entries))


@pytest.fixture(scope="module")
def hotspot_figures():
    book = _hotspot_book()
    return Figures(book, compute(book, AS_OF))


def test_hotspot_found_when_a_big_grid_is_far_below_the_community(hotspot_figures):
    found = hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 5)
    assert [(h.grid_id, h.category) for h in found] == [("G3", "环境整治")]
    spot = found[0]
    assert (spot.grid, spot.registered, spot.participants) == ("第三网格", 20, 1)
    assert spot.rate == pytest.approx(0.05)
    assert spot.community_rate == pytest.approx(0.3)
    # P(X ≤ 1) for X ~ B(20, 0.3) = 0.7^20 + 20 × 0.3 × 0.7^19 ≈ 0.0076
    assert spot.p_value == pytest.approx(0.7 ** 20 + 20 * 0.3 * 0.7 ** 19, rel=1e-9)
    assert spot.p_value < 0.05


def test_hotspot_advice_names_grid_category_and_both_rates(hotspot_figures):
    spot = hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 5)[0]
    assert "第三网格" in spot.advice and "环境整治" in spot.advice
    assert "5%" in spot.advice and "30%" in spot.advice
    assert spot.advice.index("5%") < spot.advice.index("30%")
    assert spot.advice == "第三网格 环境整治 参与率 5%，社区平均 30%：建议针对性宣传"


def test_no_hotspot_in_a_grid_below_the_minimum_size(hotspot_figures):
    # with a minimum of 21 registered residents no grid qualifies, though 第三网格's rate is the same
    assert hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 21) == []
    assert [h.grid_id for h in hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 20)] == ["G3"]


def test_no_hotspot_where_the_difference_could_be_chance(hotspot_figures):
    found = hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 5)
    # 第五网格: 0 of 6 is below half of 30%, but P(X = 0) = 0.7^6 ≈ 0.118 ≥ 0.05: could be chance
    assert binomial_cdf(0, 6, 0.3) == pytest.approx(0.7 ** 6) and 0.7 ** 6 > 0.05
    assert "G5" not in {h.grid_id for h in found}
    # 第四网格 (0 of 4) is below the minimum size; 第一/第二网格 (50%) are above the community
    assert "G4" not in {h.grid_id for h in found}
    assert [h.grid_id for h in hotspot_figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), 1)] == ["G3"]


def test_no_hotspot_outside_the_period(hotspot_figures):
    assert hotspot_figures.hotspots(D(2026, 1, 1), D(2026, 3, 31), 5) == []
