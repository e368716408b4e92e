"""Points liability and what-if scenarios (kit.forecast), against the engine and by hand.

Settings unless a test says otherwise: decay after 12 months × 0.5, no annual cap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from kit.forecast import ANNUAL_CAPS, DECAY_FACTORS, DECAY_MONTHS, history_until, liability, what_if
from kit.ledger import compute
from kit.model import Appeal, Book, Entry, Grid, Redemption, Resident, Reward, Rule, Settings, Staff

D = dt.date
AS_OF = D(2026, 6, 30)

STAFF = (Staff(2, "S1", "王芳", "recorder"), Staff(3, "S2", "李强", "reviewer"))
GRIDS = (Grid(2, "G1", "第一网格", None),)
RESIDENTS = tuple(Resident(i + 2, f"R{i + 1}", f"居民{i + 1}", "G1", 1980, None, False, None, "active")
                  for i in range(4))
PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True)
RICE = Reward(2, "JP1", "大米", "goods", 30, None, None)
OIL = Reward(3, "JP2", "食用油", "goods", 50, None, None)


def entry(row: int, date: dt.date, resident: str, hours: int) -> Entry:
    return Entry(row, f"E{row}", date, None, resident, "XL", Decimal(hours), None, "S1", "S2", None, "approved")


def redemption(row: int, date: dt.date, resident: str, reward: str = "JP1", quantity: int = 1) -> Redemption:
    return Redemption(row, f"D{row}", date, resident, reward, quantity, "S1")


def make_book(entries, redemptions=(), appeals=(), rewards=(RICE, OIL), **settings) -> Book:
    return Book(settings=Settings(**settings), grids=GRIDS, staff=STAFF, residents=RESIDENTS, rules=(PATROL,),
                entries=tuple(entries), rewards=tuple(rewards), redemptions=tuple(redemptions),
                appeals=tuple(appeals))


# R1: 100 on 2025-03-01 (halved to 50 on 2026-03-01), 40 on 2026-01-15, spends 30 on 2026-04-01 (oldest lot:
#     50 → 20). Balance 20 + 40 = 60.
# R2: 100 on 2025-10-20. Balance 100.
LIABILITY_ENTRIES = (
    entry(2, D(2025, 3, 1), "R1", 10),
    entry(3, D(2026, 1, 15), "R1", 4),
    entry(4, D(2025, 10, 20), "R2", 10),
)
LIABILITY_REDEMPTIONS = (redemption(2, D(2026, 4, 1), "R1"),)
# Next 12 months (to 2027-06-30), if nobody earns or redeems:
#   R1's first lot 20 → 10 on 2027-03-01 (−10); second lot 40 → 20 on 2027-01-15 (−20)
#   R2's lot 100 → 50 on 2026-10-20 (−50); its next decay (2027-10-20) is outside
DECAYING = 10 + 20 + 50
OUTSTANDING = 60 + 100
# What comes after the as-of date must not count: R2 redeeming 3 × 30 on 2026-07-10 would leave 10 to
# decay (−5 instead of −50); a new lot on 2026-07-01 could not decay before 2027-07-01 anyway.
LATER_ENTRIES = (entry(5, D(2026, 7, 1), "R3", 50),)
LATER_REDEMPTIONS = (redemption(3, D(2026, 7, 10), "R2", "JP1", 3),)


def _decayed(book: Book, day: dt.date) -> int:
    return sum(a.decayed for a in compute(book, day).accounts.values())


def _known_on(book: Book, day: dt.date) -> Book:
    """Written here, not kit.forecast.history_until: nothing dated after the day."""
    return dataclasses.replace(book, entries=tuple(e for e in book.entries if e.date <= day),
                               redemptions=tuple(r for r in book.redemptions if r.date <= day),
                               appeals=tuple(a for a in book.appeals if a.date <= day))


@pytest.fixture(scope="module")
def owed():
    book = make_book(LIABILITY_ENTRIES + LATER_ENTRIES, LIABILITY_REDEMPTIONS + LATER_REDEMPTIONS)
    return liability(book, compute(book, AS_OF))


def test_outstanding_is_the_sum_of_balances(owed):
    book = make_book(LIABILITY_ENTRIES, LIABILITY_REDEMPTIONS)
    balances = {rid: a.balance for rid, a in compute(book, AS_OF).accounts.items()}
    assert balances == {"R1": 60, "R2": 100, "R3": 0, "R4": 0}
    assert owed.outstanding == sum(balances.values()) == OUTSTANDING
    assert owed.as_of == AS_OF


def test_decaying_next_12_months_by_hand_and_by_the_engine(owed):
    assert owed.decaying_next_12m == DECAYING
    book = make_book(LIABILITY_ENTRIES, LIABILITY_REDEMPTIONS)
    assert _decayed(book, AS_OF) == 50  # R1's first lot, on 2026-03-01
    assert _decayed(book, D(2027, 6, 30)) - _decayed(book, AS_OF) == DECAYING


def test_projection_ignores_what_is_dated_after_the_as_of_date(owed):
    full = make_book(LIABILITY_ENTRIES + LATER_ENTRIES, LIABILITY_REDEMPTIONS + LATER_REDEMPTIONS)
    # using the later redemption would give 10 + 20 + 5 = 35: the test can tell the difference
    assert _decayed(full, D(2027, 6, 30)) - _decayed(full, AS_OF) == 10 + 20 + 5
    known = _known_on(full, AS_OF)
    assert _decayed(known, D(2027, 6, 30)) - _decayed(known, AS_OF) == DECAYING == owed.decaying_next_12m
    assert history_until(full, AS_OF) == known


def test_projection_ignores_an_appeal_decided_after_the_as_of_date():
    # R2's lot is under appeal on the as-of date (opened 06-20) and cut to 0 on 07-05. On the as-of date the
    # 100 points are still outstanding, so they are what may decay: the later decision is not known yet.
    later_decision = Appeal(2, "A1", D(2026, 6, 20), "R2", "E4", None, "corrected", 0, D(2026, 7, 5))
    book = make_book(LIABILITY_ENTRIES, LIABILITY_REDEMPTIONS, appeals=(later_decision,))
    ledger = compute(book, AS_OF)
    assert "E4" in ledger.under_appeal
    owed = liability(book, ledger)
    assert owed.outstanding == OUTSTANDING
    assert owed.decaying_next_12m == DECAYING  # not 10 + 20 + 0


def test_average_cost_and_no_yuan_without_reward_values(owed):
    assert owed.average_cost == (30 + 50) / 2 == 40
    assert owed.rewards_equivalent == pytest.approx(OUTSTANDING / 40)  # 4 rewards
    assert owed.yuan_per_point is None and owed.yuan is None


def test_yuan_per_point_from_rewards_with_a_value():
    # 大米 30 points ≈ 12 yuan, 食用油 50 points ≈ 20 yuan: 32 / 80 = 0.4 yuan a point; 160 × 0.4 = 64
    rewards = (dataclasses.replace(RICE, value=Decimal(12)), dataclasses.replace(OIL, value=Decimal(20)))
    book = make_book(LIABILITY_ENTRIES, LIABILITY_REDEMPTIONS, rewards=rewards)
    owed = liability(book, compute(book, AS_OF))
    assert owed.yuan_per_point == Decimal("0.400")
    assert owed.yuan == Decimal(64)
    assert owed.average_cost == 40


def test_yuan_per_point_uses_only_the_rewards_that_have_a_value():
    # only 大米 has a value: 15 yuan / 30 points = 0.5 a point; 160 × 0.5 = 80; the average cost is still
    # over the whole catalogue
    book = make_book(LIABILITY_ENTRIES, LIABILITY_REDEMPTIONS,
                     rewards=(dataclasses.replace(RICE, value=Decimal(15)), OIL))
    owed = liability(book, compute(book, AS_OF))
    assert owed.yuan_per_point == Decimal("0.500")
    assert owed.yuan == Decimal(80)
    assert owed.average_cost == 40


def test_no_rewards_no_average():
    book = make_book(LIABILITY_ENTRIES, (), rewards=())
    owed = liability(book, compute(book, AS_OF))
    assert owed.outstanding == 100 + 40 + 100 - 50  # nothing redeemed; R1's first lot halved
    assert (owed.average_cost, owed.rewards_equivalent, owed.yuan_per_point, owed.yuan) == (None, None, None, None)


# --- what-if -----------------------------------------------------------------------------------------

# R3 earns 1,500 in 2026 (an annual cap of 1,000 cuts 500); R4 earns 100 on 2025-06-01 and spends 80 on
# 2026-03-01 (nine months later): fine with 12-month decay, refused when the lot has already been halved
# (6 months: 2025-12-01 → 50 < 80; ×0.75 → 75 < 80).
WHAT_IF_ENTRIES = LIABILITY_ENTRIES + (
    entry(5, D(2026, 2, 1), "R3", 80),
    entry(6, D(2026, 5, 1), "R3", 70),
    entry(7, D(2025, 6, 1), "R4", 10),
    entry(8, D(2024, 11, 5), "R2", 6),
)
WHAT_IF_REDEMPTIONS = LIABILITY_REDEMPTIONS + (
    redemption(3, D(2026, 3, 1), "R4", "JP1"),
    redemption(4, D(2026, 3, 1), "R4", "JP2"),
    redemption(5, D(2026, 6, 1), "R3", "JP2", 4),
)


@pytest.fixture(scope="module")
def what_if_book():
    return make_book(WHAT_IF_ENTRIES + LATER_ENTRIES, WHAT_IF_REDEMPTIONS + LATER_REDEMPTIONS)


@pytest.fixture(scope="module")
def scenarios(what_if_book):
    return what_if(what_if_book, AS_OF)


def _engine(book: Book, months: int, factor: Decimal, cap: int) -> tuple[int, int, int, int, int]:
    settings = dataclasses.replace(book.settings, decay_after_months=months, decay_factor=factor, annual_cap=cap)
    ledger = compute(dataclasses.replace(book, settings=settings), AS_OF)
    accounts = ledger.accounts.values()
    return (sum(a.earned for a in accounts), sum(a.redeemed for a in accounts), sum(a.decayed for a in accounts),
            sum(a.balance for a in accounts),
            sum(1 for p in ledger.problems if p.code == "redemption-overdraft"))


def test_every_scenario_equals_a_full_engine_run(scenarios, what_if_book):
    assert scenarios
    for s in scenarios:
        assert (s.earned, s.redeemed, s.decayed, s.outstanding, s.refused_redemptions) == _engine(
            what_if_book, s.decay_after_months, s.decay_factor, s.annual_cap), s.label


def test_scenarios_cover_every_decay_setting_and_cap_once(scenarios):
    settings = [(s.decay_after_months, s.decay_factor, s.annual_cap) for s in scenarios]
    assert len(settings) == len(set(settings))
    expected = {(m, f, 0) for m in DECAY_MONTHS for f in DECAY_FACTORS} | {(12, Decimal("0.5"), c) for c in ANNUAL_CAPS}
    assert set(settings) == expected
    assert len(scenarios) == 8


def test_exactly_one_scenario_is_current_and_it_is_the_real_ledger(scenarios, what_if_book):
    current = [s for s in scenarios if s.current]
    assert len(current) == 1
    s = current[0]
    assert (s.decay_after_months, s.decay_factor, s.annual_cap) == (12, Decimal("0.5"), 0)
    assert scenarios[0] is s
    assert "（" not in s.label and "12 个月后 ×0.5" in s.label and "不限" in s.label
    ledger = compute(what_if_book, AS_OF)
    assert s.outstanding == sum(a.balance for a in ledger.accounts.values())
    assert s.refused_redemptions == 0


def test_current_scenario_by_hand(scenarios):
    s = scenarios[0]
    # earned: R1 100 + 40, R2 100 + 60, R3 800 + 700, R4 100 = 1,900
    assert s.earned == 1900
    # redeemed: R1 30, R4 30 + 50, R3 4 × 50 = 310
    assert s.redeemed == 310
    # decayed: R1 50 (2026-03-01); R2's 60-point lot of 2024-11-05 → 30 (2025-11-05); R4's 100 → 20 left
    # after spending 80, → 10 on 2026-06-01
    assert s.decayed == 50 + 30 + 10
    assert s.outstanding == 1900 - 310 - 90


def test_stricter_decay_refuses_a_historical_redemption(scenarios):
    by_setting = {(s.decay_after_months, s.decay_factor, s.annual_cap): s for s in scenarios}
    assert by_setting[(6, Decimal("0.5"), 0)].refused_redemptions > 0
    assert by_setting[(6, Decimal("0.75"), 0)].refused_redemptions > 0
    assert by_setting[(12, Decimal("0.5"), 0)].refused_redemptions == 0
    assert by_setting[(24, Decimal("0.5"), 0)].refused_redemptions == 0
    # 24 months: no lot is 24 months old yet (the oldest, R2's of 2024-11-05, decays on 2026-11-05)
    assert by_setting[(24, Decimal("0.5"), 0)].decayed == 0


def test_an_annual_cap_cuts_what_was_earned(scenarios):
    by_cap = {s.annual_cap: s for s in scenarios if (s.decay_after_months, s.decay_factor) == (12, Decimal("0.5"))}
    assert by_cap[0].earned - by_cap[1000].earned == 500  # R3: 1,500 in 2026 → 1,000
    assert by_cap[2000].earned == by_cap[0].earned


def test_what_if_ignores_what_is_dated_after_the_as_of_date(what_if_book, scenarios):
    without_later = what_if(make_book(WHAT_IF_ENTRIES, WHAT_IF_REDEMPTIONS), AS_OF)
    assert without_later == scenarios


def test_what_if_with_a_current_setting_outside_the_list():
    book = make_book(WHAT_IF_ENTRIES, WHAT_IF_REDEMPTIONS, decay_after_months=0, annual_cap=500)
    found = what_if(book, AS_OF)
    assert [s.current for s in found].count(True) == 1
    assert found[0].current and (found[0].decay_after_months, found[0].annual_cap) == (0, 500)
    assert found[0].label.startswith("不衰减") and found[0].decayed == 0
    for s in found:
        assert (s.earned, s.redeemed, s.decayed, s.outstanding, s.refused_redemptions) == _engine(
            book, s.decay_after_months, s.decay_factor, s.annual_cap), s.label
    assert len(found) == 1 + 6 + 3  # the current one, 6 decay settings with cap 500, 3 caps with no decay
