"""How numbers and activities read in Chinese text, the same on every page and printout."""

from __future__ import annotations

from decimal import Decimal

from kit.model import Entry, Rule


def plain_number(value: Decimal | int | float) -> str:
    """1.5, 2, 0.75: no trailing zeros, no exponent."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def activity(rule: Rule | None, entry: Entry) -> str:
    """治安巡逻 2 小时"""
    if rule is None:
        return entry.rule_code
    return f"{rule.name} {plain_number(entry.quantity)} {rule.unit}"
