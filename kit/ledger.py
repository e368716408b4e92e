"""The points engine (PRODUCT.md, "Points semantics"): pure, as of a date.

No I/O and no clock: the book and the as-of date come in, a Ledger comes out.
Every balance is the sum of its resident's events, and every event names the
sheet row it came from, so staff can explain any number at the counter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from kit.calendar import add_months
from kit.model import Appeal, Bonus, Book, Entry, Redemption, Rule
from kit.problems import Problem, problem
from kit.review import review_valid
from kit.versions import Versions

EXPIRY_WINDOW = dt.timedelta(days=30)
CAP_NAMES = {"daily": "每日上限", "annual": "年度上限"}
# Within a day: decay first (start of day), then the day's entries, then redemptions.
KIND_ORDER = {"decayed": 0, "earned": 1, "capped": 1, "corrected": 1, "redeemed": 2}


class Event(NamedTuple):
    date: dt.date
    kind: str  # earned | capped | corrected | decayed | redeemed
    points: int  # signed change of the balance
    sheet: str  # where it came from: sheet key and spreadsheet row
    row: int
    ref: str  # rule code, cap ("daily"/"annual"), appeal id, reward code


class Award(NamedTuple):
    """A counted entry and what it was worth."""

    entry: Entry
    multiplier: Decimal
    base: int  # floor(rule points × quantity × multiplier)
    awarded: int  # after the daily and annual caps
    cap: str | None  # "daily" or "annual" when a cap cut the entry
    points: int  # after a correction: what the entry is worth now
    appeal: Appeal | None  # the correction applied, if any
    rule: Rule  # the version in force on the entry's date (kit/versions.py)


@dataclass
class Account:
    resident_id: str
    earned: int = 0
    redeemed: int = 0
    decayed: int = 0
    expiring_30d: int = 0
    events: list[Event] = field(default_factory=list)

    @property
    def balance(self) -> int:
        return self.earned - self.redeemed - self.decayed


@dataclass(frozen=True)
class Ledger:
    as_of: dt.date
    accounts: dict[str, Account]  # every resident of the book
    awards: dict[int, Award]  # entry row → award, for counted entries
    under_appeal: frozenset[str]  # entry ids with an appeal open as of the date
    redemptions: tuple[Redemption, ...]  # the ones applied
    stock_used: dict[str, int]  # reward code → quantity redeemed
    problems: tuple[Problem, ...]


def compute(book: Book, as_of: dt.date) -> Ledger:
    with gc_paused():
        return _compute(book, as_of)


@contextlib.contextmanager
def gc_paused():
    """Millions of short-lived tuples and no reference cycles: the cyclic collector
    would rescan the whole book again and again (half of the run at 1M entries)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compute(book: Book, as_of: dt.date) -> Ledger:
    problems: list[Problem] = []
    awards = _awards(book, as_of, problems)  # in (date, row) order
    row_of = {award.entry.entry_id: row for row, award in awards.items()}
    corrections, under_appeal = _appeal_outcomes(book, as_of, row_of, problems)
    for entry_id, appeal in corrections.items():
        row = row_of[entry_id]
        awards[row] = _corrected(awards[row], appeal)  # same key: the order stays

    settings = book.settings
    decay = _Decay(settings.decay_after_months, settings.decay_factor)
    wallets = {r.resident_id: _Wallet(Account(r.resident_id), decay) for r in book.residents}
    for award in awards.values():
        wallets[award.entry.resident_id].add_lot(award)

    applied, stock_used = _redeem(book, as_of, wallets, problems)
    for wallet in wallets.values():
        wallet.advance(as_of)
        wallet.account.expiring_30d = wallet.expiring(as_of, as_of + EXPIRY_WINDOW)
        wallet.account.events.sort(key=lambda e: (e.date, KIND_ORDER[e.kind]))  # stable: keeps row order
    return Ledger(
        as_of=as_of,
        accounts={rid: w.account for rid, w in wallets.items()},
        awards=awards,
        under_appeal=frozenset(under_appeal),
        redemptions=tuple(applied),
        stock_used=stock_used,
        problems=tuple(problems),
    )


# --- which entries count and what they are worth -------------------------------


_BY_DATE_ROW = attrgetter("date", "row")


def _FIRST_BY_DATE_ROW(pair: tuple[Entry, Rule]) -> tuple:
    return _BY_DATE_ROW(pair[0])
_REVIEW_KEY = attrgetter("rule_code", "status", "recorder", "reviewer1", "reviewer2")


def _counted(entries: Iterable[Entry], as_of: dt.date, rules: Versions[Rule], residents: set[str],
             staff: dict) -> list[tuple[Entry, Rule]]:
    """The entries that count (PRODUCT.md ledger rule 1) with the rule version each uses; the
    review part is worked out once per distinct rule version, status and staff combination."""
    verdicts: dict[tuple, bool] = {}
    kept = []
    version_of = rules.at
    for entry in entries:
        if entry.date > as_of or entry.resident_id not in residents or entry.quantity <= 0:
            continue
        rule = version_of(entry.rule_code, entry.date)
        if rule is None:
            continue
        key = (_REVIEW_KEY(entry), rule.row)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = (entry.status == "approved" and rule.active
                                       and review_valid(entry, rule.double_review, staff))
        if verdict:
            kept.append((entry, rule))
    return kept


def bonus_matches(bonus: Bonus, rule: Rule, entry: Entry) -> bool:
    """PRODUCT.md ledger rule 2: every given condition must hold."""
    if bonus.category is not None and bonus.category != rule.category:
        return False
    if bonus.rule_code is not None and bonus.rule_code != entry.rule_code:
        return False
    if bonus.start_date is not None and entry.date < bonus.start_date:
        return False
    if bonus.end_date is not None and entry.date > bonus.end_date:
        return False
    if bonus.start_time is None and bonus.end_time is None:
        return True
    if entry.time is None:
        return False  # an entry without a time matches no time window
    start, end, time = bonus.start_time, bonus.end_time, entry.time
    if start is not None and end is not None and start > end:  # wraps midnight
        return time >= start or time <= end
    return (start is None or time >= start) and (end is None or time <= end)


def multiplier(bonuses: Iterable[Bonus], rule: Rule, entry: Entry) -> Decimal:
    """The largest matching bonus, else 1; bonuses never stack."""
    return max((b.multiplier for b in bonuses if bonus_matches(b, rule, entry)), default=Decimal(1))


def _awards(book: Book, as_of: dt.date, problems: list[Problem]) -> dict[int, Award]:
    rules = Versions(book.rules)
    staff = {s.staff_id: s for s in book.staff}
    residents = {r.resident_id for r in book.residents}
    annual_cap = book.settings.annual_cap
    counted = sorted(_counted(book.entries, as_of, rules, residents, staff), key=_FIRST_BY_DATE_ROW)
    day_total: dict[tuple[str, str, dt.date], int] = {}
    year_total: dict[tuple[str, int], int] = {}
    factors: dict[tuple, Decimal] = {}
    bases: dict[tuple, int] = {}  # Decimal arithmetic is slow; few distinct products
    awards: dict[int, Award] = {}
    for entry, rule in counted:
        key = (entry.rule_code, entry.date, entry.time)
        factor = factors.get(key)
        if factor is None:
            factor = factors[key] = multiplier(book.bonuses, rule, entry)
        product = (rule.row, entry.quantity, factor)
        base = bases.get(product)
        if base is None:
            base = bases[product] = math.floor(rule.points * entry.quantity * factor)
        awarded, cap = base, None
        daily = rule.daily_cap > 0
        if daily:
            day_key = (entry.resident_id, entry.rule_code, entry.date)
            day_so_far = day_total.get(day_key, 0)
            if awarded > rule.daily_cap - day_so_far:
                awarded, cap, limit = max(0, rule.daily_cap - day_so_far), "daily", rule.daily_cap
        if annual_cap > 0:
            year_key = (entry.resident_id, entry.date.year)
            year_so_far = year_total.get(year_key, 0)
            if awarded > annual_cap - year_so_far:
                awarded, cap, limit = max(0, annual_cap - year_so_far), "annual", annual_cap
            year_total[year_key] = year_so_far + awarded
        if daily:
            day_total[day_key] = day_so_far + awarded
        if cap is not None:
            problems.append(problem("capped-entry", "entries", entry.row, "quantity", base=base,
                                    cap=f"{CAP_NAMES[cap]} {limit} 分", awarded=awarded, cut=base - awarded))
        awards[entry.row] = Award(entry, factor, base, awarded, cap, awarded, None, rule)
    return awards


def _appeal_outcomes(book: Book, as_of: dt.date, counted: dict[str, int], problems: list[Problem]):
    """Corrections in force as of the date (last decided wins) and entries under appeal.

    counted: the entry ids that count (→ their rows)."""
    corrections: dict[str, Appeal] = {}
    under_appeal: set[str] = set()
    for appeal in sorted(book.appeals, key=lambda a: (a.resolved_date or a.date, a.row)):
        if appeal.date > as_of:
            continue
        if not appeal_decided(appeal, as_of):
            under_appeal.add(appeal.entry_id)
        elif appeal.status == "corrected" and appeal.corrected_points is not None:
            if appeal.entry_id in counted:
                corrections[appeal.entry_id] = appeal
            else:
                problems.append(problem("appeal-uncounted-entry", "appeals", appeal.row, "entry_id",
                                        value=appeal.entry_id))
    return corrections, under_appeal


def appeal_decided(appeal: Appeal, as_of: dt.date) -> bool:
    """The one meaning of "decided", for the ledger, the fingerprint, statistics and the
    forecast: an outcome and the day it was decided, on or before as_of. Without a 处理日期
    an appeal stays open (missing-resolved-date says so), so every decision that changes a
    balance is dated and published as a leaf."""
    return appeal.status != "open" and appeal.resolved_date is not None and appeal.resolved_date <= as_of


def _corrected(award: Award, appeal: Appeal | None) -> Award:
    if appeal is None:
        return award
    return award._replace(points=appeal.corrected_points, appeal=appeal)


# --- lots, decay and redemptions -----------------------------------------------


class _Decay:
    def __init__(self, months: int, factor: Decimal):
        self.months = months
        self.factor = factor
        self._due: dict[tuple[dt.date, int], dt.date] = {}

    def due(self, lot_date: dt.date, times: int) -> dt.date | None:
        """The day a lot decays for the n-th time (months from its date, clamped)."""
        if self.months <= 0:
            return None
        key = (lot_date, times)
        found = self._due.get(key)
        if found is None:
            found = self._due[key] = add_months(lot_date, self.months * times)
        return found

    def apply(self, points: int) -> int:
        return math.floor(points * self.factor)


class _Lot:
    __slots__ = ("date", "row", "remaining", "decays")

    def __init__(self, date: dt.date, row: int, points: int):
        self.date, self.row, self.remaining, self.decays = date, row, points, 0


class _Wallet:
    """One resident's lots, walked forward in time."""

    def __init__(self, account: Account, decay: _Decay):
        self.account = account
        self.decay = decay
        self.lots: list[_Lot] = []  # in (date, row) order
        self.active = 0  # lots[:active] exist as of the last advance
        self.first = 0  # lots before this are used up
        self.balance = 0
        self.schedule: list[tuple[dt.date, int]] = []  # (next decay day, lot index)

    def add_lot(self, award: Award) -> None:
        entry, events = award.entry, self.account.events
        events.append(Event(entry.date, "earned", award.base, "entries", entry.row, entry.rule_code))
        if award.cap is not None:
            events.append(Event(entry.date, "capped", award.awarded - award.base, "entries", entry.row,
                                award.cap))
        if award.appeal is not None:
            events.append(Event(entry.date, "corrected", award.points - award.awarded, "appeals",
                                award.appeal.row, award.appeal.appeal_id))
        self.account.earned += award.points
        self.lots.append(_Lot(entry.date, entry.row, award.points))

    def advance(self, day: dt.date) -> None:
        """Bring lots into being and decay them up to the start of day (inclusive)."""
        while self.active < len(self.lots) and self.lots[self.active].date <= day:
            lot = self.lots[self.active]
            self.balance += lot.remaining
            self._schedule(self.active)
            self.active += 1
        while self.schedule and self.schedule[0][0] <= day:
            due, index = heapq.heappop(self.schedule)
            lot = self.lots[index]
            if lot.remaining <= 0:
                continue
            kept = self.decay.apply(lot.remaining)
            loss = lot.remaining - kept
            lot.remaining, lot.decays = kept, lot.decays + 1
            self.balance -= loss
            if loss:
                self.account.decayed += loss
                self.account.events.append(Event(due, "decayed", -loss, "entries", lot.row, str(lot.decays)))
            self._schedule(index)

    def _schedule(self, index: int) -> None:
        lot = self.lots[index]
        due = self.decay.due(lot.date, lot.decays + 1)
        if due is not None and lot.remaining > 0:
            heapq.heappush(self.schedule, (due, index))

    def spend(self, redemption: Redemption, cost: int) -> None:
        """Use lots oldest first (caller checked the balance)."""
        need = cost
        while need:
            lot = self.lots[self.first]
            used = min(lot.remaining, need)
            lot.remaining -= used
            need -= used
            if lot.remaining == 0:
                self.first += 1
        self.balance -= cost
        self.account.redeemed += cost
        self.account.events.append(Event(redemption.date, "redeemed", -cost, "redemptions",
                                         redemption.row, redemption.reward_code))

    def expiring(self, start: dt.date, end: dt.date) -> int:
        """Points lost to decay in (start, end] if nothing else happens."""
        lost = 0
        for lot in self.lots[self.first:self.active]:
            points, times = lot.remaining, lot.decays + 1
            while points > 0:
                due = self.decay.due(lot.date, times)
                if due is None or due > end:
                    break
                if due > start:
                    kept = self.decay.apply(points)
                    lost += points - kept
                    points = kept
                times += 1
        return lost


def _redeem(book: Book, as_of: dt.date, wallets: dict[str, _Wallet], problems: list[Problem]):
    rewards = Versions(book.rewards)
    stock_used = {r.code: 0 for r in book.rewards}
    applied: list[Redemption] = []
    for redemption in sorted(book.redemptions, key=lambda r: (r.date, r.row)):
        wallet = wallets.get(redemption.resident_id)
        reward = rewards.at(redemption.reward_code, redemption.date)
        if redemption.date > as_of or wallet is None or reward is None or redemption.quantity <= 0:
            continue
        wallet.advance(redemption.date)
        cost = reward.cost * redemption.quantity
        if cost > wallet.balance:
            problems.append(problem("redemption-overdraft", "redemptions", redemption.row, "quantity",
                                    cost=cost, resident=redemption.resident_id, date=redemption.date,
                                    balance=wallet.balance))
            continue
        used = stock_used[reward.code]
        if reward.stock is not None and used + redemption.quantity > reward.stock:
            problems.append(problem("out-of-stock", "redemptions", redemption.row, "quantity",
                                    reward=reward.name, stock=reward.stock, used=used,
                                    quantity=redemption.quantity))
            continue
        stock_used[reward.code] = used + redemption.quantity
        wallet.spend(redemption, cost)
        applied.append(redemption)
    return applied, stock_used
