"""Separation of duties (PRODUCT.md, ledger rule 1): who may approve an entry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kit.model import Entry, Staff

Fault = tuple[str, str, str | None]  # (problem code, column key, value)


def review_faults(entry: Entry, double: bool, staff: Mapping[str, Staff]) -> Iterator[Fault]:
    """Why an approved entry's review is not valid; nothing when it is."""
    if entry.reviewer1 is None:
        yield ("review-missing", "reviewer1", None)
    else:
        yield from _reviewer(entry, "reviewer1", entry.reviewer1, staff)
    if entry.reviewer2 is None:
        if double:
            yield ("second-review-missing", "reviewer2", entry.rule_code)
    elif entry.reviewer2 == entry.reviewer1:
        yield ("same-reviewer", "reviewer2", entry.reviewer2)
    else:
        yield from _reviewer(entry, "reviewer2", entry.reviewer2, staff)


def _reviewer(entry: Entry, column: str, staff_id: str, staff: Mapping[str, Staff]) -> Iterator[Fault]:
    if staff_id == entry.recorder:
        yield ("self-review", column, staff_id)
    elif staff_id not in staff:
        yield ("unknown-staff", column, staff_id)
    elif not staff[staff_id].can_review:
        yield ("reviewer-not-allowed", column, staff_id)


def review_valid(entry: Entry, double: bool, staff: Mapping[str, Staff]) -> bool:
    return next(review_faults(entry, double, staff), None) is None
