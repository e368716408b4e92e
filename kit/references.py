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
from operator import attrgetter
from typing import Callable

from kit.model import Book, Entry
from kit.problems import Problem, problem
from kit.review import review_faults
from kit.schema import SHEETS_BY_KEY
from kit.suggest import Suggester, did_you_mean
from kit.versions import Versions, period_words

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
    """Check every reference; return the book without rows whose references fail.

    Column-wise: only the distinct values missing from the target sheet send us back
    to the rows, so a million valid entries cost a few set operations."""
    invalid = {key: dict(ids) for key, ids in invalid.items()}
    problems: list[Problem] = []
    for sheet, refs in REFS.items():
        records = getattr(book, sheet)
        index = {ref.target: _index(book, ref.target) for ref in refs}
        found: dict[int, list[Problem]] = {}  # record position → its problems
        for ref in refs:
            values = list(map(attrgetter(ref.column), records))
            target = index[ref.target]
            missing = {v for v in set(values) if v is not None and v not in target}
            if missing:
                hints = _hints(target, missing)
                for k, value in enumerate(values):
                    if value in missing:
                        found.setdefault(k, []).extend(_follow(records[k], sheet, ref, index, invalid, hints))
        failed = {k for k, listed in found.items() if any(p.is_error for p in listed)}
        extra = EXTRA.get(sheet)
        if extra:
            for k, listed in extra(records, index, failed, book, invalid):
                found.setdefault(k, []).extend(listed)
                if any(p.is_error for p in listed):
                    failed.add(k)
        for k in sorted(found):
            problems.extend(found[k])
        if not failed:
            continue
        id_column = SHEETS_BY_KEY[sheet].id_column
        if id_column:
            for k in sorted(failed):
                invalid.setdefault(sheet, {})[getattr(records[k], id_column)] = records[k].row
        book = dataclasses.replace(book, **{sheet: tuple(r for k, r in enumerate(records) if k not in failed)})
    return book, problems


def _index(book: Book, sheet: str) -> dict[str, object]:
    """id → record; the first row of an id wins."""
    records = getattr(book, sheet)
    ids = list(map(attrgetter(SHEETS_BY_KEY[sheet].id_column), records))
    return dict(zip(reversed(ids), reversed(records)))


def _label(record) -> str:
    """What staff recognise a row by, beside its code."""
    for attribute in ("name", "grid_name"):
        if getattr(record, attribute, None):
            return getattr(record, attribute)
    if hasattr(record, "resident_id") and hasattr(record, "date"):  # an entry
        return f"{record.resident_id} {record.date}"
    return ""


def _hints(target: dict[str, object], missing: set) -> dict[object, str]:
    """A suggestion for each distinct id that is nowhere, worked out once however many rows use it."""
    near = Suggester(target)
    return {value: did_you_mean(near.near(str(value)), lambda code: _label(target[code])) for value in missing}


def _follow(record, sheet: str, ref: Ref, index: dict, invalid: Invalid, hints: dict) -> Iterator[Problem]:
    value = getattr(record, ref.column)
    if value is None or value in index[ref.target]:
        return
    bad_row = invalid.get(ref.target, {}).get(value)
    if bad_row is not None:
        yield problem("invalid-reference", sheet, record.row, ref.column, value=value,
                      target=SHEETS_BY_KEY[ref.target].zh, target_row=bad_row)
    else:
        yield problem(ref.code, sheet, record.row, ref.column, hint=hints.get(value, ""), value=value)


def _bonuses(bonuses, index: dict, failed: set[int], book: Book, invalid: Invalid):
    categories = dict.fromkeys(rule.category for rule in book.rules)
    near = Suggester(categories)
    for k, bonus in enumerate(bonuses):
        if k not in failed and bonus.category is not None and bonus.category not in categories:
            yield k, [problem("unknown-category", "bonuses", bonus.row, "category",
                              hint=did_you_mean(near.near(bonus.category)), value=bonus.category)]


_ENTRY_KEY = attrgetter("rule_code", "status", "recorder", "reviewer1", "reviewer2")


def _entries(entries, index: dict, failed: set[int], book: Book, invalid: Invalid):
    """An entry's own faults depend only on its rule version, status and staff: work them out
    once per distinct combination (a few thousand in a million entries)."""
    rules = Versions(book.rules)
    keys = list(map(_ENTRY_KEY, entries))
    if not rules.simple:  # the version in force on each entry's date joins the key
        keys = [(key, _version_key(rules, entry)) for key, entry in zip(keys, entries)]
    first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1)))  # key → first position
    dropped = invalid.get("rules", {})
    faulty = {key: faults for key, k in first.items()
              if (faults := _entry_faults(entries[k], rules, index, dropped))}
    if not faulty:
        return
    for k, key in enumerate(keys):
        if key in faulty and k not in failed:
            row = entries[k].row
            yield k, [problem(code, "entries", row, column, **params) for code, column, params in faulty[key]]


def _version_key(rules: Versions, entry: Entry):
    version = rules.at(entry.rule_code, entry.date)
    return version.row if version is not None else entry.date


def _entry_faults(entry: Entry, rules: Versions, index: dict, dropped: dict[str, int]) -> list[tuple[str, str, dict]]:
    if entry.rule_code not in rules:
        return []  # unknown-rule, already an error
    rule = rules.at(entry.rule_code, entry.date)
    if rule is None:
        if entry.rule_code in dropped:  # likely the version of this day, left out for its own error
            return [("invalid-reference", "rule_code", {"value": entry.rule_code, "target": "积分规则",
                                                         "target_row": dropped[entry.rule_code]})]
        return [("rule-not-in-force", "rule_code", _not_in_force(rules, entry.rule_code, entry.date))]
    faults: list[tuple[str, str, dict]] = []
    if not rule.active and entry.status != "rejected":
        faults.append(("inactive-rule", "rule_code", {"value": entry.rule_code}))
    if entry.status == "approved":
        for code, column, value in review_faults(entry, rule.double_review, index["staff"]):
            params = {"value": value}
            if code == "unknown-staff":
                params["hint"] = _hints(index["staff"], {value})[value]
            faults.append((code, column, params))
    return faults


def _not_in_force(versions: Versions, code: str, day) -> dict:
    periods = "；".join(f"第 {v.row} 行 {period_words(v)}" for v in versions.all(code))
    return {"value": code, "date": day, "periods": periods}


def _redemptions(redemptions, index: dict, failed: set[int], book: Book, invalid: Invalid):
    rewards = Versions(book.rewards)
    if rewards.simple:
        return
    dropped = invalid.get("rewards", {})
    for k, redemption in enumerate(redemptions):
        code = redemption.reward_code
        if k not in failed and code in rewards and rewards.at(code, redemption.date) is None:
            if code in dropped:
                yield k, [problem("invalid-reference", "redemptions", redemption.row, "reward_code", value=code,
                                  target="奖品", target_row=dropped[code])]
            else:
                yield k, [problem("reward-not-in-force", "redemptions", redemption.row, "reward_code",
                                  **_not_in_force(rewards, code, redemption.date))]


def _appeals(appeals, index: dict, failed: set[int], book: Book, invalid: Invalid):
    for k, appeal in enumerate(appeals):
        if k in failed:
            continue
        entry = index["entries"][appeal.entry_id]
        if entry.resident_id != appeal.resident_id:
            yield k, [problem("appeal-resident-mismatch", "appeals", appeal.row, "resident_id",
                              value=appeal.resident_id, entry_id=entry.entry_id,
                              entry_resident=entry.resident_id)]


EXTRA: dict[str, Callable[[tuple, dict, set[int], Book, Invalid], Iterator[tuple[int, list[Problem]]]]] = {
    "bonuses": _bonuses,
    "entries": _entries,
    "redemptions": _redemptions,
    "appeals": _appeals,
}
