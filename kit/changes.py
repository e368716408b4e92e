"""Coming changes of rules and rewards in plain Chinese, one wording for the menu, the
reward list, training pages, quizzes and the leaflet.

A change is the next version of a code (kit/versions.py) seen from a day: a new 分值 or
所需积分, a new rule or reward, or one that stops. What is in force on the day is what the
pages show; a change is announced beside it, never instead of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kit.model import Reward, Rule
from kit.versions import Versions

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Change:
    day: dt.date  # the first day the change applies
    code: str
    name: str  # what residents call it now (or will, for a new one)
    words: str  # 自 2027-01-01 起 每小时 12 分

    @property
    def line(self) -> str:
        return f"{self.name}：{self.words}"


def rule_changes(rules: Versions[Rule], day: dt.date) -> tuple[Change, ...]:
    """The coming change of every rule, earliest first (then in sheet order)."""
    found = []
    for code in rules.codes():
        now = rules.at(code, day)
        now = now if now is not None and now.active else None  # an inactive rule is not on the menu
        after = rules.next_version(code, day)
        change = _rule_change(code, now, after)
        if change is not None:
            found.append(change)
    return _in_date_order(found)


def _rule_change(code: str, now: Rule | None, after: Rule | None) -> Change | None:
    gap = _gap(now, after)
    if after is None or not after.active:
        if now is None:
            return None
        if after is not None and not gap:
            return Change(after.start_date, code, now.name, f"自 {after.start_date} 起停用")
        if now.end_date is None:
            return None
        return Change(now.end_date + ONE_DAY, code, now.name, _stops(now.end_date))
    if now is None:
        return Change(after.start_date, code, after.name, f"自 {after.start_date} 起新增：{_rule_terms(after)}")
    return _next(code, now, after, _rule_differences(now, after), "用到", "停用")


def _stops(end: dt.date, until: str = "用到", stop: str = "停用") -> str:
    return f"{until} {end}，{end + ONE_DAY} 起{stop}"


def _next(code: str, now, after, parts: list[str], until: str, stop: str) -> Change | None:
    """A version followed by another: what differs from its start, and a pause between them."""
    gap = _gap(now, after)
    if not parts:
        return Change(now.end_date + ONE_DAY, code, now.name, _stops(now.end_date, until, stop)) if gap else None
    words = f"自 {after.start_date} 起 {'，'.join(parts)}"
    if gap:
        return Change(now.end_date + ONE_DAY, code, now.name, f"{until} {now.end_date}；{words}")
    return Change(after.start_date, code, now.name, words)


def _rule_terms(rule: Rule) -> str:
    terms = [f"每{rule.unit} {rule.points} 分"]
    if rule.daily_cap:
        terms.append(f"每日上限 {rule.daily_cap} 分")
    if rule.double_review:
        terms.append("双人审核")
    return "，".join(terms)


def _rule_differences(old: Rule, new: Rule) -> list[str]:
    """What a resident or recorder notices; a new 说明 or 适合人群 alone is no announcement."""
    parts = []
    if new.name != old.name:
        parts.append(f"改名为“{new.name}”")
    if (new.points, new.unit) != (old.points, old.unit):
        parts.append(f"每{new.unit} {new.points} 分")
    if new.daily_cap != old.daily_cap:
        parts.append(f"每日上限 {new.daily_cap} 分" if new.daily_cap else "每日不设上限")
    if new.double_review != old.double_review:
        parts.append("改为双人审核" if new.double_review else "改为一人审核")
    if new.category != old.category:
        parts.append(f"归入“{new.category}”类")
    return parts


def reward_changes(rewards: Versions[Reward], day: dt.date) -> tuple[Change, ...]:
    """The coming change of every reward, earliest first (then in sheet order)."""
    found = []
    for code in rewards.codes():
        now, after = rewards.at(code, day), rewards.next_version(code, day)
        change = _reward_change(code, now, after)
        if change is not None:
            found.append(change)
    return _in_date_order(found)


def _reward_change(code: str, now: Reward | None, after: Reward | None) -> Change | None:
    if after is None:
        if now is None or now.end_date is None:
            return None
        return Change(now.end_date + ONE_DAY, code, now.name, _stops(now.end_date, "可兑换到", "停止兑换"))
    if now is None:
        return Change(after.start_date, code, after.name, f"自 {after.start_date} 起新增，需 {after.cost} 积分")
    parts = []
    if after.name != now.name:
        parts.append(f"改名为“{after.name}”")
    if after.cost != now.cost:
        parts.append(f"需 {after.cost} 积分")
    return _next(code, now, after, parts, "可兑换到", "停止兑换")


def _gap(now, after) -> bool:
    """The version in force ends some days before the next one starts."""
    return (now is not None and after is not None and now.end_date is not None
            and after.start_date > now.end_date + ONE_DAY)


def _in_date_order(changes: list[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: c.day))  # stable: sheet order within a day
