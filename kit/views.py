"""What each public page shows, built from the book and the ledger.

Privacy is applied here (through kit.privacy) and only here: the views carry
display names and aggregates, never names, ids, phones, notes or tokens.
Templates only display these frozen objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from kit.changes import Change, reward_changes, rule_changes
from kit.ledger import Award, Ledger
from kit.model import Bonus, Book, Rule
from kit.wording import activity, plain_number
from kit.disclosure import OTHER_ACTIVITIES, OTHER_GRIDS, Disclosure
from kit.privacy import Names, notice_code, public_names
from kit.schema import REWARD_KINDS, choice_label
from kit.stats import Figures
from kit.versions import Versions

TAG = re.compile(r"<[^>]*>")
UNSAFE_CONFIG_TEXT = re.compile(r"[<>&\"'`{}\[\]|*_#\\\x00-\x1f\x7f]")


def config_text(text: str, fallback: str) -> str:
    """Workbook text that goes into mkdocs.yml (site name, footer): plain words only,
    because the theme prints it without escaping."""
    cleaned = UNSAFE_CONFIG_TEXT.sub("", TAG.sub("", text)).strip()[:60]
    return cleaned or fallback


@dataclass(frozen=True)
class Figure:
    label: str
    value: int | None  # None: suppressed (too few residents)
    unit: str = ""


@dataclass(frozen=True)
class HomeView:
    site_name: str
    organization: str
    as_of: dt.date
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class RuleLine:
    name: str
    points: int
    unit: str
    daily_cap: int
    double_review: bool
    audience: str
    description: str


@dataclass(frozen=True)
class MenuView:
    categories: tuple[tuple[str, tuple[RuleLine, ...]], ...]
    bonuses: tuple[tuple[str, str], ...]  # (name, in words)
    annual_cap: int
    decay_after_months: int
    decay_factor: str
    changes: tuple[Change, ...] = ()  # coming rule versions, announced on the menu
    reward_changes: tuple[Change, ...] = ()  # coming reward versions, announced on the reward page


@dataclass(frozen=True)
class RewardLine:
    name: str
    kind: str
    cost: int
    stock_left: int | None  # None: unlimited
    description: str


@dataclass(frozen=True)
class RankRow:
    rank: int
    name: str  # masked name or pseudonym
    grid: str
    points: int


@dataclass(frozen=True)
class Board:
    title: str
    rows: tuple[RankRow, ...]
    suppressed: bool  # too few residents to publish


@dataclass(frozen=True)
class RankingView:
    period_year: str
    period_month: str
    community: tuple[Board, Board]  # year, month
    grids: tuple[tuple[str, Board, Board], ...]  # (grid name, year, month)
    size: int
    min_group_size: int


@dataclass(frozen=True)
class NoticeLine:
    """One approved entry, linked to nobody: no name, no time of day, no bonus."""

    date: dt.date
    code: str  # shown again only on the resident's own page (kit/privacy.notice_code)
    grid: str  # or 其他网格
    activity: str  # rule and quantity, or 其他活动
    points: int  # the menu's points for it (rule points × quantity), before bonuses and caps
    under_appeal: bool
    deadline: dt.date


@dataclass(frozen=True)
class NoticeView:
    start: dt.date
    end: dt.date
    days: int
    lines: tuple[NoticeLine, ...]
    withheld_months: tuple[str, ...] = ()  # months with too few residents: their lines are not online


@dataclass(frozen=True)
class MonthPoint:
    month: str  # 2026-03
    points: int | None
    participants: int | None


@dataclass(frozen=True)
class Share:
    label: str
    points: int | None
    participants: int | None


@dataclass(frozen=True)
class GridRate:
    grid: str
    registered: int | None
    participants: int | None
    rate: float | None  # participants / registered


@dataclass(frozen=True)
class HotspotLine:
    grid: str
    category: str
    rate: float | None  # None: too few residents behind it to publish
    community_rate: float

    @property
    def advice(self) -> str:
        shown = "人数较少，不公布" if self.rate is None else f"{self.rate:.0%}"
        return f"{self.grid} {self.category} 参与率 {shown}，社区平均 {self.community_rate:.0%}：建议针对性宣传"


@dataclass(frozen=True)
class DashboardView:
    year: int
    months: tuple[MonthPoint, ...]
    categories: tuple[Share, ...]
    grids: tuple[GridRate, ...]  # grid name, registered, participants, rate
    ages: tuple[GridRate, ...]  # the same per age band
    hotspots: tuple[HotspotLine, ...]
    min_group_size: int


@dataclass(frozen=True)
class SiteView:
    home: HomeView
    menu: MenuView
    rewards: tuple[RewardLine, ...]
    ranking: RankingView
    notice: NoticeView
    dashboard: DashboardView


def site_context(book: Book, ledger: Ledger) -> SiteContext:
    return SiteContext(book, ledger, public_names(book.settings.pseudonym_secret, book.residents, ledger.as_of))


def site_view(book: Book, ledger: Ledger, context: SiteContext | None = None) -> SiteView:
    context = context or site_context(book, ledger)
    return SiteView(
        home=home_view(context),
        menu=menu_view(book, ledger.as_of),
        rewards=reward_lines(book, ledger),
        ranking=ranking_view(context),
        notice=notice_view(context),
        dashboard=dashboard_view(context),
    )


class SiteContext:
    """Lookups shared by the view builders."""

    def __init__(self, book: Book, ledger: Ledger, names: Names):
        self.book, self.ledger, self.names = book, ledger, names
        self.as_of = ledger.as_of
        self.minimum = book.settings.min_group_size
        self.rules: Versions[Rule] = Versions(book.rules)  # an entry uses the version in force on its date
        self.grid_names = {g.grid_id: g.grid_name for g in book.grids}
        self.residents = {r.resident_id: r for r in book.residents}
        self.active = {r.resident_id for r in book.residents if r.status == "active"}
        self.figures = Figures(book, ledger)
        self.awards = self.figures.awards  # in (date, row) order
        self.disclosure = Disclosure(book, self.awards, self.as_of, self.minimum)

    def grid_of(self, resident_id: str) -> str:
        return self.grid_names.get(self.residents[resident_id].grid_id, "")

    def awards_between(self, start: dt.date, end: dt.date) -> list[Award]:
        return self.figures.awards_between(start, end)


def _count(value: int, people: int, minimum: int) -> int | None:
    return value if people == 0 or people >= minimum else None


def home_view(c: SiteContext) -> HomeView:
    settings = c.book.settings
    year = c.disclosure.year(c.as_of.year)
    redeemed = [r for r in c.ledger.redemptions if r.date.year == c.as_of.year]
    redeemers = {r.resident_id for r in redeemed}
    issued = sum(year.month_points.values())
    figures = (
        Figure("居民", _count(len(year.population), len(year.population), c.minimum), "人"),
        Figure(f"{c.as_of.year} 年参与居民", _count(len(year.took_part), len(year.took_part), c.minimum), "人"),
        Figure(f"{c.as_of.year} 年发放积分", issued if year.total_shown else None, "分"),
        Figure(f"{c.as_of.year} 年兑换次数", _count(len(redeemed), len(redeemers), c.minimum), "次"),
        Figure("积分项目", sum(1 for r in c.rules.on(c.as_of) if r.active), "项"),
        Figure("可兑换奖品", len(Versions(c.book.rewards).on(c.as_of)), "种"),
    )
    return HomeView(config_text(settings.site_name, "社区积分"), config_text(settings.organization, ""),
                    c.as_of, figures)


def menu_view(book: Book, as_of: dt.date) -> MenuView:
    """The rules in force on as_of, and the changes to come."""
    versions = Versions(book.rules)
    by_category: dict[str, list[RuleLine]] = defaultdict(list)
    for rule in versions.on(as_of):
        if rule.active:
            by_category[rule.category].append(RuleLine(
                rule.name, rule.points, rule.unit, rule.daily_cap, rule.double_review,
                rule.audience or "所有居民", rule.description or ""))
    names = rule_names(versions, as_of)
    bonuses = tuple((b.name, bonus_in_words(b, names)) for b in book.bonuses
                    if b.end_date is None or b.end_date >= as_of)
    factor = book.settings.decay_factor
    return MenuView(tuple((k, tuple(v)) for k, v in by_category.items()), bonuses,
                    book.settings.annual_cap, book.settings.decay_after_months, plain_number(factor),
                    rule_changes(versions, as_of), reward_changes(Versions(book.rewards), as_of))


def rule_names(versions: Versions[Rule], day: dt.date) -> dict[str, Rule]:
    """code → the version to name it by on day (bonus wording)."""
    return {code: versions.shown(code, day) for code in versions.codes()}


def bonus_in_words(bonus: Bonus, rules: dict[str, Rule]) -> str:
    """e.g. 治安巡逻，每天 20:00–06:00，积分 ×2"""
    parts = []
    if bonus.rule_code:
        rule = rules.get(bonus.rule_code)
        parts.append(rule.name if rule else bonus.rule_code)
    elif bonus.category:
        parts.append(f"“{bonus.category}”类活动")
    else:
        parts.append("所有活动")
    if bonus.start_date and bonus.end_date:
        parts.append(f"{bonus.start_date} 至 {bonus.end_date}")
    elif bonus.start_date:
        parts.append(f"{bonus.start_date} 起")
    elif bonus.end_date:
        parts.append(f"至 {bonus.end_date}")
    if bonus.start_time or bonus.end_time:
        start = bonus.start_time.strftime("%H:%M") if bonus.start_time else "00:00"
        end = bonus.end_time.strftime("%H:%M") if bonus.end_time else "24:00"
        parts.append(f"每天 {start}–{end}")
    factor = plain_number(bonus.multiplier)
    parts.append("积分双倍" if factor == "2" else f"积分 ×{factor}")
    return "，".join(parts)


def reward_lines(book: Book, ledger: Ledger) -> tuple[RewardLine, ...]:
    """The rewards in force on the as-of date (coming ones: MenuView.reward_changes)."""
    return tuple(
        RewardLine(r.name, choice_label(REWARD_KINDS, r.kind), r.cost,
                   None if r.stock is None else max(0, r.stock - ledger.stock_used.get(r.code, 0)),
                   r.description or "")
        for r in Versions(book.rewards).on(ledger.as_of)
    )


def period_totals(c: SiteContext, awards: list[Award]) -> dict[str, int]:
    """Points of each resident in the awards of a period (moved-away residents included,
    as in every other public figure)."""
    totals: Counter[str] = Counter()
    for award in awards:
        totals[award.entry.resident_id] += award.points
    return totals


def standings(c: SiteContext, totals: dict[str, int]) -> list[tuple[int, int, str]]:
    """(rank, points, resident_id) of the residents with points, best first; ties share a rank."""
    ordered = sorted(((p, c.names.display[rid], rid) for rid, p in totals.items() if p > 0),
                     key=lambda t: (-t[0], t[1]))
    found, rank, last = [], 0, None
    for index, (points, _, rid) in enumerate(ordered):
        if points != last:
            rank, last = index + 1, points
        found.append((rank, points, rid))
    return found


def _by_grid(c: SiteContext, totals: dict[str, int]) -> dict[str, dict[str, int]]:
    grids: dict[str, dict[str, int]] = {}
    for rid, points in totals.items():
        grids.setdefault(c.residents[rid].grid_id, {})[rid] = points
    return grids


def _board(c: SiteContext, title: str, totals: dict[str, int], hidden: bool = False,
           total_hidden: bool = False) -> Board:
    """total_hidden: the group's points total is not published, so the board must not list
    everyone (its sum would be that total): at least min_group_size residents stay off it."""
    ranked = standings(c, totals)
    size = c.book.settings.ranking_size
    if total_hidden:
        size = min(size, len(ranked) - c.minimum)
    if hidden or len(ranked) < c.minimum or size <= 0:
        return Board(title, (), True)
    year = c.disclosure.year(c.as_of.year)
    rows = tuple(RankRow(rank, c.names.display[rid], OTHER_GRIDS if c.residents[rid].grid_id in year.hidden_grids
                         else c.grid_of(rid), points)
                 for rank, points, rid in ranked[:size])
    return Board(title, rows, False)


def ranking_view(c: SiteContext) -> RankingView:
    year = period_totals(c, c.awards_between(dt.date(c.as_of.year, 1, 1), c.as_of))
    month = period_totals(c, c.awards_between(c.as_of.replace(day=1), c.as_of))
    year_by_grid, month_by_grid = _by_grid(c, year), _by_grid(c, month)
    year_label, month_label = f"{c.as_of.year} 年", f"{c.as_of.year} 年 {c.as_of.month} 月"
    hidden = c.disclosure.year(c.as_of.year).hidden_grids  # a hidden grid has no board at all
    grids = tuple(
        (g.grid_name, _board(c, f"{g.grid_name} · {year_label}", year_by_grid.get(g.grid_id, {}), g.grid_id in hidden),
         _board(c, f"{g.grid_name} · {month_label}", month_by_grid.get(g.grid_id, {}), g.grid_id in hidden))
        for g in c.book.grids
    )
    return RankingView(year_label, month_label,
                       (_board(c, f"全社区 · {year_label}", year,
                               total_hidden=not c.disclosure.year(c.as_of.year).total_shown),
                        _board(c, f"全社区 · {month_label}", month)),
                       grids, c.book.settings.ranking_size, c.minimum)


def notice_view(c: SiteContext) -> NoticeView:
    """The last notice_days days of approved entries, in an order that follows nothing
    (date, then a keyed code), without names, times or bonuses; months with too few
    residents are not listed at all (kit/disclosure.py)."""
    days = c.book.settings.notice_days
    start = c.as_of - dt.timedelta(days=days - 1)
    secret = c.book.settings.pseudonym_secret
    lines, withheld = [], set()
    for award in c.awards_between(start, c.as_of):
        entry = award.entry
        if c.disclosure.month_hidden(entry.date):
            withheld.add(f"{entry.date.year} 年 {entry.date.month} 月")
            continue
        rule = c.rules.at(entry.rule_code, entry.date)  # the version the entry was awarded by
        grid = c.disclosure.notice_grid(award)
        shown = c.disclosure.category_shown(entry.rule_code, entry.date.year)
        lines.append(NoticeLine(
            entry.date, notice_code(secret, entry.entry_id), c.grid_names.get(grid, "") if grid else OTHER_GRIDS,
            activity(rule, entry) if shown else OTHER_ACTIVITIES, int(rule.points * entry.quantity),
            entry.entry_id in c.ledger.under_appeal, entry.date + dt.timedelta(days=days)))
    lines.sort(key=lambda line: (-line.date.toordinal(), line.code))
    return NoticeView(start, c.as_of, days, tuple(lines), tuple(sorted(withheld)))


def dashboard_view(c: SiteContext, months: int = 12) -> DashboardView:
    """Published aggregates, hidden by the one suppression pass (kit/disclosure.py)."""
    minimum, d = c.minimum, c.disclosure
    month_points = []
    for back in range(months - 1, -1, -1):
        start = _month_start(c.as_of, back)
        year, label = d.year(start.year), f"{start:%Y-%m}"
        hidden = label in year.hidden_months
        month_points.append(MonthPoint(label, None if hidden else year.month_points.get(label, 0),
                                       None if hidden else year.month_people.get(label, 0)))
    year = d.year(c.as_of.year)
    categories = tuple(
        Share(k, None if k in year.hidden_categories else year.category_points[k],
              None if k in year.hidden_categories else year.category_people[k])
        for k in sorted(year.category_points, key=lambda k: -year.category_points[k]))
    names = {g.grid_id: g.grid_name for g in c.book.grids}
    grids = _rates(year.grid_residents, year.grid_participants, year.hidden_grids, names)
    ages = _rates(year.age_residents, year.age_participants, year.hidden_ages, {})
    start = dt.date(c.as_of.year, 1, 1)
    hotspots = tuple(  # hidden grids and categories stay hidden here too
        HotspotLine(h.grid, h.category, h.rate if not 0 < h.participants < minimum else None, h.community_rate)
        for h in c.figures.hotspots(start, c.as_of, minimum)
        if h.category not in year.hidden_categories and h.grid_id not in year.hidden_grids)
    return DashboardView(c.as_of.year, tuple(month_points), categories, grids, ages, hotspots, minimum)


def _rates(residents: dict[str, int], participants: dict[str, int], hidden: frozenset[str],
           names: dict[str, str]) -> tuple[GridRate, ...]:
    rates = []
    for key in sorted(residents, key=lambda k: (k not in names, list(names).index(k) if k in names else 0, k)):
        if key in hidden:
            rates.append(GridRate(names.get(key, key), None, None, None))
        else:
            reg, part = residents[key], participants.get(key, 0)
            rates.append(GridRate(names.get(key, key), reg, part, part / reg if reg else None))
    return tuple(rates)


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)

