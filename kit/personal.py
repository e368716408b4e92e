"""我的积分: what one resident sees after scanning their card.

One view per resident who holds a card token. It carries no name, phone,
resident id or note: only what the resident may see about themselves, in the
words of the public pages. The site seals each view with the resident's token.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields

from kit.fingerprint import History, leaf_positions, resident_proofs
from kit.keys import current_salt
from kit.ledger import Award
from kit.privacy import notice_code
from kit.versions import Versions
from kit.views import SiteContext, period_totals, standings
from kit.wording import activity, plain_number


NOT_COUNTED = {"pending": "待审核", "rejected": "未通过"}


@dataclass(frozen=True)
class PersonalLine:
    date: str  # 2026-03-05
    text: str  # 治安巡逻 2 小时
    points: int | None  # None: not counted (pending, rejected)
    status: str  # 已计分, 待审核, 申诉中, 未通过, 已衰减, 已兑换 …
    code: str | None = None  # the entry's code in 积分公示, where no name is shown


@dataclass(frozen=True)
class PersonalView:
    as_of: str
    site_name: str
    display_name: str  # as in rankings and the notice
    pseudonym: str  # printed on the card
    grid: str
    balance: int
    earned: int
    redeemed: int
    decayed: int
    expiring_30d: int
    rank: int | None  # in this year's community ranking, None without points this year
    ranked: int  # residents with points this year
    entries: tuple[PersonalLine, ...]  # newest first
    changes: tuple[PersonalLine, ...]  # decays and redemptions, newest first
    fingerprint: dict | None = None  # salt and inclusion proofs of their records (kit/fingerprint.py)

    def to_data(self) -> dict:
        """As dataclasses.asdict, without its deep copies (100,000 of these per build)."""
        data = {name: getattr(self, name) for name in _VIEW_FIELDS}
        data["entries"] = [{name: getattr(line, name) for name in _LINE_FIELDS} for line in self.entries]
        data["changes"] = [{name: getattr(line, name) for name in _LINE_FIELDS} for line in self.changes]
        return data


_VIEW_FIELDS = tuple(f.name for f in fields(PersonalView))
_LINE_FIELDS = tuple(f.name for f in fields(PersonalLine))


def personal_views(c: SiteContext, site_name: str, history: History | None = None) -> dict[str, PersonalView]:
    """card token → that resident's view, for every resident with a valid token."""
    return dict(iter_personal_views(c, site_name, history))


def iter_personal_views(c: SiteContext, site_name: str,
                        history: History | None = None) -> Iterator[tuple[str, PersonalView]]:
    """(card token, view) in token order, made one at a time: a sub-district's 100,000
    views never sit in memory together."""
    holders = sorted((r for r in c.book.residents if r.card_token), key=lambda r: r.card_token)
    if not holders:
        return
    year = standings(c, period_totals(c, c.awards_between(dt.date(c.as_of.year, 1, 1), c.as_of)))
    ranks, ranked = {rid: rank for rank, _, rid in year}, len(year)
    entries = defaultdict(list)
    for entry in c.book.entries:
        if entry.date <= c.as_of:
            entries[entry.resident_id].append(entry)
    rewards = Versions(c.book.rewards)
    redemptions = {r.row: r for r in c.ledger.redemptions}
    entry_dates = {e.row: e.date for e in c.book.entries}
    positions = leaf_positions(history) if history else {}
    for resident in holders:
        rid = resident.resident_id
        account = c.ledger.accounts[rid]
        lines = [_entry_line(c, e) for e in sorted(entries[rid], key=lambda e: (e.date, e.row), reverse=True)]
        changes = []
        for event in reversed(account.events):
            if event.kind == "decayed":
                changes.append(PersonalLine(event.date.isoformat(), f"{entry_dates[event.row]} 获得的积分到期未用",
                                            event.points, "已衰减"))
            elif event.kind == "redeemed":
                redemption = redemptions[event.row]
                reward = rewards.at(redemption.reward_code, redemption.date)  # its name on that day
                name = reward.name if reward else redemption.reward_code
                suffix = f" ×{redemption.quantity}" if redemption.quantity != 1 else ""
                changes.append(PersonalLine(event.date.isoformat(), f"兑换 {name}{suffix}", event.points, "已兑换"))
        yield resident.card_token, PersonalView(
            as_of=c.as_of.isoformat(), site_name=site_name, display_name=c.names.display[rid],
            pseudonym=c.names.pseudonym[rid], grid=c.grid_of(rid), balance=account.balance,
            earned=account.earned, redeemed=account.redeemed, decayed=account.decayed,
            expiring_30d=account.expiring_30d, rank=ranks.get(rid), ranked=ranked,
            entries=tuple(lines), changes=tuple(changes),
            fingerprint=resident_proofs(history, positions.get(rid, []),
                                        current_salt(c.book.settings, resident)) if history else None,
        )


def _entry_line(c: SiteContext, entry) -> PersonalLine:
    # the version of its date; a pending entry on a day without one is still named
    text = activity(c.rules.at(entry.rule_code, entry.date) or c.rules.shown(entry.rule_code, entry.date), entry)
    award: Award | None = c.ledger.awards.get(entry.row)
    if award is None:
        status = NOT_COUNTED.get(entry.status, "不计分")
        return PersonalLine(entry.date.isoformat(), text, None, status)
    if entry.entry_id in c.ledger.under_appeal:
        status = "申诉中"
    elif award.appeal is not None:
        status = f"申诉后更正（原 {award.awarded} 分）"
    elif award.cap is not None:
        status = f"已计分（超过{'每日' if award.cap == 'daily' else '年度'}上限，少计 {award.base - award.awarded} 分）"
    else:
        status = "已计分"
    if award.multiplier != 1:
        text += f"（×{plain_number(award.multiplier)}）"
    return PersonalLine(entry.date.isoformat(), text, award.points, status,
                        notice_code(c.book.settings.pseudonym_secret, entry.entry_id))
