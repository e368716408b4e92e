"""Checks of each sheet on its own: small functions over the parsed book.

Checks that follow a code into another sheet live in references.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Callable

from kit.keys import PUBLIC_SECRETS
from kit.model import Book
from kit.privacy import is_minor
from kit.problems import Problem, problem
from kit.schema import SHEETS, Kind
from kit.versions import dated, period_words

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)

VERSIONED = ("rules", "rewards")  # one code, several rows by date (kit/versions.py)


def check_unique_ids(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for sheet in SHEETS:
        if sheet.id_column and sheet.key not in VERSIONED:
            yield from _duplicates(sheet.key, sheet.id_column, getattr(book, sheet.key), "duplicate-id")


def check_versions(book: Book, as_of: dt.date) -> Iterator[Problem]:
    """Rows of one code are versions: dates in order, periods that never share a day.
    Two undated rows of a code are simply a repeated code."""
    for sheet in VERSIONED:
        by_code: dict[str, list] = {}
        for record in getattr(book, sheet):
            if record.start_date and record.end_date and record.end_date < record.start_date:
                yield problem("version-dates-reversed", sheet, record.row, "end_date",
                              value=record.end_date, start=record.start_date)
                continue
            by_code.setdefault(record.code, []).append(record)
        for code, records in by_code.items():
            if len(records) == 1:
                continue
            seen: list = []
            for record in records:  # sheet order: the later row is the one named
                clash = next((other for other in seen if _overlap(other, record)), None)
                if clash is None:
                    seen.append(record)
                elif not dated(clash) and not dated(record):
                    yield problem("duplicate-id", sheet, record.row, "code", value=code, first_row=clash.row)
                else:
                    yield _overlap_problem(sheet, code, clash, record)


def _overlap(a, b) -> bool:
    return ((a.start_date or dt.date.min) <= (b.end_date or dt.date.max)
            and (b.start_date or dt.date.min) <= (a.end_date or dt.date.max))


def _overlap_problem(sheet: str, code: str, earlier, record) -> Problem:
    first, second = sorted((earlier, record), key=lambda v: (v.start_date or dt.date.min, v.row))
    if second.start_date is not None:
        start = second.start_date
    elif first.end_date is not None:
        start = first.end_date + dt.timedelta(days=1)
    else:
        start = dt.date(2027, 1, 1)  # nothing to go by: an example
    column = "start_date" if record.start_date is not None else "end_date"
    return problem("version-overlap", sheet, record.row, column, value=code, period=period_words(record),
                   other_row=earlier.row, other_period=period_words(earlier),
                   suggest_end=start - dt.timedelta(days=1), suggest_start=start)


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
        if reward.value is not None and reward.value < 0:
            yield problem("negative-value", "rewards", reward.row, "value", value=reward.value)
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


def check_bonus_dates(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for bonus in book.bonuses:
        if bonus.start_date and bonus.end_date and bonus.end_date < bonus.start_date:
            yield problem("bad-date-range", "bonuses", bonus.row, "end_date",
                          value=bonus.end_date, start=bonus.start_date)


def check_appeal_outcomes(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for appeal in book.appeals:
        if appeal.status == "corrected" and appeal.corrected_points is None:
            yield problem("missing-correction", "appeals", appeal.row, "corrected_points")
        if appeal.resolved_date is not None and appeal.resolved_date < appeal.date:
            yield problem("resolved-before-appeal", "appeals", appeal.row, "resolved_date",
                          value=appeal.resolved_date, start=appeal.date)
        if appeal.status != "open" and appeal.resolved_date is None:
            yield problem("missing-resolved-date", "appeals", appeal.row, "resolved_date")


def check_secret(book: Book, as_of: dt.date) -> Iterator[Problem]:
    """The demo's public secret (a missing or malformed one is found by parse, at its cell)."""
    if book.settings.pseudonym_secret in PUBLIC_SECRETS:
        yield problem("public-pseudonym-secret", "settings", None, "value")


def check_minors(book: Book, as_of: dt.date) -> Iterator[Problem]:
    for r in book.residents:
        if r.name_consent and is_minor(r.birth_year, as_of):
            yield problem("minor-name-consent", "residents", r.row, "name_consent", year=r.birth_year)


CHECKS: tuple[Callable[[Book, dt.date], Iterable[Problem]], ...] = (
    check_unique_ids,
    check_card_tokens,
    check_versions,
    check_dates,
    check_numbers,
    check_bonus_dates,
    check_appeal_outcomes,
    check_secret,
    check_minors,
)


def run_checks(book: Book, as_of: dt.date) -> list[Problem]:
    return [found for check in CHECKS for found in check(book, as_of)]
