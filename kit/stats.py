"""Figures for governance (数据驱动决策): participation, points, appeals, hotspots.

Pure: the book and the ledger come in, raw counts come out. These are staff
figures; the public views suppress small cells before anything is published.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import accumulate

from kit.errors import KitError
from kit.ledger import Ledger
from kit.model import Book
from kit.versions import Versions

AGE_BANDS = (("青年", 0, 44), ("中年", 45, 59), ("老年", 60, 200))
UNKNOWN_AGE = "年龄未知"
MEDIATION = "矛盾调解"
# Hotspot rule: a grid's participation in a category is a hotspot when it is below half
# the community's rate AND a one-sided binomial test gives p < 0.05 (so chance alone is
# an unlikely explanation), among grids with at least min_group_size registered residents.
HOTSPOT_RATIO = 0.5
HOTSPOT_P = 0.05


@dataclass(frozen=True)
class Share:
    """participants of registered (a rate), or a count of residents behind a figure."""

    registered: int
    participants: int

    @property
    def rate(self) -> float | None:
        return self.participants / self.registered if self.registered else None


@dataclass(frozen=True)
class PeriodStats:
    label: str  # 2026-03, 2026Q1
    start: dt.date
    end: dt.date
    overall: Share  # residents in the register (在册) who took part
    took_part: int  # everyone with a counted entry in the period, moved-away residents included
    by_grid: dict[str, Share]  # grid id → share
    by_age: dict[str, Share]  # band → share
    points_by_category: dict[str, int]
    people_by_category: dict[str, int]
    issued: int
    redeemed: int
    decayed: int
    outstanding: int  # balances at the end of the period
    appeals_opened: int
    appeals_resolved: int
    appeals_corrected: int
    median_days_to_resolve: float | None
    mediation_by_grid: dict[str, int]  # entries of the 矛盾调解 category


@dataclass(frozen=True)
class Hotspot:
    grid_id: str
    grid: str
    category: str
    registered: int
    participants: int
    rate: float
    community_rate: float
    p_value: float

    @property
    def advice(self) -> str:
        return (f"{self.grid} {self.category} 参与率 {self.rate:.0%}，社区平均 {self.community_rate:.0%}："
                "建议针对性宣传")


@dataclass(frozen=True)
class Backlog:
    pending: int
    median_age_days: float | None
    oldest_days: int | None
    by_grid: dict[str, int]


def quarter_bounds(label: str) -> tuple[dt.date, dt.date]:
    match = re.fullmatch(r"(\d{4})\s*[Qq]([1-4])", label.strip())
    if not match:
        raise KitError(f"季度“{label}”的写法不对，请写成 2026Q3 这样的格式。")
    year, quarter = int(match.group(1)), int(match.group(2))
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def quarter_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def previous_quarter(label: str) -> str:
    start, _ = quarter_bounds(label)
    return quarter_of(start - dt.timedelta(days=1))


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    start = day.replace(day=1)
    following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


def age_band(birth_year: int | None, year: int) -> str:
    if birth_year is None:
        return UNKNOWN_AGE
    age = year - birth_year
    return next(name for name, low, high in AGE_BANDS if low <= age <= high)


class Figures:
    """Lookups over one book and ledger, shared by the period figures."""

    def __init__(self, book: Book, ledger: Ledger):
        self.book, self.ledger = book, ledger
        self.registered = [r for r in book.residents if r.status == "active"]
        self.grid_of = {r.resident_id: r.grid_id for r in book.residents}
        self.awards = sorted(ledger.awards.values(), key=lambda a: (a.entry.date, a.entry.row))
        self.award_dates = [a.entry.date for a in self.awards]
        self.rewards = Versions(book.rewards)
        # every balance change by date, with running totals: a period's figures by bisection
        changes = sorted((e.date, e.points, e.kind == "decayed")
                         for account in ledger.accounts.values() for e in account.events)
        self.change_dates = [d for d, _, _ in changes]
        self.running = list(accumulate((p for _, p, _ in changes), initial=0))
        self.running_decay = list(accumulate((-p if decay else 0 for _, p, decay in changes), initial=0))

    def awards_between(self, start: dt.date, end: dt.date) -> list:
        return self.awards[bisect_left(self.award_dates, start):bisect_right(self.award_dates, end)]

    def period(self, label: str, start: dt.date, end: dt.date) -> PeriodStats:
        end = min(end, self.ledger.as_of)
        active = {r.resident_id for r in self.registered}
        awards = self.awards_between(start, end)  # points issued count whoever earned them
        people = {a.entry.resident_id for a in awards} & active  # participation is of the register
        by_grid = self._shares(lambda r: r.grid_id, people)
        by_age = self._shares(lambda r: age_band(r.birth_year, end.year), people)
        points: Counter[str] = Counter()
        cat_people: dict[str, set[str]] = defaultdict(set)
        mediation: Counter[str] = Counter()
        for award in awards:
            category = award.rule.category
            points[category] += award.points
            cat_people[category].add(award.entry.resident_id)
            if category == MEDIATION:
                mediation[self.grid_of[award.entry.resident_id]] += 1
        redeemed = sum(self.rewards.at(r.reward_code, r.date).cost * r.quantity
                       for r in self.ledger.redemptions if start <= r.date <= end)
        first, last = bisect_left(self.change_dates, start), bisect_right(self.change_dates, end)
        decayed = self.running_decay[last] - self.running_decay[first]
        outstanding = self.running[last]
        opened = [a for a in self.book.appeals if start <= a.date <= end]
        resolved = [a for a in self.book.appeals if a.status != "open" and a.resolved_date
                    and start <= a.resolved_date <= end]
        days = [(a.resolved_date - a.date).days for a in resolved]
        return PeriodStats(
            label=label, start=start, end=end, overall=Share(len(self.registered), len(people)),
            took_part=len({a.entry.resident_id for a in awards}),
            by_grid=by_grid, by_age=by_age, points_by_category=dict(points),
            people_by_category={k: len(v) for k, v in cat_people.items()},
            issued=sum(points.values()), redeemed=redeemed, decayed=decayed, outstanding=outstanding,
            appeals_opened=len(opened), appeals_resolved=len(resolved),
            appeals_corrected=sum(1 for a in resolved if a.status == "corrected"),
            median_days_to_resolve=statistics.median(days) if days else None,
            mediation_by_grid=dict(mediation),
        )

    def _shares(self, key, people: set[str]) -> dict[str, Share]:
        registered: Counter[str] = Counter(key(r) for r in self.registered)
        joined: Counter[str] = Counter(key(r) for r in self.registered if r.resident_id in people)
        return {k: Share(registered[k], joined[k]) for k in sorted(registered)}

    def months(self, count: int) -> list[PeriodStats]:
        """The last `count` calendar months up to the as-of date, oldest first."""
        found, day = [], self.ledger.as_of
        for _ in range(count):
            start, end = month_bounds(day)
            found.append(self.period(f"{start:%Y-%m}", start, end))
            day = start - dt.timedelta(days=1)
        return found[::-1]

    def quarter(self, label: str) -> PeriodStats:
        start, end = quarter_bounds(label)
        return self.period(label, start, end)

    def hotspots(self, start: dt.date, end: dt.date, minimum: int) -> list[Hotspot]:
        """Grid × category cells well below the community's participation (rule above)."""
        active = {r.resident_id for r in self.registered}
        doers: dict[str, set[str]] = defaultdict(set)
        for award in self.awards_between(start, end):
            if award.entry.resident_id in active:
                doers[award.rule.category].add(award.entry.resident_id)
        registered = Counter(r.grid_id for r in self.registered)
        names = {g.grid_id: g.grid_name for g in self.book.grids}
        found = []
        for category, people in sorted(doers.items()):
            community = len(people) / len(self.registered)
            in_grid = Counter(self.grid_of[rid] for rid in people)
            for grid_id in sorted(registered):
                n, x = registered[grid_id], in_grid[grid_id]
                if n < minimum or x / n >= HOTSPOT_RATIO * community:
                    continue
                p_value = binomial_cdf(x, n, community)
                if p_value < HOTSPOT_P:
                    found.append(Hotspot(grid_id, names.get(grid_id, grid_id), category, n, x, x / n,
                                         community, p_value))
        return sorted(found, key=lambda h: h.p_value)

    def backlog(self) -> Backlog:
        """Entries waiting for review as of the date, and how long they have waited."""
        waiting = [e for e in self.book.entries if e.status == "pending" and e.date <= self.ledger.as_of]
        ages = [(self.ledger.as_of - e.date).days for e in waiting]
        by_grid = Counter(self.grid_of.get(e.resident_id, "") for e in waiting)
        return Backlog(len(waiting), statistics.median(ages) if ages else None, max(ages, default=None),
                       dict(sorted(by_grid.items())))


def binomial_cdf(x: int, n: int, p: float) -> float:
    """P(X ≤ x) for X ~ Binomial(n, p), summed in log space so large grids do not underflow."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if x >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for k in range(x + 1):
        log_term = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * log_p + (n - k) * log_q)
        total += math.exp(log_term)
    return min(1.0, total)
