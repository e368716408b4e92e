"""Cross-sheet checks: small functions over the parsed book, each yielding problems."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Callable

from kit.model import Book, Entry
from kit.problems import Problem, problem
from kit.schema import SHEETS, Kind

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)

ID_COLUMNS = {
    "grids": "grid_id",
    "staff": "staff_id",
    "residents": "resident_id",
    "rules": "code",
    "rewards": "code",
    "entries": "entry_id",
    "redemptions": "redemption_id",
    "appeals": "appeal_id",
}


def check_unique_ids(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for sheet, column in ID_COLUMNS.items():
        yield from _duplicates(sheet, column, getattr(book, sheet), "duplicate-id")


def check_card_tokens(book: Book, as_of: dt.date) -> Iterator[Problem]:
    with_token = [r for r in book.residents if r.card_token]
    yield from _duplicates("residents", "card_token", with_token, "duplicate-card-token")


def _duplicates(sheet: str, column: str, records: Iterable, code: str) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for record in records:
        value = getattr(record, column)
        if value in first:
            yield problem(code, sheet, record.row, column, value=value, first_row=first[value])
        else:
            first[value] = record.row


def check_dates(book: Book, as_of: dt.date) -> Iterator[Problem]:
    """Every date cell lies in a sane range; activity after the as-of date waits."""
    for sheet in SHEETS:
        date_columns = [c.key for c in sheet.columns if c.kind is Kind.DATE]
        for record in getattr(book, sheet.key, ()) if date_columns else ():
            for column in date_columns:
                value = getattr(record, column)
                if value is None:
                    continue
                if not EARLIEST <= value <= LATEST:
                    yield problem("date-out-of-range", sheet.key, record.row, column, value=value)
                elif column == "date" and value > as_of:
                    yield problem("future-date", sheet.key, record.row, column, value=value, as_of=as_of)


def check_numbers(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for rule in book.rules:
        if rule.points <= 0:
            yield problem("non-positive-points", "rules", rule.row, "points", value=rule.points)
        if rule.daily_cap < 0:
            yield problem("negative-value", "rules", rule.row, "daily_cap", value=rule.daily_cap)
    for reward in book.rewards:
        if reward.cost <= 0:
            yield problem("non-positive-cost", "rewards", reward.row, "cost", value=reward.cost)
        if reward.stock is not None and reward.stock < 0:
            yield problem("negative-value", "rewards", reward.row, "stock", value=reward.stock)
    for bonus in book.bonuses:
        if bonus.multiplier <= 0:
            yield problem("bad-multiplier", "bonuses", bonus.row, "multiplier", value=bonus.multiplier)
    for entry in book.entries:
        if entry.quantity <= 0:
            yield problem("non-positive-quantity", "entries", entry.row, "quantity", value=entry.quantity)
    for redemption in book.redemptions:
        if redemption.quantity <= 0:
            yield problem("non-positive-quantity", "redemptions", redemption.row, "quantity",
                          value=redemption.quantity)
    for appeal in book.appeals:
        if appeal.corrected_points is not None and appeal.corrected_points < 0:
            yield problem("negative-value", "appeals", appeal.row, "corrected_points",
                          value=appeal.corrected_points)


def check_residents(book: Book, as_of: dt.date) -> Iterator[Problem]:
    grids = {g.grid_id for g in book.grids}
    for resident in book.residents:
        if resident.grid_id not in grids:
            yield problem("unknown-grid", "residents", resident.row, "grid_id", value=resident.grid_id)


def check_bonuses(book: Book, as_of: dt.date) -> Iterator[Problem]:
    rules = {r.code for r in book.rules}
    categories = {r.category for r in book.rules}
    for bonus in book.bonuses:
        if bonus.rule_code is not None and bonus.rule_code not in rules:
            yield problem("unknown-rule", "bonuses", bonus.row, "rule_code", value=bonus.rule_code)
        if bonus.category is not None and bonus.category not in categories:
            yield problem("unknown-category", "bonuses", bonus.row, "category", value=bonus.category)
        if bonus.start_date and bonus.end_date and bonus.end_date < bonus.start_date:
            yield problem("bad-date-range", "bonuses", bonus.row, "end_date",
                          value=bonus.end_date, start=bonus.start_date)


def check_entries(book: Book, as_of: dt.date) -> Iterator[Problem]:
    residents = {r.resident_id for r in book.residents}
    rules = {r.code: r for r in book.rules}
    staff = {s.staff_id: s for s in book.staff}
    for entry in book.entries:
        if entry.resident_id not in residents:
            yield problem("unknown-resident", "entries", entry.row, "resident_id", value=entry.resident_id)
        rule = rules.get(entry.rule_code)
        if rule is None:
            yield problem("unknown-rule", "entries", entry.row, "rule_code", value=entry.rule_code)
        elif not rule.active and entry.status != "rejected":
            yield problem("inactive-rule", "entries", entry.row, "rule_code", value=entry.rule_code)
        if entry.recorder not in staff:
            yield problem("unknown-staff", "entries", entry.row, "recorder", value=entry.recorder)
        if entry.status == "approved":
            yield from review_problems(entry, rule is not None and rule.double_review, staff)


def review_problems(entry: Entry, double: bool, staff: dict) -> Iterator[Problem]:
    """Separation of duties for an approved entry (PRODUCT.md, ledger rule 1)."""
    if entry.reviewer1 is None:
        yield problem("review-missing", "entries", entry.row, "reviewer1")
    else:
        yield from _reviewer(entry, "reviewer1", entry.reviewer1, staff)
    if entry.reviewer2 is None:
        if double:
            yield problem("second-review-missing", "entries", entry.row, "reviewer2", value=entry.rule_code)
    elif entry.reviewer2 == entry.reviewer1:
        yield problem("same-reviewer", "entries", entry.row, "reviewer2", value=entry.reviewer2)
    else:
        yield from _reviewer(entry, "reviewer2", entry.reviewer2, staff)


def _reviewer(entry: Entry, column: str, staff_id: str, staff: dict) -> Iterator[Problem]:
    if staff_id == entry.recorder:
        yield problem("self-review", "entries", entry.row, column, value=staff_id)
    elif staff_id not in staff:
        yield problem("unknown-staff", "entries", entry.row, column, value=staff_id)
    elif not staff[staff_id].can_review:
        yield problem("reviewer-not-allowed", "entries", entry.row, column, value=staff_id)


def check_redemptions(book: Book, as_of: dt.date) -> Iterator[Problem]:
    residents = {r.resident_id for r in book.residents}
    rewards = {r.code for r in book.rewards}
    staff = {s.staff_id for s in book.staff}
    for redemption in book.redemptions:
        if redemption.resident_id not in residents:
            yield problem("unknown-resident", "redemptions", redemption.row, "resident_id",
                          value=redemption.resident_id)
        if redemption.reward_code not in rewards:
            yield problem("unknown-reward", "redemptions", redemption.row, "reward_code",
                          value=redemption.reward_code)
        if redemption.handled_by is not None and redemption.handled_by not in staff:
            yield problem("unknown-staff", "redemptions", redemption.row, "handled_by",
                          value=redemption.handled_by)


def check_appeals(book: Book, as_of: dt.date) -> Iterator[Problem]:
    residents = {r.resident_id for r in book.residents}
    entries = {e.entry_id: e for e in book.entries}
    for appeal in book.appeals:
        if appeal.resident_id not in residents:
            yield problem("unknown-resident", "appeals", appeal.row, "resident_id", value=appeal.resident_id)
        entry = entries.get(appeal.entry_id)
        if entry is None:
            yield problem("unknown-entry", "appeals", appeal.row, "entry_id", value=appeal.entry_id)
        elif entry.resident_id != appeal.resident_id:
            yield problem("appeal-resident-mismatch", "appeals", appeal.row, "resident_id",
                          value=appeal.resident_id, entry_id=entry.entry_id,
                          entry_resident=entry.resident_id)
        if appeal.status == "corrected" and appeal.corrected_points is None:
            yield problem("missing-correction", "appeals", appeal.row, "corrected_points")
        if appeal.resolved_date is not None and appeal.resolved_date < appeal.date:
            yield problem("resolved-before-appeal", "appeals", appeal.row, "resolved_date",
                          value=appeal.resolved_date, start=appeal.date)
        if appeal.status != "open" and appeal.resolved_date is None:
            yield problem("missing-resolved-date", "appeals", appeal.row, "resolved_date")


CHECKS: tuple[Callable[[Book, dt.date], Iterable[Problem]], ...] = (
    check_unique_ids,
    check_card_tokens,
    check_dates,
    check_numbers,
    check_residents,
    check_bonuses,
    check_entries,
    check_redemptions,
    check_appeals,
)


def run_checks(book: Book, as_of: dt.date) -> list[Problem]:
    return [found for check in CHECKS for found in check(book, as_of)]
