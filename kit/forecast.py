"""Points liability: what the outstanding points are worth, what will decay, and what
other settings would have done, each computed by the real engine on the real history."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kit.calendar import add_months
from kit.ledger import Ledger, appeal_decided, compute
from kit.model import Book, Settings
from kit.versions import Versions

HORIZON_MONTHS = 12
DECAY_MONTHS = (6, 12, 24)
DECAY_FACTORS = (Decimal("0.5"), Decimal("0.75"))
ANNUAL_CAPS = (0, 1000, 2000)


@dataclass(frozen=True)
class Liability:
    as_of: dt.date
    outstanding: int
    decaying_next_12m: int  # if nobody earns or redeems from now on
    average_cost: float | None  # points per reward, over the catalogue
    rewards_equivalent: float | None  # outstanding / average cost
    yuan_per_point: Decimal | None  # from rewards with a 价值(元)
    yuan: Decimal | None


@dataclass(frozen=True)
class Scenario:
    label: str
    decay_after_months: int
    decay_factor: Decimal
    annual_cap: int
    current: bool
    earned: int
    redeemed: int
    decayed: int
    outstanding: int
    refused_redemptions: int  # redemptions these settings would have left without points


def history_until(book: Book, as_of: dt.date) -> Book:
    """The book as known on the date: nothing dated later, and an appeal decided later
    still open (a projection must not use a correction nobody knew of yet)."""
    def as_known(appeal):
        if appeal.status != "open" and not appeal_decided(appeal, as_of):
            return dataclasses.replace(appeal, status="open", corrected_points=None, resolved_date=None)
        return appeal

    return dataclasses.replace(
        book,
        entries=tuple(e for e in book.entries if e.date <= as_of),
        redemptions=tuple(r for r in book.redemptions if r.date <= as_of),
        appeals=tuple(as_known(a) for a in book.appeals if a.date <= as_of),
    )


def totals(ledger: Ledger) -> tuple[int, int, int, int]:
    accounts = ledger.accounts.values()
    return (sum(a.earned for a in accounts), sum(a.redeemed for a in accounts),
            sum(a.decayed for a in accounts), sum(a.balance for a in accounts))


def liability(book: Book, ledger: Ledger) -> Liability:
    _, _, decayed_now, outstanding = totals(ledger)
    later = compute(history_until(book, ledger.as_of), add_months(ledger.as_of, HORIZON_MONTHS))
    decaying = totals(later)[2] - decayed_now
    offered = Versions(book.rewards).on(ledger.as_of)
    costs = [r.cost for r in offered]
    average = sum(costs) / len(costs) if costs else None
    valued = [r for r in offered if r.value is not None]
    per_point = (sum(r.value for r in valued) / sum(r.cost for r in valued)) if valued else None
    return Liability(
        ledger.as_of, outstanding, decaying, average,
        outstanding / average if average else None,
        per_point.quantize(Decimal("0.001")) if per_point is not None else None,
        (outstanding * per_point).quantize(Decimal("1")) if per_point is not None else None,
    )


def what_if(book: Book, as_of: dt.date, progress: Callable[[str], None] = lambda label: None) -> list[Scenario]:
    """Each decay setting (months × factor) and each annual cap, run on the whole history."""
    current = book.settings
    wanted: list[tuple[int, Decimal, int]] = [
        (months, factor, current.annual_cap) for months in DECAY_MONTHS for factor in DECAY_FACTORS]
    wanted += [(current.decay_after_months, current.decay_factor, cap) for cap in ANNUAL_CAPS]
    wanted.insert(0, (current.decay_after_months, current.decay_factor, current.annual_cap))
    history = history_until(book, as_of)
    found, seen = [], set()
    for months, factor, cap in wanted:
        if (months, factor, cap) in seen:
            continue
        seen.add((months, factor, cap))
        label = _label(months, factor, cap)
        progress(label)
        settings: Settings = dataclasses.replace(current, decay_after_months=months, decay_factor=factor,
                                                 annual_cap=cap)
        ledger = compute(dataclasses.replace(history, settings=settings), as_of)
        earned, redeemed, decayed, outstanding = totals(ledger)
        refused = sum(1 for p in ledger.problems if p.code == "redemption-overdraft")
        found.append(Scenario(label, months, factor, cap,
                              (months, factor, cap) == (current.decay_after_months, current.decay_factor,
                                                        current.annual_cap),
                              earned, redeemed, decayed, outstanding, refused))
    return found


def _label(months: int, factor: Decimal, cap: int) -> str:
    decay = f"{months} 个月后 ×{factor.normalize()}" if months else "不衰减"
    return f"{decay}，年度上限 {cap if cap else '不限'}"
