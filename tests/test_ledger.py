"""The points engine, one worked example per rule of PRODUCT.md's semantics.

Numbers are written out: 10 points an hour × 2 hours × night double = 40.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from kit.ledger import compute
from kit.model import (Appeal, Bonus, Book, Entry, Grid, Redemption, Resident, Reward, Rule,
                       Settings, Staff)

LEDGER_CODES = {"capped-entry", "redemption-overdraft", "out-of-stock", "appeal-uncounted-entry"}

D = dt.date
T = dt.time

STAFF = (
    Staff(2, "S1", "王芳", "recorder"),
    Staff(3, "S2", "李强", "reviewer"),
    Staff(4, "S3", "赵敏", "admin"),
)
RESIDENTS = (
    Resident(2, "R1", "张三", "G1", 1956, None, True, None, "active"),
    Resident(3, "R2", "李四", "G1", 1990, None, False, None, "active"),
)
PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True)
MEDIATION = Rule(3, "TJ", "矛盾调解", "矛盾调解", 20, "次", 0, True, None, None, True)
CLEANUP = Rule(4, "HJ", "环境整治", "环境整治", 5, "次", 0, False, None, None, True)
RICE = Reward(2, "JP1", "大米", "goods", 50, None, None)


def entry(row: int, date: dt.date, rule: str = "XL", quantity: object = 1, time: dt.time | None = None,
          resident: str = "R1", status: str = "approved", recorder: str = "S1",
          reviewer1: str | None = "S2", reviewer2: str | None = None) -> Entry:
    return Entry(row, f"E{row}", date, time, resident, rule, Decimal(str(quantity)), None,
                 recorder, reviewer1, reviewer2, status)


def redemption(row: int, date: dt.date, quantity: int = 1, reward: str = "JP1", resident: str = "R1"):
    return Redemption(row, f"D{row}", date, resident, reward, quantity, "S1")


def appeal(row: int, entry_id: str, status: str, corrected: int | None = None,
           date: dt.date = D(2026, 3, 7), resolved: dt.date | None = D(2026, 3, 9)) -> Appeal:
    return Appeal(row, f"A{row}", date, "R1", entry_id, None, status, corrected,
                  None if status == "open" else resolved)


def book(*entries: Entry, rules=(PATROL, MEDIATION, CLEANUP), bonuses=(), rewards=(RICE,),
         redemptions=(), appeals=(), **settings) -> Book:
    return Book(
        settings=Settings(**settings), grids=(Grid(2, "G1", "第一网格", None),), staff=STAFF,
        residents=RESIDENTS, rules=tuple(rules), bonuses=tuple(bonuses), entries=tuple(entries),
        rewards=tuple(rewards), redemptions=tuple(redemptions), appeals=tuple(appeals),
    )


def points(ledger) -> dict[str, int]:
    """Entry id → what it is worth now."""
    return {a.entry.entry_id: a.points for a in ledger.awards.values()}


def codes(ledger) -> list[tuple[str, str, int]]:
    return [(p.code, p.sheet, p.row) for p in ledger.problems]


AS_OF = D(2026, 6, 30)
NIGHT = Bonus(2, "夜间巡逻双倍", None, "XL", None, None, T(20, 0), T(6, 0), Decimal(2))


# --- rule 2: entry points, bonuses --------------------------------------------


@pytest.mark.parametrize("time, expected", [
    (T(20, 0), 20),  # the window's start is inside
    (T(23, 30), 20),
    (T(0, 0), 20),  # wraps midnight
    (T(6, 0), 20),  # the window's end is inside
    (T(6, 1), 10),
    (T(19, 59), 10),
    (T(12, 0), 10),
])
def test_night_window_wraps_midnight_with_inclusive_ends(time, expected):
    ledger = compute(book(entry(2, D(2026, 3, 5), time=time), bonuses=[NIGHT]), AS_OF)
    assert points(ledger) == {"E2": expected}


def test_entry_without_time_matches_no_time_window_but_matches_a_date_bonus():
    festival = Bonus(3, "春节平安积分", "平安巡防", None, D(2026, 2, 13), D(2026, 3, 3), None, None, Decimal("1.5"))
    ledger = compute(book(
        entry(2, D(2026, 3, 5), quantity=2),  # no time, after the festival: 10 × 2 = 20
        entry(3, D(2026, 2, 20), quantity=2),  # no time, in the festival: 10 × 2 × 1.5 = 30
        entry(4, D(2026, 3, 3), quantity=2, time=T(21, 0)),  # last festival day, at night: × 2 (largest)
        bonuses=[NIGHT, festival]), AS_OF)
    assert points(ledger) == {"E2": 20, "E3": 30, "E4": 40}


def test_bonuses_never_stack_the_largest_wins():
    both = Bonus(3, "巡防月", "平安巡防", None, D(2026, 3, 1), D(2026, 3, 31), None, None, Decimal("1.5"))
    ledger = compute(book(entry(2, D(2026, 3, 5), time=T(22, 0)), bonuses=[both, NIGHT]), AS_OF)
    assert points(ledger) == {"E2": 20}  # 10 × 2, not 10 × 2 × 1.5 = 30
    assert ledger.awards[2].multiplier == Decimal(2)


def test_bonus_without_category_or_rule_code_applies_to_every_rule():
    everything = Bonus(2, "社区日", None, None, D(2026, 3, 5), D(2026, 3, 5), None, None, Decimal("1.5"))
    ledger = compute(book(
        entry(2, D(2026, 3, 5), rule="HJ"),  # 5 × 1.5 = 7.5 → 7
        entry(3, D(2026, 3, 5), rule="TJ", reviewer2="S3"),  # 20 × 1.5 = 30
        entry(4, D(2026, 3, 6), rule="HJ"),  # the day after: 5
        bonuses=[everything]), AS_OF)
    assert points(ledger) == {"E2": 7, "E3": 30, "E4": 5}


@pytest.mark.parametrize("rule, quantity, expected", [
    ("XL", "1.5", 15),  # 10 × 1.5
    ("XL", "0.25", 2),  # 2.5 → 2
    ("HJ", "0.5", 2),  # 5 × 0.5 = 2.5 → 2
    ("XL", "0.05", 0),  # 0.5 → 0: counted, worth nothing
])
def test_fractional_quantities_are_floored(rule, quantity, expected):
    ledger = compute(book(entry(2, D(2026, 3, 5), rule=rule, quantity=quantity)), AS_OF)
    assert points(ledger) == {"E2": expected}


def test_fraction_times_bonus_is_floored_once_at_the_end():
    festival = Bonus(2, "加倍", None, "XL", None, None, None, None, Decimal("1.5"))
    ledger = compute(book(entry(2, D(2026, 3, 5), quantity="1.5"), bonuses=[festival]), AS_OF)
    assert points(ledger) == {"E2": 22}  # 10 × 1.5 × 1.5 = 22.5 → 22 (not 15 → 22.5)


# --- rule 1: which entries count ------------------------------------------------


@pytest.mark.parametrize("changes", [
    dict(status="pending"),
    dict(status="rejected"),
    dict(reviewer1=None),  # no review
    dict(reviewer1="S1"),  # the recorder reviewing their own entry
    dict(recorder="S3", reviewer1="S1"),  # a recorder (role 登记员) as reviewer
    dict(rule="TJ", reviewer2=None),  # double review with one reviewer
    dict(rule="TJ", reviewer2="S2"),  # the same person twice
    dict(rule="TJ", recorder="S3", reviewer1="S2", reviewer2="S3"),  # recorder as second reviewer
    dict(resident="R9"),  # unknown resident
    dict(rule="ZZ"),  # unknown rule
    dict(quantity=0),
    dict(date=D(2026, 7, 1)),  # after the as-of date
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_entries_that_do_not_count(changes):
    args = dict(row=3, date=D(2026, 3, 5)) | changes
    ledger = compute(book(entry(2, D(2026, 3, 5)), entry(**args)), AS_OF)
    assert points(ledger) == {"E2": 10}
    assert ledger.accounts["R1"].earned == 10


def test_valid_double_review_counts():
    ledger = compute(book(entry(2, D(2026, 3, 5), rule="TJ", reviewer1="S2", reviewer2="S3")), AS_OF)
    assert points(ledger) == {"E2": 20}


def test_inactive_rule_does_not_count():
    retired = dataclasses.replace(CLEANUP, active=False)
    ledger = compute(book(entry(2, D(2026, 3, 5), rule="HJ"), rules=[PATROL, retired]), AS_OF)
    assert points(ledger) == {}


# --- rule 3: caps ---------------------------------------------------------------


def test_daily_cap_across_several_entries_of_one_day():
    capped = dataclasses.replace(PATROL, daily_cap=40)
    ledger = compute(book(
        entry(2, D(2026, 3, 5), quantity=3),  # 30
        entry(3, D(2026, 3, 5), quantity=2),  # 20, only 10 fit
        entry(4, D(2026, 3, 5), quantity=1),  # 10, nothing fits
        entry(5, D(2026, 3, 5), quantity=1, resident="R2"),  # another resident: own cap
        entry(6, D(2026, 3, 6), quantity=1),  # the next day: fresh cap
        rules=[capped]), AS_OF)
    assert points(ledger) == {"E2": 30, "E3": 10, "E4": 0, "E5": 10, "E6": 10}
    assert [(p.code, p.row) for p in ledger.problems] == [("capped-entry", 3), ("capped-entry", 4)]
    assert "应得 20 分" in ledger.problems[0].message and "少计 10 分" in ledger.problems[0].message
    assert "每日上限 40 分" in ledger.problems[0].message


def test_daily_cap_follows_date_then_row_not_sheet_order():
    capped = dataclasses.replace(PATROL, daily_cap=40)
    ledger = compute(book(
        entry(5, D(2026, 3, 5), quantity=3),  # row 5 comes after row 2 on the same date
        entry(2, D(2026, 3, 5), quantity=2),
        rules=[capped]), AS_OF)
    assert points(ledger) == {"E2": 20, "E5": 20}


def test_annual_cap_at_a_year_boundary():
    ledger = compute(book(
        entry(2, D(2025, 12, 31), quantity=3),  # 30
        entry(3, D(2025, 12, 31), quantity=3),  # 30, only 20 fit in 2025
        entry(4, D(2026, 1, 1), quantity=3),  # 30: 2026 starts afresh
        annual_cap=50), AS_OF)
    assert points(ledger) == {"E2": 30, "E3": 20, "E4": 30}
    assert [(p.code, p.row) for p in ledger.problems] == [("capped-entry", 3)]
    assert "年度上限 50 分" in ledger.problems[0].message


# --- rule 4: appeals ------------------------------------------------------------


def test_correction_to_zero():
    ledger = compute(book(entry(2, D(2026, 3, 5), quantity=2), appeals=[appeal(2, "E2", "corrected", 0)]),
                     AS_OF)
    assert points(ledger) == {"E2": 0}
    account = ledger.accounts["R1"]
    assert (account.earned, account.balance) == (0, 0)
    assert [(e.kind, e.points, e.sheet, e.row) for e in account.events] == [
        ("earned", 20, "entries", 2), ("corrected", -20, "appeals", 2)]


def test_correction_keeps_what_other_entries_received_under_the_cap():
    capped = dataclasses.replace(PATROL, daily_cap=40)
    ledger = compute(book(
        entry(2, D(2026, 3, 5), quantity=3),  # 30
        entry(3, D(2026, 3, 5), quantity=2),  # 20 → 10 under the cap
        rules=[capped], appeals=[appeal(2, "E2", "corrected", 5)]), AS_OF)
    assert points(ledger) == {"E2": 5, "E3": 10}


def test_open_appeal_marks_the_entry_and_changes_nothing():
    ledger = compute(book(entry(2, D(2026, 3, 5)), appeals=[appeal(2, "E2", "open")]), AS_OF)
    assert ledger.under_appeal == {"E2"}
    assert points(ledger) == {"E2": 10}


def test_correction_decided_after_the_as_of_date_is_still_open_then():
    decided = appeal(2, "E2", "corrected", 0, date=D(2026, 3, 7), resolved=D(2026, 7, 10))
    before = compute(book(entry(2, D(2026, 3, 5)), appeals=[decided]), AS_OF)
    after = compute(book(entry(2, D(2026, 3, 5)), appeals=[decided]), D(2026, 7, 10))
    assert (before.under_appeal, points(before)) == ({"E2"}, {"E2": 10})
    assert (after.under_appeal, points(after)) == (frozenset(), {"E2": 0})


def test_the_last_decided_correction_wins():
    ledger = compute(book(entry(2, D(2026, 3, 5)), appeals=[
        appeal(3, "E2", "corrected", 7, resolved=D(2026, 3, 20)),
        appeal(2, "E2", "corrected", 3, resolved=D(2026, 3, 10)),
    ]), AS_OF)
    assert points(ledger) == {"E2": 7}


def test_correcting_an_entry_that_does_not_count_is_a_warning():
    ledger = compute(book(entry(2, D(2026, 3, 5), status="rejected"),
                          appeals=[appeal(2, "E2", "corrected", 30)]), AS_OF)
    assert points(ledger) == {}
    assert codes(ledger) == [("appeal-uncounted-entry", "appeals", 2)]


# --- rule 5: lots and decay -----------------------------------------------------


def balance(ledger, resident="R1"):
    a = ledger.accounts[resident]
    return a.earned, a.redeemed, a.decayed, a.balance


def test_decay_at_exactly_twelve_months():
    lot = book(entry(2, D(2025, 3, 10), quantity=10))  # 100 points
    assert balance(compute(lot, D(2026, 3, 9))) == (100, 0, 0, 100)
    assert balance(compute(lot, D(2026, 3, 10))) == (100, 0, 50, 50)


def test_decay_again_at_every_further_multiple():
    lot = book(entry(2, D(2025, 3, 10), quantity=10))
    assert balance(compute(lot, D(2027, 3, 9))) == (100, 0, 50, 50)
    assert balance(compute(lot, D(2027, 3, 10))) == (100, 0, 75, 25)
    assert balance(compute(lot, D(2028, 3, 10))) == (100, 0, 88, 12)  # 25 × 0.5 = 12.5 → 12


def test_odd_lot_decays_with_floor():
    lot = book(entry(2, D(2025, 3, 10), quantity="3.5"))  # 35 points → 17
    assert balance(compute(lot, D(2026, 3, 10))) == (35, 0, 18, 17)


def test_jan_31_plus_one_month_is_the_end_of_february():
    lot = book(entry(2, D(2026, 1, 31), quantity=10), decay_after_months=1)
    assert balance(compute(lot, D(2026, 2, 27)))[3] == 100
    assert balance(compute(lot, D(2026, 2, 28)))[3] == 50
    # the second decay counts two months from Jan 31 (Mar 31), not one month from Feb 28
    assert balance(compute(lot, D(2026, 3, 30)))[3] == 50
    assert balance(compute(lot, D(2026, 3, 31)))[3] == 25


def test_leap_year_end_of_february():
    lot = book(entry(2, D(2027, 1, 31), quantity=10), decay_after_months=13)  # → 2028-02-29
    assert balance(compute(lot, D(2028, 2, 28)))[3] == 100
    assert balance(compute(lot, D(2028, 2, 29)))[3] == 50


def test_no_decay_when_switched_off_and_factor_three_quarters():
    lot = book(entry(2, D(2024, 3, 10), quantity=10), decay_after_months=0)
    assert balance(compute(lot, D(2026, 6, 30)))[3] == 100
    slow = book(entry(2, D(2025, 3, 10), quantity=10), decay_factor=Decimal("0.75"))
    assert balance(compute(slow, D(2026, 3, 10)))[3] == 75


def test_redemption_on_the_day_of_a_decay_sees_the_decayed_balance():
    lot = entry(2, D(2025, 3, 10), quantity=10)  # 100 points, halved at the start of 2026-03-10
    too_much = compute(book(lot, redemptions=[redemption(2, D(2026, 3, 10), quantity=2)]), AS_OF)  # 100
    assert codes(too_much) == [("redemption-overdraft", "redemptions", 2)]
    assert "需要 100 分" in too_much.problems[0].message and "只有 50 分" in too_much.problems[0].message
    assert balance(too_much) == (100, 0, 50, 50)
    just = compute(book(lot, redemptions=[redemption(2, D(2026, 3, 10), quantity=1)]), AS_OF)  # 50
    assert codes(just) == []
    assert balance(just) == (100, 50, 50, 0)
    day_before = compute(book(lot, redemptions=[redemption(2, D(2026, 3, 9), quantity=2)]), AS_OF)
    assert balance(day_before) == (100, 100, 0, 0)


def test_redemptions_use_lots_oldest_first_across_partly_used_lots():
    ledger = compute(book(
        entry(4, D(2025, 3, 1), quantity=5),  # lot C: 50 (row order is not date order)
        entry(2, D(2025, 1, 1), quantity=3),  # lot A: 30
        entry(3, D(2025, 2, 1), quantity=4),  # lot B: 40
        redemptions=[redemption(2, D(2025, 4, 1))],  # 50 = all of A + 20 of B
    ), D(2026, 3, 31))
    # 2026-01-01: A is used up, nothing decays. 2026-02-01: B's 20 left → 10.
    # 2026-03-01: C's 50 → 25.
    assert balance(ledger) == (120, 50, 35, 35)
    decays = [(e.date, e.points, e.row) for e in ledger.accounts["R1"].events if e.kind == "decayed"]
    assert decays == [(D(2026, 2, 1), -10, 3), (D(2026, 3, 1), -25, 4)]


def test_same_day_entry_can_be_redeemed_that_day():
    ledger = compute(book(entry(2, D(2026, 3, 5), quantity=5), redemptions=[redemption(2, D(2026, 3, 5))]),
                     AS_OF)
    assert codes(ledger) == []
    assert balance(ledger) == (50, 50, 0, 0)


def test_redemptions_of_one_day_in_row_order():
    ledger = compute(book(entry(2, D(2026, 3, 5), quantity=8), redemptions=[
        redemption(3, D(2026, 3, 6)),  # 50 of 80: fine (row 3 before row 4)
        redemption(4, D(2026, 3, 6)),  # 50 more: only 30 left
    ]), AS_OF)
    assert codes(ledger) == [("redemption-overdraft", "redemptions", 4)]
    assert [r.row for r in ledger.redemptions] == [3]
    assert balance(ledger) == (80, 50, 0, 30)


# --- rule 6: stock ---------------------------------------------------------------


def test_stock_is_shared_by_everyone_in_date_order():
    scarce = dataclasses.replace(RICE, stock=2)
    ledger = compute(book(
        entry(2, D(2026, 3, 5), quantity=20),
        entry(3, D(2026, 3, 5), quantity=20, resident="R2"),
        rewards=[scarce],
        redemptions=[
            redemption(2, D(2026, 3, 10)),
            redemption(3, D(2026, 3, 9), resident="R2"),
            redemption(4, D(2026, 3, 11), resident="R2"),  # the third one: out of stock
        ]), AS_OF)
    assert codes(ledger) == [("out-of-stock", "redemptions", 4)]
    assert ledger.stock_used == {"JP1": 2}
    assert balance(ledger, "R2") == (200, 50, 0, 150)


def test_overdraft_is_not_applied_and_uses_no_stock():
    scarce = dataclasses.replace(RICE, stock=1)
    ledger = compute(book(
        entry(2, D(2026, 3, 5), quantity=2), entry(3, D(2026, 3, 5), quantity=20, resident="R2"),
        rewards=[scarce],
        redemptions=[redemption(2, D(2026, 3, 6)), redemption(3, D(2026, 3, 7), resident="R2")]), AS_OF)
    assert codes(ledger) == [("redemption-overdraft", "redemptions", 2)]
    assert ledger.stock_used == {"JP1": 1}
    assert balance(ledger) == (20, 0, 0, 20)


def test_later_redemptions_are_ignored():
    ledger = compute(book(entry(2, D(2026, 3, 5), quantity=20), redemptions=[redemption(2, D(2026, 7, 1))]),
                     AS_OF)
    assert balance(ledger) == (200, 0, 0, 200)


# --- expiring within 30 days, statements ------------------------------------------


def test_expiring_within_thirty_days():
    lot = book(entry(2, D(2025, 3, 10), quantity=10))  # decays 2026-03-10
    assert compute(lot, D(2026, 2, 7)).accounts["R1"].expiring_30d == 0  # 30 days reach 03-09
    assert compute(lot, D(2026, 2, 8)).accounts["R1"].expiring_30d == 50  # 30 days reach 03-10
    assert compute(lot, D(2026, 3, 10)).accounts["R1"].expiring_30d == 0  # already happened


def test_statement_traces_every_point_to_a_row():
    capped = dataclasses.replace(PATROL, daily_cap=40)
    ledger = compute(book(
        entry(2, D(2025, 3, 10), quantity=3),
        entry(3, D(2025, 3, 10), quantity=2),
        entry(4, D(2025, 5, 1), quantity=2),
        rules=[capped], appeals=[appeal(2, "E4", "corrected", 30, date=D(2025, 5, 2), resolved=D(2025, 5, 3))],
        redemptions=[redemption(2, D(2025, 6, 1))],
    ), D(2026, 6, 30))
    events = [(e.date, e.kind, e.points, e.sheet, e.row, e.ref) for e in ledger.accounts["R1"].events]
    assert events == [
        (D(2025, 3, 10), "earned", 30, "entries", 2, "XL"),
        (D(2025, 3, 10), "earned", 20, "entries", 3, "XL"),
        (D(2025, 3, 10), "capped", -10, "entries", 3, "daily"),
        (D(2025, 5, 1), "earned", 20, "entries", 4, "XL"),
        (D(2025, 5, 1), "corrected", 10, "appeals", 2, "A2"),
        (D(2025, 6, 1), "redeemed", -50, "redemptions", 2, "JP1"),  # lots 30 + 10 + 10 of 30
        (D(2026, 5, 1), "decayed", -10, "entries", 4, "1"),  # the 20 left of row 4 → 10
    ]
    account = ledger.accounts["R1"]
    assert sum(e.points for e in account.events) == account.balance == 10
    assert (account.earned, account.redeemed, account.decayed) == (70, 50, 10)


def test_every_resident_has_an_account_even_without_points():
    ledger = compute(book(), AS_OF)
    assert {rid: balance(ledger, rid) for rid in ledger.accounts} == {"R1": (0, 0, 0, 0), "R2": (0, 0, 0, 0)}
