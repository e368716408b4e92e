"""One suppression pass over everything the site publishes together.

Pages, open data and the bulletin-board poster are read side by side and archived
day after day, so a number hidden in one place must not come back as the
difference of numbers shown elsewhere. The rules, decided here once per year:

- Every public figure of a year counts the same residents: those on the register
  (在册) and those who took part that year before moving away. Past figures
  therefore never change when someone moves.
- A month whose activity involves fewer than min_group_size residents is hidden
  (points and participants); so are its lines in the notice. A year's points total
  is shown only while none of its months is hidden, since the total minus the
  shown months would give the hidden one back.
- A grid (or age band, or activity category) with fewer residents than the minimum
  is hidden, and when exactly one is, the next smallest is hidden with it, so the
  published total cannot give it back. A hidden grid is hidden everywhere that
  year: no board of its own, and shown as 其他网格 beside residents and notice
  lines; hidden categories read as 其他活动 in the notice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kit.ledger import Award
from kit.model import Book
from kit.stats import age_band

OTHER_GRIDS = "其他网格"
OTHER_ACTIVITIES = "其他活动"


def hide_small(people: Mapping[str, int], minimum: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """Keys over fewer than minimum residents (a key over nobody is no one's data), plus
    `extra`; when that leaves exactly one hidden among several, the next smallest too."""
    hidden = {key for key, n in people.items() if 0 < n < minimum} | (set(extra) & set(people))
    if len(hidden) == 1:
        rest = sorted((n, key) for key, n in people.items() if key not in hidden and n > 0)
        if rest:
            hidden.add(rest[0][1])
    return frozenset(hidden)


@dataclass(frozen=True)
class Year:
    """What may be published about one calendar year (up to the as-of date)."""

    year: int
    took_part: frozenset[str]  # residents with a counted entry in the year
    population: frozenset[str]  # registered now, or took part this year
    grid_residents: dict[str, int]
    grid_participants: dict[str, int]
    hidden_grids: frozenset[str]
    age_residents: dict[str, int]
    age_participants: dict[str, int]
    hidden_ages: frozenset[str]
    month_people: dict[str, int]  # YYYY-MM → residents with points that month
    month_points: dict[str, int]
    hidden_months: frozenset[str]
    category_people: dict[str, int]
    category_points: dict[str, int]
    hidden_categories: frozenset[str]
    month_pools: dict[str, frozenset[str]]  # YYYY-MM → grid ids shown as 其他网格 in that month's notice
    total_shown: bool  # the year's points total (no month hidden, enough residents)


class Disclosure:
    def __init__(self, book: Book, awards: list[Award], as_of: dt.date, minimum: int):
        self.book, self.awards, self.as_of, self.minimum = book, awards, as_of, minimum
        self.grid_of = {r.resident_id: r.grid_id for r in book.residents}
        self.category = {r.code: r.category for r in book.rules}
        self._years: dict[int, Year] = {}

    def year(self, year: int) -> Year:
        if year not in self._years:
            self._years[year] = self._year(year)
        return self._years[year]

    def _year(self, year: int) -> Year:
        k = self.minimum
        end = min(dt.date(year, 12, 31), self.as_of)
        awards = [a for a in self.awards if a.entry.date.year == year and a.entry.date <= end]
        took_part = frozenset(a.entry.resident_id for a in awards)
        residents = {r.resident_id: r for r in self.book.residents}
        population = frozenset(rid for rid, r in residents.items() if r.status == "active") | took_part
        grid_residents = Counter(self.grid_of[rid] for rid in population)
        grid_participants = Counter(self.grid_of[rid] for rid in took_part)
        # a grid is small when its residents or its participants are few
        grid_small = {g: min(n, grid_participants[g]) if grid_participants[g] else n for g, n in grid_residents.items()}
        hidden_grids = hide_small(grid_small, k)
        ages = {rid: age_band(residents[rid].birth_year, end.year) for rid in population}
        age_residents = Counter(ages.values())
        age_participants = Counter(ages[rid] for rid in took_part)
        age_small = {b: min(n, age_participants[b]) if age_participants[b] else n for b, n in age_residents.items()}
        month_people: dict[str, set[str]] = defaultdict(set)
        month_points: Counter[str] = Counter()
        grid_month: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        category_people: dict[str, set[str]] = defaultdict(set)
        category_points: Counter[str] = Counter()
        for a in awards:
            rid, label = a.entry.resident_id, f"{a.entry.date:%Y-%m}"
            month_people[label].add(rid)
            month_points[label] += a.points
            grid_month[label][self.grid_of[rid]].add(rid)
            category = a.rule.category
            category_people[category].add(rid)
            category_points[category] += a.points
        people = {m: len(s) for m, s in month_people.items()}
        hidden_months = frozenset(m for m, n in people.items() if 0 < n < k)
        cat_people = {c: len(s) for c, s in category_people.items()}
        pools = {label: hide_small({g: len(s) for g, s in grids.items()}, k, hidden_grids)
                 for label, grids in grid_month.items()}
        return Year(
            year=year, took_part=took_part, population=population,
            grid_residents=dict(grid_residents), grid_participants=dict(grid_participants), hidden_grids=hidden_grids,
            age_residents=dict(age_residents), age_participants=dict(age_participants),
            hidden_ages=hide_small(age_small, k),
            month_people=people, month_points=dict(month_points),
            hidden_months=hidden_months,
            category_people=cat_people, category_points=dict(category_points),
            hidden_categories=hide_small(cat_people, k), month_pools=pools,
            total_shown=not hidden_months and not 0 < len(took_part) < k,
        )

    def month_hidden(self, day: dt.date) -> bool:
        return f"{day:%Y-%m}" in self.year(day.year).hidden_months

    def grid_shown(self, grid_id: str, year: int) -> bool:
        return grid_id not in self.year(year).hidden_grids

    def notice_grid(self, award: Award) -> str | None:
        """The grid id a notice line may name, None for 其他网格."""
        day = award.entry.date
        grid = self.grid_of[award.entry.resident_id]
        return None if grid in self.year(day.year).month_pools.get(f"{day:%Y-%m}", ()) else grid

    def category_shown(self, code: str, year: int) -> bool:
        return self.category.get(code, "") not in self.year(year).hidden_categories
