"""Rule and reward versions (生效日期/停用日期) in the engine, worked by hand and as properties.

The property: a book whose rules and rewards have versions gives the same balances as
the book where each version is a code of its own and every entry and redemption names
the version in force on its date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kit.checks import run_checks
from kit.fingerprint import current_leaves
from kit.ledger import appeal_decided, compute
from kit.model import Appeal, Book, Entry, Grid, Resident, Reward, Redemption, Rule, Settings, Staff
from kit.versions import Versions
from tests.test_ledger_properties import SETTINGS, as_of_dates, balances, books

D = dt.date
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def rule(row, code="XL", points=10, cap=0, start=None, end=None, active=True, double=False) -> Rule:
    return Rule(row, code, "治安巡逻", "平安巡防", points, "小时", cap, double, None, None, active, start, end)


def entry(row, day, qty=1, code="XL", rid="R1", status="approved") -> Entry:
    return Entry(row, f"E{row}", day, None, rid, code, Decimal(qty), None, "S1", "S2", "S3", status)


def book(rules, entries, rewards=(), redemptions=(), appeals=(), **settings) -> Book:
    return Book(Settings(pseudonym_secret=SECRET, decay_after_months=settings.pop("decay", 0), **settings),
                (Grid(2, "G1", "第一网格", None),),
                (Staff(2, "S1", "王", "recorder"), Staff(3, "S2", "李", "reviewer"), Staff(4, "S3", "赵", "admin")),
                (Resident(2, "R1", "张三", "G1", 1960, None, False, None, "active"),),
                tuple(rules), (), tuple(entries), tuple(rewards), tuple(redemptions), tuple(appeals))


# --------------------------------------------------------------------------- worked examples


def test_a_version_change_mid_year_prices_each_entry_by_its_date():
    """XL is 10 a hour until 2026-06-30 and 12 from 2026-07-01: entries keep the price of their day."""
    rules = [rule(2, points=10, end=D(2026, 6, 30)), rule(3, points=12, start=D(2026, 7, 1))]
    entries = [entry(2, D(2026, 6, 30), 3), entry(3, D(2026, 7, 1), 3), entry(4, D(2026, 12, 31), 1)]
    ledger = compute(book(rules, entries), D(2026, 12, 31))
    assert {row: (a.awarded, a.rule.row) for row, a in ledger.awards.items()} == {2: (30, 2), 3: (36, 3), 4: (12, 3)}
    assert ledger.accounts["R1"].balance == 78
    # before the change is known nothing moves: the same past entry, the same 30 points
    assert compute(book(rules[:1] + [rule(3, points=12, start=D(2026, 7, 1))], entries[:1]),
                   D(2026, 7, 15)).awards[2].awarded == 30


def test_daily_caps_follow_the_version_of_the_day():
    """The cap of each day is the version's: 20 until the change, 30 after; a day is one version."""
    rules = [rule(2, points=10, cap=20, end=D(2026, 3, 31)), rule(3, points=10, cap=30, start=D(2026, 4, 1))]
    entries = [entry(2, D(2026, 3, 31), 2), entry(3, D(2026, 3, 31), 1),  # 20 + 10 → capped to 20
               entry(4, D(2026, 4, 1), 2), entry(5, D(2026, 4, 1), 1)]  # 20 + 10 → 30, no cut
    ledger = compute(book(rules, entries), D(2026, 4, 30))
    assert {row: (a.base, a.awarded, a.cap) for row, a in ledger.awards.items()} == {
        2: (20, 20, None), 3: (10, 0, "daily"), 4: (20, 20, None), 5: (10, 10, None)}
    assert [p.row for p in ledger.problems if p.code == "capped-entry"] == [3]


def test_double_review_and_active_come_from_the_version():
    """From 2026-05-01 XL needs two reviewers and is switched off after 2026-08-31 (启用=否)."""
    rules = [rule(2, end=D(2026, 4, 30)), rule(3, start=D(2026, 5, 1), end=D(2026, 8, 31), double=True),
             rule(4, start=D(2026, 9, 1), active=False)]
    one_reviewer = dataclasses.replace(entry(2, D(2026, 4, 30)), reviewer2=None)
    later = dataclasses.replace(entry(3, D(2026, 5, 2)), reviewer2=None)  # needs the second reviewer now
    two = entry(4, D(2026, 5, 3))
    off = entry(5, D(2026, 9, 2))
    ledger = compute(book(rules, [one_reviewer, later, two, off]), D(2026, 12, 31))
    assert sorted(ledger.awards) == [2, 4]


def test_overlapping_and_reversed_versions_are_problems_at_their_cells():
    rules = [rule(2, end=D(2026, 6, 30)), rule(3, points=12, start=D(2026, 6, 30)),  # shares 2026-06-30
             rule(4, code="TJ", start=D(2026, 5, 1), end=D(2026, 4, 1)),  # reversed
             rule(5, code="ZY"), rule(6, code="ZY")]  # an undated code twice: a repeated code
    found = [(p.code, p.sheet, p.row, p.column) for p in run_checks(book(rules, []), D(2026, 12, 31))]
    assert found == [("version-dates-reversed", "rules", 4, "end_date"),
                     ("version-overlap", "rules", 3, "start_date"),
                     ("duplicate-id", "rules", 6, "code")]
    overlap = next(p for p in run_checks(book(rules, []), D(2026, 12, 31)) if p.code == "version-overlap")
    assert "第 2 行" in overlap.message and "2026-06-29" in overlap.message and "2026-06-30" in overlap.message


def test_reward_cost_by_date_and_stock_across_versions():
    rewards = [Reward(2, "JP1", "洗衣液", "goods", 10, 2, None, None, None, D(2026, 6, 30)),
               Reward(3, "JP1", "洗衣液", "goods", 15, 2, None, None, D(2026, 7, 1), None)]
    entries = [entry(2, D(2026, 1, 5), 10)]  # 100 points
    redemptions = [Redemption(2, "D1", D(2026, 6, 30), "R1", "JP1", 1, None),
                   Redemption(3, "D2", D(2026, 7, 1), "R1", "JP1", 1, None),
                   Redemption(4, "D3", D(2026, 7, 2), "R1", "JP1", 1, None)]  # the stock of 2 is used up
    ledger = compute(book([rule(2)], entries, rewards, redemptions), D(2026, 12, 31))
    assert ledger.accounts["R1"].redeemed == 25
    assert [r.redemption_id for r in ledger.redemptions] == ["D1", "D2"]
    assert [p.code for p in ledger.problems] == ["out-of-stock"]


def test_an_appeal_without_a_resolved_date_is_still_open_everywhere():
    """更正 without 处理日期: not applied, the entry under appeal, no leaf; editing its 更正分值
    changes nothing published. With a date it applies and is a leaf."""
    entries = [entry(2, D(2026, 3, 1), 2)]
    undated = Appeal(2, "A1", D(2026, 3, 2), "R1", "E2", None, "corrected", 5, None)
    for points in (20, 5, 0):
        b = book([rule(2)], entries, appeals=[dataclasses.replace(undated, corrected_points=points)])
        ledger = compute(b, D(2026, 6, 30))
        assert ledger.accounts["R1"].balance == 20
        assert ledger.under_appeal == {"E2"}
        assert [leaf.ident for leaf in current_leaves(b, ledger)] == ["E2"]
        assert not appeal_decided(b.appeals[0], D(2026, 6, 30))
    dated = dataclasses.replace(undated, resolved_date=D(2026, 3, 5))
    b = book([rule(2)], entries, appeals=[dated])
    ledger = compute(b, D(2026, 6, 30))
    assert ledger.accounts["R1"].balance == 5
    assert [leaf.ident for leaf in current_leaves(b, ledger)] == ["E2", "A1"]
    assert compute(b, D(2026, 3, 4)).accounts["R1"].balance == 20  # decided the next day


def test_statements_name_the_version_used():
    from kit.counter import statement

    rules = [rule(2, points=10, end=D(2026, 6, 30)), rule(3, points=12, start=D(2026, 7, 1))]
    b = book(rules, [entry(2, D(2026, 6, 1)), entry(3, D(2026, 7, 2))])
    lines = [line.text for line in statement(b, compute(b, D(2026, 12, 31)), "R1").lines]
    assert lines == ["治安巡逻 1 小时〔按“积分规则”表第 2 行（至 2026-06-30）：每小时 10 分〕",
                     "治安巡逻 1 小时〔按“积分规则”表第 3 行（自 2026-07-01 起）：每小时 12 分〕"]


# --------------------------------------------------------------------------- properties


@st.composite
def versioned_books(draw):
    """A random book whose rules and rewards are split into versions at random dates, some
    versions left out (gaps), and the same book with every version a code of its own."""
    base = draw(books())
    base = dataclasses.replace(base, settings=dataclasses.replace(base.settings, pseudonym_secret=SECRET))
    row = iter(range(2, 10_000))
    rules, expanded_rules = [], []
    for r in base.rules:
        cuts = sorted(set(draw(st.lists(st.integers(0, 1200), max_size=3))))
        days = [D(2024, 1, 1) + dt.timedelta(days=c) for c in cuts]
        bounds = list(zip([None] + days, [d - dt.timedelta(days=1) for d in days] + [None]))
        for k, (start, end) in enumerate(bounds):
            if len(bounds) > 1 and draw(st.integers(0, 5)) == 0:
                continue  # a gap: entries on these days have no rule
            version = dataclasses.replace(r, row=next(row), points=draw(st.integers(1, 50)),
                                          daily_cap=draw(st.sampled_from((0, 0, 10, 40))),
                                          double_review=draw(st.booleans()) if k else r.double_review,
                                          active=draw(st.sampled_from((True, True, True, False))),
                                          start_date=start, end_date=end)
            rules.append(version)
            expanded_rules.append(dataclasses.replace(version, code=f"{r.code}@{k}", start_date=None, end_date=None))
    rewards, expanded_rewards = [], []
    for w in base.rewards:
        cut = draw(st.none() | st.integers(0, 1200))
        halves = [(None, None)] if cut is None else [
            (None, D(2024, 1, 1) + dt.timedelta(days=cut - 1)), (D(2024, 1, 1) + dt.timedelta(days=cut), None)]
        for k, (start, end) in enumerate(halves):
            version = dataclasses.replace(w, row=next(row), cost=draw(st.integers(1, 60)), stock=None,
                                          start_date=start, end_date=end)
            rewards.append(version)
            expanded_rewards.append(dataclasses.replace(version, code=f"{w.code}@{k}", start_date=None, end_date=None))
    versioned = dataclasses.replace(base, rules=tuple(rules), rewards=tuple(rewards))
    rule_versions, reward_versions = Versions(rules), Versions(rewards)

    expanded_codes = {v.row: e.code for v, e in zip(rules, expanded_rules)}
    reward_codes = {v.row: e.code for v, e in zip(rewards, expanded_rewards)}
    entries = tuple(dataclasses.replace(
        e, rule_code=expanded_codes[v.row] if (v := rule_versions.at(e.rule_code, e.date)) else "GAP")
        for e in base.entries)
    redemptions = tuple(dataclasses.replace(
        r, reward_code=reward_codes[v.row] if (v := reward_versions.at(r.reward_code, r.date)) else "GAP")
        for r in base.redemptions)
    # a bonus for one code becomes one bonus per version code (bonuses never stack: the same maximum)
    bonuses = []
    for b in base.bonuses:
        if b.rule_code is None:
            bonuses.append(b)
        else:
            bonuses += [dataclasses.replace(b, rule_code=e.code) for v, e in zip(rules, expanded_rules)
                        if v.code == b.rule_code]
    expanded = dataclasses.replace(base, rules=tuple(expanded_rules), rewards=tuple(expanded_rewards),
                                   entries=entries, redemptions=redemptions, bonuses=tuple(bonuses))
    return versioned, expanded


@SETTINGS
@given(versioned_books(), as_of_dates)
def test_versions_equal_one_code_per_version(books_pair, as_of):
    versioned, expanded = books_pair
    one, other = compute(versioned, as_of), compute(expanded, as_of)
    assert balances(one) == balances(other)
    assert {row: (a.base, a.awarded, a.points) for row, a in one.awards.items()} == \
        {row: (a.base, a.awarded, a.points) for row, a in other.awards.items()}
    assert [r.row for r in one.redemptions] == [r.row for r in other.redemptions]
    for award in one.awards.values():  # the version named is the one in force on the entry's date
        assert award.rule.code == award.entry.rule_code
        assert (award.rule.start_date or D.min) <= award.entry.date <= (award.rule.end_date or D.max)


@SETTINGS
@given(versioned_books(), as_of_dates, st.integers(0, 300))
def test_every_record_that_changes_a_balance_is_a_leaf(books_pair, as_of, other_points):
    """Counted entries, applied redemptions and applied corrections are leaves; an appeal that is
    not a leaf can say anything in 更正分值 without changing a balance."""
    versioned, _ = books_pair
    ledger = compute(versioned, as_of)
    leaves = {(leaf.sheet, leaf.ident) for leaf in current_leaves(versioned, ledger)}
    assert {("entries", a.entry.entry_id) for a in ledger.awards.values()} <= leaves
    assert {("redemptions", r.redemption_id) for r in ledger.redemptions} <= leaves
    assert {("appeals", a.appeal.appeal_id) for a in ledger.awards.values() if a.appeal} <= leaves
    outside = [a for a in versioned.appeals if ("appeals", a.appeal_id) not in leaves]
    if outside:
        changed = tuple(dataclasses.replace(a, corrected_points=other_points) if a in outside else a
                        for a in versioned.appeals)
        assert balances(compute(dataclasses.replace(versioned, appeals=changed), as_of)) == balances(ledger)
