"""Typed rows of the workbook. `row` is the spreadsheet row the record came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Settings:
    site_name: str = "社区积分"
    organization: str = ""
    site_url: str = ""
    decay_after_months: int = 12
    decay_factor: Decimal = Decimal("0.5")
    annual_cap: int = 0
    min_group_size: int = 5
    notice_days: int = 7
    ranking_size: int = 20
    pseudonym_secret: str = ""
    retired_secrets: str = ""  # space-separated, oldest first (kit rotate-secret)


@dataclass(frozen=True, slots=True)
class Grid:
    row: int
    grid_id: str
    grid_name: str
    community: str | None


@dataclass(frozen=True, slots=True)
class Staff:
    row: int
    staff_id: str
    name: str
    role: str  # recorder | reviewer | admin

    @property
    def can_review(self) -> bool:
        return self.role in ("reviewer", "admin")


@dataclass(frozen=True, slots=True)
class Resident:
    row: int
    resident_id: str
    name: str
    grid_id: str
    birth_year: int | None
    phone: str | None
    name_consent: bool
    card_token: str | None
    status: str  # active | moved
    retired_tokens: str | None = None  # space-separated tokens of lost cards (kit cards --reissue)


@dataclass(frozen=True, slots=True)
class Rule:
    row: int
    code: str
    name: str
    category: str
    points: int
    unit: str
    daily_cap: int  # 0 = none
    double_review: bool
    audience: str | None
    description: str | None
    active: bool
    start_date: dt.date | None = None  # this version is in force from (inclusive)
    end_date: dt.date | None = None  # … to (inclusive); kit/versions.py


@dataclass(frozen=True, slots=True)
class Bonus:
    row: int
    name: str
    category: str | None
    rule_code: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    start_time: dt.time | None
    end_time: dt.time | None
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class Entry:
    row: int
    entry_id: str
    date: dt.date
    time: dt.time | None
    resident_id: str
    rule_code: str
    quantity: Decimal
    note: str | None
    recorder: str
    reviewer1: str | None
    reviewer2: str | None
    status: str  # approved | pending | rejected


@dataclass(frozen=True, slots=True)
class Reward:
    row: int
    code: str
    name: str
    kind: str  # goods | honour | service
    cost: int
    stock: int | None  # None = unlimited
    description: str | None
    value: Decimal | None = None  # yuan, for staff reports only
    start_date: dt.date | None = None  # this version is in force from (inclusive)
    end_date: dt.date | None = None  # … to (inclusive); kit/versions.py


@dataclass(frozen=True, slots=True)
class Redemption:
    row: int
    redemption_id: str
    date: dt.date
    resident_id: str
    reward_code: str
    quantity: int
    handled_by: str | None


@dataclass(frozen=True, slots=True)
class Appeal:
    row: int
    appeal_id: str
    date: dt.date
    resident_id: str
    entry_id: str
    reason: str | None
    status: str  # open | upheld | corrected
    corrected_points: int | None
    resolved_date: dt.date | None


@dataclass(frozen=True)
class Book:
    """The whole workbook as typed records, in sheet order."""

    settings: Settings = field(default_factory=Settings)
    grids: tuple[Grid, ...] = ()
    staff: tuple[Staff, ...] = ()
    residents: tuple[Resident, ...] = ()
    rules: tuple[Rule, ...] = ()
    bonuses: tuple[Bonus, ...] = ()
    entries: tuple[Entry, ...] = ()
    rewards: tuple[Reward, ...] = ()
    redemptions: tuple[Redemption, ...] = ()
    appeals: tuple[Appeal, ...] = ()
