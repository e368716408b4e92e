"""How numbers read in Chinese text: 1.5, 2, 0.75 — no trailing zeros, no exponent."""

from __future__ import annotations

from decimal import Decimal


def plain_number(value: Decimal | int | float) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
