"""Training material that never drifts from the rules: named facts for placeholders.

Trainers write Markdown in docs/ and put {{名称}} wherever a number or name of
this community belongs: {{规则1.分值}}, {{积分有效期}}, {{例子.封顶}} … The
facts come from the workbook, and the worked examples from the real points
engine run on a tiny made-up ledger with this community's rules and settings.

Where rules or rewards have versions (生效日期/停用日期), the facts describe the day
they are made for (the as-of date): the versions in force then, with the coming
changes listed under the tables and named for each value they will alter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from decimal import Decimal

from kit.calendar import add_months
from kit.changes import Change, reward_changes, rule_changes
from kit.errors import KitError
from kit.ledger import compute
from kit.model import Book, Entry, Grid, Resident, Rule, Staff
from kit.problems import CATALOGUE, visible
from kit.schema import REWARD_KINDS, SHEETS, choice_label
from kit.tables import Tables
from kit.versions import Versions
from kit.wording import plain_number

PLACEHOLDER = re.compile(r"\{\{\s*([^{}\n]+?)\s*\}\}")
def escape(text: object, quote: bool = True) -> str:
    """HTML-escaped, with control and bidi characters from the workbook shown as �."""
    return html.escape(visible(str(text)), quote=quote)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>])")  # what Markdown lets a backslash escape


class PlaceholderError(KitError):
    code = "unknown-placeholder"


@dataclass(frozen=True)
class Facts:
    values: dict[str, str]  # name → plain text
    blocks: dict[str, str]  # name → an escaped HTML block (tables, lists), for Markdown pages only
    as_of: dt.date | None = None  # the day described, when rules or rewards have versions
    changing: dict[str, tuple[Change, ...]] = field(default_factory=dict)  # value name → changes that alter it

    def fill(self, text: str, where: str, markdown: bool = True) -> str:
        """Replace every {{name}}; an unknown name stops the build, naming file and line.

        In Markdown the values are escaped so that nothing from the workbook becomes markup;
        elsewhere (quiz files) they stay plain text for the template to escape."""
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in self.values:
                return md(self.values[name]) if markdown else self.values[name]
            if markdown and name in self.blocks:
                return self.blocks[name]
            line = text.count("\n", 0, match.start()) + 1
            raise PlaceholderError(
                f"{where} 第 {line} 行：没有名为“{name}”的占位符。请检查拼写；"
                "所有占位符和它们现在的值列在网站的“培训中心 → 占位符一览”页面。")

        return PLACEHOLDER.sub(replace, text)

    def check(self, text: str, where: str, markdown: bool = True) -> None:
        """Raise on the first unknown placeholder, naming its line; change nothing."""
        self.fill(text, where, markdown)


def md(text: object) -> str:
    """Workbook text as literal Markdown: nothing in it becomes markup."""
    escaped = MARKDOWN_SPECIAL.sub(r"\\\1", escape(str(text), quote=False))
    return escaped.replace("~", "&#126;")  # strike-through in some extensions, yet no backslash escape


def training_facts(book: Book, tables: Tables | None = None, as_of: dt.date | None = None) -> Facts:
    """The facts of book as of a day: the rule and reward versions in force on it."""
    rule_versions, reward_versions = Versions(book.rules), Versions(book.rewards)
    dated = not (rule_versions.simple and reward_versions.simple)
    day = (as_of or _fallback_day(book)) if dated else as_of
    current = _in_force(book, rule_versions, reward_versions, day) if dated else book
    s = book.settings
    values: dict[str, str] = {
        "社区名称": s.site_name,
        "主办单位": s.organization or s.site_name,
        "网站地址": s.site_url or "（网站地址未设置）",
        "积分有效期": str(s.decay_after_months),
        "衰减比例": plain_number(s.decay_factor),
        "衰减说法": _decay_words(s.decay_factor),
        "衰减规则": (f"积分获得后 {s.decay_after_months} 个月内没有使用，剩下的部分{_decay_words(s.decay_factor)}；"
                 f"此后每满 {s.decay_after_months} 个月再{_decay_words(s.decay_factor)}一次"
                 if s.decay_after_months else "积分长期有效，不会减少"),
        "年度上限": f"{s.annual_cap} 分" if s.annual_cap else "不限",
        "公示天数": str(s.notice_days),
        "最小公布人数": str(s.min_group_size),
        "排行榜人数": str(s.ranking_size),
    }
    dated_values, about = _dated_values(current)
    values |= dated_values
    values |= _names(tables)
    values |= {f"问题.{code}.标题": c.title for code, c in CATALOGUE.items()}
    values |= {f"问题.{code}.说明": _sample_message(c.template) for code, c in CATALOGUE.items()}
    rules = [r for r in current.rules if r.active]
    coming_rules = rule_changes(rule_versions, day) if dated else ()
    coming_rewards = reward_changes(reward_versions, day) if dated else ()
    names = {code: rule_versions.shown(code, day) for code in rule_versions.codes()} if dated else None
    blocks = {"积分菜单表": menu_table(rules) + change_list(coming_rules),
              "加分活动列表": bonus_list(book, names), "奖品表": reward_table(current) + change_list(coming_rewards),
              "即将调整": change_list(coming_rules + coming_rewards) or "<p>目前没有已定好的规则或奖品调整。</p>"}
    changing = _changing(book, rule_versions, reward_versions, dated_values, about, coming_rules, coming_rewards)
    return Facts(values, blocks, day if dated else None, changing)


def _fallback_day(book: Book) -> dt.date:
    """For a caller that names no day: the workbook's latest record, else its earliest versions."""
    days = [e.date for e in book.entries] + [r.date for r in book.redemptions]
    return max(days, default=dt.date.min)


def _in_force(book: Book, rules: Versions, rewards: Versions, day: dt.date) -> Book:
    """book with the versions in force on day, undated: the examples then run on any made-up date."""
    def undated(version):
        return dataclasses.replace(version, start_date=None, end_date=None)

    return dataclasses.replace(book, rules=tuple(map(undated, rules.on(day))),
                               rewards=tuple(map(undated, rewards.on(day))))


def _dated_values(book: Book) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The values that follow the rules and rewards, and which (sheet, code) each describes."""
    rules = [r for r in book.rules if r.active]
    values: dict[str, str] = {
        "规则数": str(len(rules)),
        "类别列表": "、".join(dict.fromkeys(r.category for r in rules)) or "（暂无）",
        "双人审核规则": "、".join(r.name for r in rules if r.double_review) or "（暂无）",
        "奖品数": str(len(book.rewards)),
    }
    about: dict[str, tuple[str, str]] = {}
    for index, rule in enumerate(rules, start=1):
        for prefix in (f"规则{index}", f"规则.{rule.code}"):
            named = {
                f"{prefix}.名称": rule.name, f"{prefix}.编码": rule.code,
                f"{prefix}.分值": str(rule.points), f"{prefix}.单位": rule.unit,
                f"{prefix}.类别": rule.category,
                f"{prefix}.每日上限": f"{rule.daily_cap} 分" if rule.daily_cap else "不限",
            }
            values |= named
            about |= dict.fromkeys(named, ("rules", rule.code))
    if not rules:  # a new community: the skeleton's pages still build
        values |= {f"规则1.{k}": "（暂无）" for k in ("名称", "编码", "分值", "单位", "类别", "每日上限")}
    if not book.rewards:
        values |= {f"奖品1.{k}": "（暂无）" for k in ("名称", "所需积分", "类型")}
    for index, reward in enumerate(sorted(book.rewards, key=lambda r: r.cost), start=1):
        named = {f"奖品{index}.名称": reward.name, f"奖品{index}.所需积分": str(reward.cost),
                 f"奖品{index}.类型": choice_label(REWARD_KINDS, reward.kind)}
        values |= named
        about |= dict.fromkeys(named, ("rewards", reward.code))
    values |= worked_examples(book)
    return values, about


def _changing(book: Book, rules: Versions, rewards: Versions, now: dict[str, str],
              about: dict[str, tuple[str, str]], coming_rules: tuple[Change, ...],
              coming_rewards: tuple[Change, ...]) -> dict[str, tuple[Change, ...]]:
    """Each value that reads differently on a coming change's day → the changes behind it
    (a quiz must say which day its answer holds for)."""
    changing: dict[str, tuple[Change, ...]] = {}
    for later in sorted({c.day for c in coming_rules + coming_rewards}):
        then, _ = _dated_values(_in_force(book, rules, rewards, later))
        that_day = {"rules": [c for c in coming_rules if c.day == later],
                    "rewards": [c for c in coming_rewards if c.day == later]}
        for name, value in now.items():
            if name in changing or then.get(name) == value:
                continue
            sheet, code = about.get(name, ("", ""))
            own = tuple(c for c in that_day.get(sheet, ()) if c.code == code)
            changing[name] = own or tuple(that_day["rules"] + that_day["rewards"])  # a count, a renumbering …
    return changing


def _decay_words(factor: Decimal) -> str:
    if factor == Decimal("0.5"):
        return "减半"
    if factor == 0:
        return "清零"
    return f"乘以 {plain_number(factor)}"


def _names(tables: Tables | None) -> dict[str, str]:
    """表.积分记录 and 列.积分记录.审核人1: the names as written in this community's workbook."""
    found = {}
    for sheet in SHEETS:
        layout = tables.layout(sheet.key) if tables else None
        found[f"表.{sheet.zh}"] = layout.name if layout else sheet.zh
        for col in sheet.columns:
            header = layout.headers.get(col.key) if layout else None
            found[f"列.{sheet.zh}.{col.zh}"] = header or col.zh
    return found


def _sample_message(template: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "……", template)


# --- worked examples, computed by the engine --------------------------------------

_DAY = dt.date(2025, 3, 10)
_STAFF = (Staff(2, "S1", "登记员", "recorder"), Staff(3, "S2", "审核员", "reviewer"),
          Staff(4, "S3", "审核员", "reviewer"))


def _points(book: Book, entries: list[Entry], as_of: dt.date) -> tuple[dict[int, object], object]:
    """Run the real engine on made-up entries of one made-up resident."""
    resident = Resident(2, "X", "某居民", "G", None, None, False, None, "active")
    sample = dataclasses.replace(
        book, grids=(Grid(2, "G", "网格", None),), staff=_STAFF, residents=(resident,),
        entries=tuple(entries), redemptions=(), appeals=())
    ledger = compute(sample, as_of)
    return ledger.awards, ledger.accounts["X"]


def _entry(row: int, rule: Rule, quantity: Decimal, date: dt.date, time: dt.time | None) -> Entry:
    return Entry(row, f"T{row}", date, time, "X", rule.code, quantity, None, "S1", "S2",
                 "S3" if rule.double_review else None, "approved")


def worked_examples(book: Book) -> dict[str, str]:
    rules = [r for r in book.rules if r.active]
    if not rules:
        none = "（还没有启用的积分规则）"
        return {"例子.基本": none, "例子.加分": none, "例子.封顶": none, "例子.衰减": _decay_example(book)}
    return {
        "例子.基本": _basic_example(book, rules[0]),
        "例子.加分": _bonus_example(book, rules),
        "例子.封顶": _cap_example(book, rules),
        "例子.衰减": _decay_example(book),
    }


def _sum(rule: Rule, quantity: Decimal, award) -> str:
    """10 × 2 × 2 = 40 分, and what a cap then kept."""
    factor = f" × {plain_number(award.multiplier)}" if award.multiplier != 1 else ""
    text = f"{rule.points} × {plain_number(quantity)}{factor} = {award.base} 分"
    if award.cap is not None:
        limit = "每日上限" if award.cap == "daily" else "年度上限"
        text += f"，超过{limit}，实际计 {award.awarded} 分"
    return text


def _basic_example(book: Book, rule: Rule) -> str:
    awards, _ = _points(book, [_entry(2, rule, Decimal(2), _DAY, None)], _DAY)
    return f"参加{rule.name} 2 {rule.unit}：{_sum(rule, Decimal(2), awards[2])}"


def _bonus_example(book: Book, rules: list[Rule]) -> str:
    bonuses = sorted(book.bonuses, key=lambda b: (b.start_time is None, b.row))
    for bonus in bonuses:
        rule = next((r for r in rules if (bonus.rule_code in (None, r.code))
                     and (bonus.category in (None, r.category))), None)
        if rule is None:
            continue
        day = bonus.start_date or _DAY
        time = bonus.start_time or (dt.time(10, 0) if bonus.end_time is None else bonus.end_time)
        awards, _ = _points(book, [_entry(2, rule, Decimal(2), day, time)], day)
        when = f"{time:%H:%M} 开始" if bonus.start_time or bonus.end_time else f"{day} 当天"
        return f"{bonus.name}：{rule.name} 2 {rule.unit}（{when}）：{_sum(rule, Decimal(2), awards[2])}"
    return "本社区目前没有加分活动"


def _cap_example(book: Book, rules: list[Rule]) -> str:
    rule = next((r for r in rules if r.daily_cap), None)
    if rule is None:
        return "本社区的积分规则没有设每日上限"
    quantity = Decimal(rule.daily_cap // rule.points + 1)  # one unit more than the cap allows
    time = dt.time(10, 0)
    quiet = dataclasses.replace(book, bonuses=())  # the cap shows best without a bonus
    awards, _ = _points(quiet, [_entry(2, rule, quantity, _DAY, time)], _DAY)
    award = awards[2]
    return (f"同一天参加{rule.name} {plain_number(quantity)} {rule.unit}，按分值应得 {award.base} 分，"
            f"但每日上限是 {rule.daily_cap} 分，实际计 {award.awarded} 分")


def _decay_example(book: Book) -> str:
    months, factor = book.settings.decay_after_months, book.settings.decay_factor
    if months <= 0:
        return "本社区的积分长期有效，不会减少"
    rule = Rule(2, "D", "示例", "示例", 100, "次", 0, False, None, None, True)
    uncapped = dataclasses.replace(book.settings, annual_cap=0)  # decay alone, nothing else cut
    sample = dataclasses.replace(book, rules=(rule,), bonuses=(), settings=uncapped)
    later = add_months(_DAY, months)
    _, account = _points(sample, [_entry(2, rule, Decimal(1), _DAY, None)], later)
    return (f"{_DAY} 获得的 100 分，一直没有使用，满 {months} 个月（{later}）时变成 "
            f"{account.balance} 分（{_decay_words(factor)}）")


# --- blocks: whole tables as raw HTML (escaped), on a line of their own --------------


def menu_table(rules: list[Rule]) -> str:
    rows = "".join(
        f"<tr><td>{escape(r.category)}</td><td>{escape(r.name)}</td><td>{r.points} 分/{escape(r.unit)}</td>"
        f"<td>{f'{r.daily_cap} 分' if r.daily_cap else '不限'}</td>"
        f"<td>{'双人审核' if r.double_review else '一人审核'}</td></tr>"
        for r in rules)
    return ("<table><thead><tr><th>类别</th><th>活动</th><th>积分</th><th>每日上限</th><th>审核</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def bonus_list(book: Book, rules: dict[str, Rule] | None = None) -> str:
    from kit.views import bonus_in_words

    rules = rules if rules is not None else {r.code: r for r in book.rules}
    items = "".join(f"<li><strong>{escape(b.name)}</strong>：{escape(bonus_in_words(b, rules))}</li>"
                    for b in book.bonuses)
    return f"<ul>{items}</ul>" if items else "<p>本社区目前没有加分活动。</p>"


def change_list(changes: tuple[Change, ...]) -> str:
    """即将调整: under the menu and reward tables; nothing when nothing is coming."""
    if not changes:
        return ""
    items = "".join(f"<li><strong>{escape(c.name)}</strong>：{escape(c.words)}</li>" for c in changes)
    return f"<p><strong>即将调整</strong>（调整生效前的记录仍按原来的规定计算）</p><ul>{items}</ul>"


def reward_table(book: Book) -> str:
    rows = "".join(
        f"<tr><td>{escape(r.name)}</td><td>{choice_label(REWARD_KINDS, r.kind)}</td><td>{r.cost} 分</td></tr>"
        for r in sorted(book.rewards, key=lambda r: r.cost))
    return f"<table><thead><tr><th>奖品</th><th>类型</th><th>所需积分</th></tr></thead><tbody>{rows}</tbody></table>"



