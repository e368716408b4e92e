"""Staff-only views for the counter: the balance list and one resident's statement.

These carry names and ids; they are printed for staff and never published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kit.ledger import Event, Ledger, bonus_matches
from kit.model import Book, Entry, Resident
from kit.suggest import Suggester, folded
from kit.wording import activity, plain_number
from kit.schema import ENTRY_STATUS, choice_label
from kit.versions import Versions, period_words

BALANCE_KEYS = ("resident_id", "name", "grid_id", "earned", "redeemed", "decayed", "balance", "expiring_30d")
BALANCE_TITLES = ("居民编号", "姓名", "网格", "获得", "已兑换", "已衰减", "余额", "30天内将衰减")
STATEMENT_KEYS = ("date", "kind", "text", "change", "balance", "source")
STATEMENT_TITLES = ("日期", "类型", "事项", "变化", "余额", "来源")
KIND_WORDS = {"earned": "获得", "capped": "超出上限不计", "corrected": "申诉更正", "decayed": "衰减", "redeemed": "兑换"}


@dataclass(frozen=True)
class BalanceRow:
    resident_id: str
    name: str
    grid_id: str
    earned: int
    redeemed: int
    decayed: int
    balance: int
    expiring_30d: int


@dataclass(frozen=True)
class StatementLine:
    date: dt.date
    kind: str
    text: str  # zh description
    change: int
    balance: int  # running balance after this line
    source: str  # e.g. 积分记录 第 12 行


@dataclass(frozen=True)
class Statement:
    resident_id: str
    name: str
    grid_id: str
    as_of: dt.date
    earned: int
    redeemed: int
    decayed: int
    balance: int
    expiring_30d: int
    lines: tuple[StatementLine, ...]
    waiting: tuple[str, ...]  # entries not counted yet or not at all, in words


def balance_rows(book: Book, ledger: Ledger) -> list[BalanceRow]:
    rows = []
    for resident in sorted(book.residents, key=lambda r: r.resident_id):
        account = ledger.accounts[resident.resident_id]
        rows.append(BalanceRow(resident.resident_id, resident.name, resident.grid_id, account.earned,
                               account.redeemed, account.decayed, account.balance, account.expiring_30d))
    return rows


SHEET_NAMES = {"entries": "积分记录", "appeals": "申诉", "redemptions": "兑换记录"}


@dataclass(frozen=True)
class Found:
    """Who a question at the counter may be about: one resident, several to pick from, or none
    with the ids that look like what was asked."""
    residents: tuple[Resident, ...]
    by: str  # 编号, 姓名 or 手机尾号
    near: tuple[Resident, ...] = ()


def find_residents(book: Book, asked: str) -> Found:
    """A resident as staff ask for one: the id in any case or width (r0002, Ｒ０００２), the
    name (all of that name), or the last 4 digits of the phone."""
    wanted = folded(asked)
    if not wanted:
        return Found((), "编号")
    by_id = tuple(r for r in book.residents if folded(r.resident_id) == wanted)
    if by_id:
        return Found(by_id, "编号")
    name = "".join(wanted.split())
    by_name = tuple(r for r in book.residents if "".join(folded(r.name).split()) == name)
    if by_name:
        return Found(by_name, "姓名")
    if len(wanted) == 4 and wanted.isdigit():
        by_phone = tuple(r for r in book.residents if r.phone and _digits(r.phone).endswith(wanted))
        if by_phone:
            return Found(by_phone, "手机尾号")
    ids = {r.resident_id: r for r in book.residents}
    return Found((), "编号", tuple(ids[i] for i in Suggester(ids).near(asked)))


def _digits(phone: str) -> str:
    return "".join(ch for ch in folded(phone) if ch.isdigit())


def statement(book: Book, ledger: Ledger, resident_id: str) -> Statement | None:
    resident = next((r for r in book.residents if r.resident_id == resident_id), None)
    if resident is None:
        return None
    account = ledger.accounts[resident_id]
    describe = _Describer(book, ledger)
    lines, running = [], 0
    for event in account.events:
        running += event.points
        lines.append(StatementLine(event.date, event.kind, describe(event), event.points, running,
                                   f"{SHEET_NAMES[event.sheet]} 第 {event.row} 行"))
    waiting = tuple(
        f"{e.date} {describe.entry_text(e)}：{_not_counted(e, ledger)}（积分记录 第 {e.row} 行）"
        for e in book.entries
        if e.resident_id == resident_id and e.row not in ledger.awards
    )
    return Statement(resident.resident_id, resident.name, resident.grid_id, ledger.as_of, account.earned,
                     account.redeemed, account.decayed, account.balance, account.expiring_30d,
                     tuple(lines), waiting)


def _not_counted(entry: Entry, ledger: Ledger) -> str:
    if entry.date > ledger.as_of:
        return "日期晚于统计日，暂不计入"
    if entry.status != "approved":
        label = choice_label(ENTRY_STATUS, entry.status)
        return f"{label}，审核通过后计分" if entry.status == "pending" else f"{label}，不计分"
    return "不计分（规则已停用或审核不符合要求）"


class _Describer:
    def __init__(self, book: Book, ledger: Ledger):
        self.book = book
        self.ledger = ledger
        self.rules = Versions(book.rules)
        self.rewards = Versions(book.rewards)
        self.entries = {e.row: e for e in book.entries}
        self.redemptions = {r.row: r for r in book.redemptions}
        self.factor = book.settings.decay_factor

    def entry_text(self, entry: Entry) -> str:
        return activity(self.rules.at(entry.rule_code, entry.date), entry)

    def version_text(self, rule) -> str:
        """Which version of a rule an entry used, when the rule has several: “按第 3 行：每小时 10 分”."""
        if len(self.rules.all(rule.code)) < 2:
            return ""
        per = f"每{rule.unit} " if rule.unit else ""
        return f"〔按“积分规则”表第 {rule.row} 行（{period_words(rule)}）：{per}{rule.points} 分〕"

    def __call__(self, event: Event) -> str:
        if event.kind == "earned":
            award = self.ledger.awards[event.row]
            text = self.entry_text(award.entry) + self.version_text(award.rule)
            if award.multiplier != 1:
                rule = award.rule
                bonus = next((b.name for b in self.book.bonuses
                              if b.multiplier == award.multiplier and bonus_matches(b, rule, award.entry)), "加分")
                text += f"（{bonus} ×{plain_number(award.multiplier)}）"
            return text
        if event.kind == "capped":
            award = self.ledger.awards[event.row]
            rule = award.rule
            limit = rule.daily_cap if event.ref == "daily" else self.book.settings.annual_cap
            return f"超过{'每日' if event.ref == 'daily' else '年度'}上限 {limit} 分，多出部分不计"
        if event.kind == "corrected":
            appeal = next(a.appeal for a in self.ledger.awards.values()
                          if a.appeal is not None and a.appeal.row == event.row)
            return f"申诉 {appeal.appeal_id} 更正：记录 {appeal.entry_id} 改为 {appeal.corrected_points} 分"
        if event.kind == "decayed":
            earned_on = self.entries[event.row].date
            return f"{earned_on} 获得的积分满期未用，乘以 {plain_number(self.factor)}"
        redemption = self.redemptions[event.row]
        reward = self.rewards.at(event.ref, redemption.date)
        quantity = redemption.quantity
        return f"兑换 {reward.name if reward else event.ref}" + (f" ×{quantity}" if quantity != 1 else "")

