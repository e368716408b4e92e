"""Codes that point into other sheets: residents → grids, entries → residents,
rules and staff, redemptions → rewards, appeals → entries.

Sheets are checked in dependency order and a row with an error is dropped
before the next sheet is checked, so an entry of a resident whose own row is
wrong is told so ("that row has an error"), not "unknown resident".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

from kit.model import Appeal, Bonus, Book, Entry
from kit.problems import Problem, problem
from kit.review import review_faults
from kit.schema import SHEETS_BY_KEY

Invalid = dict[str, dict[str, int]]  # sheet key → {id: row} of rows left out for errors


@dataclass(frozen=True)
class Ref:
    column: str
    target: str  # sheet key
    code: str  # problem when the id is nowhere in the target sheet


REFS: dict[str, tuple[Ref, ...]] = {
    "residents": (Ref("grid_id", "grids", "unknown-grid"),),
    "bonuses": (Ref("rule_code", "rules", "unknown-rule"),),
    "entries": (
        Ref("resident_id", "residents", "unknown-resident"),
        Ref("rule_code", "rules", "unknown-rule"),
        Ref("recorder", "staff", "unknown-staff"),
    ),
    "redemptions": (
        Ref("resident_id", "residents", "unknown-resident"),
        Ref("reward_code", "rewards", "unknown-reward"),
        Ref("handled_by", "staff", "unknown-staff"),
    ),
    "appeals": (
        Ref("resident_id", "residents", "unknown-resident"),
        Ref("entry_id", "entries", "unknown-entry"),
    ),
}


def check_references(book: Book, invalid: Invalid) -> tuple[Book, list[Problem]]:
    """Check every reference; return the book without rows whose references fail."""
    invalid = {key: dict(ids) for key, ids in invalid.items()}
    problems: list[Problem] = []
    for sheet, refs in REFS.items():
        index = {ref.target: _index(book, ref.target) for ref in refs}
        extra = EXTRA.get(sheet)
        kept = []
        for record in getattr(book, sheet):
            found = [p for ref in refs for p in _follow(record, sheet, ref, index, invalid)]
            if extra and not any(p.is_error for p in found):
                found.extend(extra(record, index))
            problems.extend(found)
            if any(p.is_error for p in found):
                id_column = SHEETS_BY_KEY[sheet].id_column
                if id_column:
                    invalid.setdefault(sheet, {})[getattr(record, id_column)] = record.row
            else:
                kept.append(record)
        book = dataclasses.replace(book, **{sheet: tuple(kept)})
    return book, problems


def _index(book: Book, sheet: str) -> dict[str, object]:
    id_column = SHEETS_BY_KEY[sheet].id_column
    index: dict[str, object] = {}
    for record in getattr(book, sheet):
        index.setdefault(getattr(record, id_column), record)
    return index


def _follow(record, sheet: str, ref: Ref, index: dict, invalid: Invalid) -> Iterator[Problem]:
    value = getattr(record, ref.column)
    if value is None or value in index[ref.target]:
        return
    bad_row = invalid.get(ref.target, {}).get(value)
    if bad_row is not None:
        yield problem("invalid-reference", sheet, record.row, ref.column, value=value,
                      target=SHEETS_BY_KEY[ref.target].zh, target_row=bad_row)
    else:
        yield problem(ref.code, sheet, record.row, ref.column, value=value)


def _bonus(bonus: Bonus, index: dict) -> Iterator[Problem]:
    categories = {rule.category for rule in index["rules"].values()}
    if bonus.category is not None and bonus.category not in categories:
        yield problem("unknown-category", "bonuses", bonus.row, "category", value=bonus.category)


def _entry(entry: Entry, index: dict) -> Iterator[Problem]:
    rule = index["rules"][entry.rule_code]
    if not rule.active and entry.status != "rejected":
        yield problem("inactive-rule", "entries", entry.row, "rule_code", value=entry.rule_code)
    if entry.status == "approved":
        for code, column, value in review_faults(entry, rule.double_review, index["staff"]):
            yield problem(code, "entries", entry.row, column, value=value)


def _appeal(appeal: Appeal, index: dict) -> Iterator[Problem]:
    entry = index["entries"][appeal.entry_id]
    if entry.resident_id != appeal.resident_id:
        yield problem("appeal-resident-mismatch", "appeals", appeal.row, "resident_id",
                      value=appeal.resident_id, entry_id=entry.entry_id, entry_resident=entry.resident_id)


EXTRA: dict[str, Callable[[object, dict], Iterator[Problem]]] = {
    "bonuses": _bonus,
    "entries": _entry,
    "appeals": _appeal,
}
