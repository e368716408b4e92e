"""Property-based tests of the points engine (PRODUCT.md, "Points semantics (the ledger)").

Small random but valid books are built straight from the model dataclasses (no
xlsx round trip), so each example costs little more than one `compute` call.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.ledger import Ledger, compute
from kit.model import (Appeal, Bonus, Book, Entry, Grid, Redemption, Resident, Reward, Rule,
                       Settings, Staff)

START = dt.date(2024, 1, 1)
END = dt.date(2026, 12, 31)  # about three years of activity

CATEGORIES = ("平安巡防", "矛盾调解", "环境整治")
MULTIPLIERS = tuple(Decimal(m) for m in ("1", "1.5", "2", "3"))
QUANTITIES = tuple(Decimal(q) for q in ("0", "0.5", "1", "1", "1.5", "2", "3"))
DECAY_FACTORS = tuple(Decimal(f) for f in ("0.5", "0.75", "1", "0"))

# About 15 s for the whole file; LEDGER_PROPERTY_EXAMPLES=2000 for a deeper search.
SETTINGS = settings(max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "120")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --- strategies ------------------------------------------------------------------

# One choice per value keeps data generation cheap (most of the running time).
dates = st.integers(0, (END - START).days).map(lambda d: START + dt.timedelta(days=d))
times = st.integers(0, 24 * 60 - 1).map(lambda m: dt.time(m // 60, m % 60))
maybe_times = st.sampled_from((None, *(dt.time(h, m) for h in range(24) for m in (0, 30, 59))))

# Strategies are built once, outside the composite: building them per draw costs more than drawing.
optional_dates = st.none() | dates
optional_times = st.none() | times
optional_categories = st.none() | st.sampled_from(CATEGORIES)
daily_caps = st.sampled_from((0, 0)) | st.integers(1, 100)
rule_active = st.sampled_from((True, True, True, False))
entry_statuses = st.sampled_from(("approved",) * 6 + ("pending", "rejected"))
appeal_statuses = st.sampled_from(("open", "upheld", "corrected"))
birth_years = st.none() | st.integers(1930, 2010)
stocks = st.none() | st.integers(0, 5)
resolved_after = st.none() | st.integers(0, 90)
mostly = st.sampled_from((True, True, True, True, False))
indexes = st.integers(0, 11)
costs = st.integers(1, 100) | st.integers(1, 20)


def pick(values) -> st.SearchStrategy:
    return st.sampled_from(tuple(values))


@st.composite
def books(draw, *, redemptions: bool = True) -> Book:
    n_grids = draw(st.integers(1, 3))
    grids = tuple(Grid(2 + i, f"G{i + 1}", f"第{i + 1}网格", draw(st.none() | st.just("幸福社区")))
                  for i in range(n_grids))

    # At least two reviewers so a double review can be valid; recorders and admins optional.
    roles = ["reviewer", "reviewer"] + draw(
        st.lists(st.sampled_from(("recorder", "reviewer", "admin")), max_size=3))
    roles = draw(st.permutations(roles))
    staff = tuple(Staff(2 + i, f"S{i + 1}", f"员工{i + 1}", role) for i, role in enumerate(roles))
    staff_ids = tuple(s.staff_id for s in staff)
    reviewer_ids = tuple(s.staff_id for s in staff if s.can_review)
    any_staff = pick(staff_ids)

    grid_ids = pick(g.grid_id for g in grids)
    residents = tuple(
        Resident(2 + i, f"R{i + 1}", f"居民{i + 1}", draw(grid_ids), draw(birth_years), None,
                 draw(st.booleans()), None, draw(pick(("active", "moved"))))
        for i in range(draw(st.integers(1, 5))))
    resident_ids = pick(r.resident_id for r in residents)

    rules = tuple(
        Rule(2 + i, f"K{i + 1}", f"规则{i + 1}", draw(pick(CATEGORIES)), draw(st.integers(1, 50)), "次",
             draw(daily_caps), draw(st.booleans()), None, None, draw(rule_active))
        for i in range(draw(st.integers(1, 4))))
    rule_codes = pick(r.code for r in rules)

    bonuses = []
    optional_rule_codes = st.none() | rule_codes
    for i in range(draw(st.integers(0, 3))):
        start_date, end_date = draw(optional_dates), draw(optional_dates)
        if start_date and end_date and start_date > end_date:
            start_date, end_date = end_date, start_date
        # Either time bound alone, both (a start after the end wraps midnight), or none.
        start_time, end_time = draw(optional_times), draw(optional_times)
        bonuses.append(Bonus(2 + i, f"奖励活动{i + 1}", draw(optional_categories), draw(optional_rule_codes),
                             start_date, end_date, start_time, end_time, draw(pick(MULTIPLIERS))))

    # Most entries carry a valid review; the rest draw reviewers freely (nobody, the recorder,
    # a recorder-only role, the same person twice, an unknown id), so some entries do not count.
    reviewer1 = pick(reviewer_ids * 3 + staff_ids + (None, "S99"))
    reviewer2 = pick(reviewer_ids * 3 + staff_ids + (None,) * 4 + ("S99",))
    quantities = pick(QUANTITIES)
    # A few busy days shared by many records, so same-day order, daily caps and
    # same-day redemptions come up.
    busy_days = pick(draw(st.lists(dates, min_size=1, max_size=4)))
    record_dates = busy_days | dates
    entries = []
    for i in range(draw(st.integers(0, 40))):
        recorder = draw(any_staff)
        if draw(mostly):
            allowed = [s for s in reviewer_ids if s != recorder]
            first = allowed[draw(indexes) % len(allowed)]
            second = [s for s in allowed if s != first] + [None]
            review = (first, second[draw(indexes) % len(second)])
        else:
            review = (draw(reviewer1), draw(reviewer2))
        entries.append(Entry(
            row=2 + i, entry_id=f"E{i + 1}", date=draw(record_dates), time=draw(maybe_times),
            resident_id=draw(resident_ids), rule_code=draw(rule_codes), quantity=draw(quantities),
            note=None, recorder=recorder, reviewer1=review[0], reviewer2=review[1],
            status=draw(entry_statuses)))

    rewards = tuple(
        Reward(2 + i, f"W{i + 1}", f"奖品{i + 1}", draw(pick(("goods", "honour", "service"))),
               draw(costs), draw(stocks), None)
        for i in range(draw(st.integers(0, 3))))

    redemption_rows = []
    if redemptions and rewards:
        reward_codes, handlers = pick(r.code for r in rewards), st.none() | any_staff
        for i in range(draw(st.integers(0, 15))):
            redemption_rows.append(Redemption(
                2 + i, f"D{i + 1}", draw(record_dates), draw(resident_ids), draw(reward_codes),
                draw(st.integers(1, 3)), draw(handlers)))

    appeals = []
    if entries:
        appealed = pick(entries)
        for i in range(draw(st.integers(0, 5))):
            entry = draw(appealed)
            date = entry.date + dt.timedelta(days=draw(st.integers(0, 120)))
            status = draw(appeal_statuses)
            later = draw(resolved_after)
            resolved = None if later is None else date + dt.timedelta(days=later)
            appeals.append(Appeal(
                2 + i, f"A{i + 1}", date, entry.resident_id, entry.entry_id, None, status,
                draw(st.integers(0, 200)) if status == "corrected" else None, resolved))

    book_settings = Settings(
        decay_after_months=draw(pick((0, 1, 3, 12))),
        decay_factor=draw(pick(DECAY_FACTORS)),
        annual_cap=draw(pick((0, 50, 500))))
    return Book(book_settings, grids, staff, residents, rules, tuple(bonuses), tuple(entries), rewards,
                tuple(redemption_rows), tuple(appeals))


# Any day of the three years, or near their end (when most of the book has happened).
as_of_dates = st.one_of(
    st.integers(0, (dt.date(2027, 6, 30) - START).days).map(lambda d: START + dt.timedelta(days=d)),
    st.integers(-200, 180).map(lambda d: END + dt.timedelta(days=d)))


def balances(ledger: Ledger) -> dict[str, tuple[int, int, int, int, int]]:
    return {rid: (a.earned, a.redeemed, a.decayed, a.balance, a.expiring_30d)
            for rid, a in ledger.accounts.items()}


def book_dates(book: Book) -> list[dt.date]:
    found = [e.date for e in book.entries] + [r.date for r in book.redemptions]
    for a in book.appeals:
        found.append(a.date)
        if a.resolved_date is not None:
            found.append(a.resolved_date)
    return found


def renumber(records, new_rows: list[int]):
    """Give records new rows (a permutation), keeping the relative order of same-date records."""
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_date[record.date].append(index)
    result = list(records)
    for group in by_date.values():
        rows = sorted(new_rows[i] for i in group)
        for i, row in zip(sorted(group, key=lambda i: records[i].row), rows):
            result[i] = replace(records[i], row=row)
    return tuple(sorted(result, key=lambda r: r.row))


# --- properties --------------------------------------------------------------------


@SETTINGS
@given(books(), as_of_dates)
def test_balance_identity_and_non_negative(book, as_of):
    """Rule 7: earned − redeemed − decayed = balance, and balance >= 0."""
    ledger = compute(book, as_of)
    assert set(ledger.accounts) == {r.resident_id for r in book.residents}
    for rid, account in ledger.accounts.items():
        assert account.earned - account.redeemed - account.decayed == account.balance, rid
        assert account.balance >= 0, rid
        assert account.earned >= 0 and account.redeemed >= 0 and account.decayed >= 0, rid


@SETTINGS
@given(books(), as_of_dates)
def test_balances_are_sums_of_events_naming_real_rows(book, as_of):
    ledger = compute(book, as_of)
    rows = {
        "entries": {e.row: e.resident_id for e in book.entries},
        "appeals": {a.row: a.resident_id for a in book.appeals},
        "redemptions": {r.row: r.resident_id for r in book.redemptions},
    }
    sheet_of = {"earned": "entries", "capped": "entries", "decayed": "entries",
                "corrected": "appeals", "redeemed": "redemptions"}
    for rid, account in ledger.accounts.items():
        by_kind: dict[str, int] = defaultdict(int)
        for event in account.events:
            by_kind[event.kind] += event.points
            assert event.sheet == sheet_of[event.kind], event
            assert event.row in rows[event.sheet], event
            assert rows[event.sheet][event.row] == rid, event
            assert event.date <= as_of, event
        assert account.balance == sum(e.points for e in account.events), rid
        assert account.earned == by_kind["earned"] + by_kind["capped"] + by_kind["corrected"], rid
        assert account.decayed == -by_kind["decayed"], rid
        assert account.redeemed == -by_kind["redeemed"], rid


@SETTINGS
@given(books(redemptions=False), as_of_dates)
def test_decay_never_increases_a_balance(book, as_of):
    with_decay = compute(book, as_of)
    without = compute(replace(book, settings=replace(book.settings, decay_after_months=0)), as_of)
    for rid, account in with_decay.accounts.items():
        other = without.accounts[rid]
        assert other.decayed == 0 and other.expiring_30d == 0, rid
        assert account.earned == other.earned, rid
        assert account.balance <= other.balance, rid


@SETTINGS
@given(books(), as_of_dates)
def test_decay_never_increases_earned_minus_decayed_with_redemptions(book, as_of):
    with_decay = compute(book, as_of)
    without = compute(replace(book, settings=replace(book.settings, decay_after_months=0)), as_of)
    for rid, account in with_decay.accounts.items():
        other = without.accounts[rid]
        assert account.earned - account.decayed <= other.earned - other.decayed, rid


@SETTINGS
@given(books(), as_of_dates, st.integers(0, 800))
def test_later_as_of_never_increases_earned_minus_decayed(book, as_of, days):
    # Nothing in the book (entries, redemptions, appeals and their decisions) is after d1.
    d1 = max([as_of, *book_dates(book)])
    d2 = d1 + dt.timedelta(days=days)
    first, second = compute(book, d1), compute(book, d2)
    for rid, early in first.accounts.items():
        late = second.accounts[rid]
        assert late.earned == early.earned, rid
        assert late.redeemed == early.redeemed, rid
        assert late.earned - late.decayed <= early.earned - early.decayed, rid
        assert late.balance <= early.balance, rid


@SETTINGS
@given(books(), as_of_dates)
def test_expiring_30d_is_the_decay_of_the_next_30_days(book, as_of):
    """Beyond the brief: when nothing else happens, expiring_30d is what decays in (A, A+30]."""
    d1 = max([as_of, *book_dates(book)])
    now, later = compute(book, d1), compute(book, d1 + dt.timedelta(days=30))
    for rid, account in now.accounts.items():
        assert account.expiring_30d == later.accounts[rid].decayed - account.decayed, rid


@SETTINGS
@given(books(), as_of_dates, st.randoms(use_true_random=False))
def test_row_order_across_dates_does_not_matter(book, as_of, rnd):
    entry_rows = [e.row for e in book.entries]
    rnd.shuffle(entry_rows)
    redemption_rows = [r.row for r in book.redemptions]
    rnd.shuffle(redemption_rows)
    other = replace(book, entries=renumber(book.entries, entry_rows),
                    redemptions=renumber(book.redemptions, redemption_rows))
    # The renumbering keeps each date's relative order.
    for records_a, records_b in ((book.entries, other.entries), (book.redemptions, other.redemptions)):
        ids_a = [r.entry_id if isinstance(r, Entry) else r.redemption_id
                 for r in sorted(records_a, key=lambda r: (r.date, r.row))]
        ids_b = [r.entry_id if isinstance(r, Entry) else r.redemption_id
                 for r in sorted(records_b, key=lambda r: (r.date, r.row))]
        assert ids_a == ids_b
    assert balances(compute(book, as_of)) == balances(compute(other, as_of))


@SETTINGS
@given(books(), as_of_dates)
def test_caps_hold(book, as_of):
    ledger = compute(book, as_of)
    rules = {r.code: r for r in book.rules}
    per_day: dict[tuple[str, str, dt.date], int] = defaultdict(int)
    per_year: dict[tuple[str, int], int] = defaultdict(int)
    for row, award in ledger.awards.items():
        entry = award.entry
        assert entry.row == row
        assert 0 <= award.awarded <= award.base
        per_day[entry.resident_id, entry.rule_code, entry.date] += award.awarded
        per_year[entry.resident_id, entry.date.year] += award.awarded
    for (rid, code, date), total in per_day.items():
        if rules[code].daily_cap > 0:
            assert total <= rules[code].daily_cap, (rid, code, date)
    if book.settings.annual_cap > 0:
        for key, total in per_year.items():
            assert total <= book.settings.annual_cap, key


@SETTINGS
@given(books(), as_of_dates)
def test_redemptions_respect_stock_and_add_up(book, as_of):
    ledger = compute(book, as_of)
    rewards = {r.code: r for r in book.rewards}
    used: dict[str, int] = defaultdict(int)
    spent: dict[str, int] = defaultdict(int)
    for redemption in ledger.redemptions:
        assert redemption.date <= as_of
        used[redemption.reward_code] += redemption.quantity
        spent[redemption.resident_id] += rewards[redemption.reward_code].cost * redemption.quantity
    for code, reward in rewards.items():
        assert ledger.stock_used[code] == used[code], code
        if reward.stock is not None:
            assert ledger.stock_used[code] <= reward.stock, code
    for rid, account in ledger.accounts.items():
        assert account.redeemed == spent[rid], rid


@SETTINGS
@given(books(), as_of_dates)
def test_compute_is_deterministic(book, as_of):
    first, second = compute(book, as_of), compute(book, as_of)
    assert balances(first) == balances(second)
    for rid in first.accounts:
        assert first.accounts[rid].events == second.accounts[rid].events, rid
    assert first.awards == second.awards
    assert first.redemptions == second.redemptions
    assert first.stock_used == second.stock_used
    assert first.problems == second.problems
