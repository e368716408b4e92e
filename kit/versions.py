"""Rules and rewards by date: several rows may share one code, each row a version in
force from its 生效日期 to its 停用日期 (both inclusive, either may be empty).

An entry uses the rule version in force on its date and a redemption the reward
version in force on its date, so a quarterly change of 分值 or 所需积分 is a new row
and the past keeps the points it was published with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar


FIRST_DAY = dt.date.min
LAST_DAY = dt.date.max


class Dated(Protocol):
    row: int
    code: str
    start_date: dt.date | None
    end_date: dt.date | None


T = TypeVar("T", bound=Dated)


def in_force(version: Dated, day: dt.date) -> bool:
    return ((version.start_date is None or version.start_date <= day)
            and (version.end_date is None or day <= version.end_date))


def dated(version: Dated) -> bool:
    return version.start_date is not None or version.end_date is not None


def period_words(version: Dated) -> str:
    """'2026-01-01 至 2026-12-31', '自 2027-01-01 起', '至 2026-12-31', '不限日期'."""
    start, end = version.start_date, version.end_date
    if start and end:
        return f"{start.isoformat()} 至 {end.isoformat()}"
    if start:
        return f"自 {start.isoformat()} 起"
    if end:
        return f"至 {end.isoformat()}"
    return "不限日期"


class Versions(Generic[T]):
    """code → its versions in date order. The rows are assumed checked (kit/checks.py
    check_versions): where two overlap anyway, the later-starting one wins."""

    def __init__(self, records: Iterable[T]):
        self._by_code: dict[str, list[T]] = {}
        self._order: dict[str, int] = {}  # code → the sheet position of its first row
        for record in records:
            self._by_code.setdefault(record.code, []).append(record)
            self._order.setdefault(record.code, len(self._order))
        for versions in self._by_code.values():
            versions.sort(key=lambda v: (v.start_date or FIRST_DAY, v.row))
        # the common case: one undated row per code, found without looking at dates
        self._single: dict[str, T] = {code: vs[0] for code, vs in self._by_code.items()
                                      if len(vs) == 1 and not dated(vs[0])}
        self.simple = len(self._single) == len(self._by_code)
        self._memo: dict[tuple[str, dt.date], T | None] = {}

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def codes(self) -> list[str]:
        """In the order the codes first appear in the sheet."""
        return list(self._by_code)

    def all(self, code: str) -> list[T]:
        return list(self._by_code.get(code, ()))

    def at(self, code: str, day: dt.date) -> T | None:
        """The version of code in force on day, or None."""
        single = self._single.get(code)
        if single is not None:
            return single
        key = (code, day)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = None
        for version in self._by_code.get(code, ()):
            if in_force(version, day):
                found = version  # later starts win
        self._memo[key] = found
        return found

    def on(self, day: dt.date) -> list[T]:
        """One version per code, those in force on day, in sheet order."""
        return [v for code in self._by_code if (v := self.at(code, day)) is not None]

    def shown(self, code: str, day: dt.date) -> T | None:
        """The version to describe the code by on day: in force, else the next to come,
        else the last that was."""
        return self.at(code, day) or self.next_version(code, day) or self.last_before(code, day)

    def next_version(self, code: str, day: dt.date) -> T | None:
        """The first version starting after day."""
        return next((v for v in self._by_code.get(code, ()) if v.start_date and v.start_date > day), None)

    def last_before(self, code: str, day: dt.date) -> T | None:
        ended = [v for v in self._by_code.get(code, ()) if v.end_date and v.end_date < day]
        return max(ended, key=lambda v: v.end_date) if ended else None

    def coming(self, day: dt.date) -> list[tuple[T | None, T]]:
        """(version in force on day or None, the next version) for each code that changes after day,
        in sheet order (a version that simply ends: ends_after)."""
        found = []
        for code in self._by_code:
            after = self.next_version(code, day)
            if after is not None:
                found.append((self.at(code, day), after))
        return found

    def ends_after(self, day: dt.date) -> list[T]:
        """Versions in force on day that stop later with nothing after them."""
        found = []
        for code in self._by_code:
            now = self.at(code, day)
            if now is not None and now.end_date is not None and self.next_version(code, day) is None:
                found.append(now)
        return found
