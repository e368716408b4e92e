"""Cell values as staff really type them → typed Python values.

calamine and openpyxl return different values for the same cell (9.0 vs 9,
'' vs None, date vs datetime); this module is the one place that evens them out.
A coercer returns the value, None for an empty cell, or raises BadValue.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Callable

from kit.schema import Column, Kind, choice_lookup, normalize_label
from kit.sources import CellError

EXCEL_EPOCH = dt.date(1899, 12, 30)
_SERIAL_RANGE = (36526, 73050)
MAX_DIGITS = 9  # no count, point value or quantity reaches a billion  # 2000-01-01 .. 2099-12-31 as Excel serial days


class BadValue(Exception):
    def __init__(self, code: str, **params: object):
        super().__init__(code)
        self.code = code
        self.params = params


Coercer = Callable[[object], object]


def is_empty(raw: object) -> bool:
    return raw is None or (raw.__class__ is str and not raw.strip())


def fold(raw: object) -> str:
    """Full-width digits, letters and punctuation → ASCII; spaces trimmed."""
    return unicodedata.normalize("NFKC", str(raw)).strip()


def shown(raw: object) -> str:
    """How a raw value reads in a message."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.strftime("%Y-%m-%d %H:%M")
    if isinstance(raw, (dt.date, dt.time)):
        return raw.isoformat()
    return str(raw).strip()


def to_text(raw: object) -> str:
    if raw.__class__ is str:
        return raw.strip()
    return shown(raw)


def to_id(raw: object) -> str:
    if raw.__class__ is str and raw.isascii():  # NFKC leaves ASCII as it is
        return raw.strip()
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return fold(shown(raw))


def _decimal(raw: object) -> Decimal:
    if raw.__class__ is bool or isinstance(raw, (dt.date, dt.time, dt.timedelta)):
        raise BadValue("bad-number", value=shown(raw))
    if isinstance(raw, float):
        value = Decimal(repr(raw))  # shortest repr: 1.1 stays 1.1
    elif isinstance(raw, int):
        value = Decimal(raw)
    else:
        text = fold(raw).replace(",", "").replace(" ", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise BadValue("bad-number", value=shown(raw)) from None
    if not value.is_finite():
        raise BadValue("bad-number", value=shown(raw))
    if value.adjusted() >= MAX_DIGITS:  # before any int(): 1e999999 would take minutes
        raise BadValue("number-too-large", value=shown(raw), limit=f"{10 ** MAX_DIGITS - 1:,}")
    return value


def to_decimal(raw: object) -> Decimal:
    value = _decimal(raw)
    return Decimal(int(value)) if value == value.to_integral_value() else value


def to_int(raw: object) -> int:
    value = _decimal(raw)
    if value != value.to_integral_value():
        raise BadValue("not-integer", value=shown(raw))
    return int(value)


_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_DATE_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def to_date(raw: object) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if raw.__class__ is not bool and isinstance(raw, (int, float)):
        if float(raw).is_integer() and _SERIAL_RANGE[0] <= raw <= _SERIAL_RANGE[1]:
            return EXCEL_EPOCH + dt.timedelta(days=int(raw))
        text = shown(raw)
    elif isinstance(raw, str):
        text = fold(raw)
    else:
        raise BadValue("bad-date", value=shown(raw))
    match = _DATE_TEXT.match(text) or _DATE_DIGITS.match(text)
    if not match:
        raise BadValue("bad-date", value=shown(raw))
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise BadValue("bad-date", value=shown(raw)) from None


_TIME_TEXT = re.compile(r"^(\d{1,2})\s*[:点时]\s*(\d{1,2})?\s*(?:[:分]\s*(\d{1,2})?\s*秒?)?$")


def to_time(raw: object) -> dt.time:
    if isinstance(raw, dt.datetime):
        return raw.time()
    if isinstance(raw, dt.time):
        return raw
    if isinstance(raw, dt.timedelta) and dt.timedelta(0) <= raw < dt.timedelta(days=1):
        return (dt.datetime.min + raw).time()
    if isinstance(raw, float) and 0 <= raw < 1:  # a time cell without its format
        seconds = round(raw * 86400)
        if seconds < 86400:
            return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    if isinstance(raw, str):
        match = _TIME_TEXT.match(fold(raw))
        if match:
            hour, minute, second = (int(g) if g else 0 for g in match.groups())
            if hour < 24 and minute < 60 and second < 60:
                return dt.time(hour, minute, second)
    raise BadValue("bad-time", value=shown(raw))


def _choice_coercer(column: Column) -> Coercer:
    table = choice_lookup(column.choices)
    options = "、".join(c.zh for c in column.choices)
    code = "bad-yes-no" if column.kind is Kind.BOOL else "bad-choice"

    def coerce(raw: object) -> object:
        key = to_id(raw) if isinstance(raw, (int, float)) else raw
        found = table.get(normalize_label(key))
        if found is None:
            raise BadValue(code, value=shown(raw), options=options)
        return found == "yes" if column.kind is Kind.BOOL else found

    return coerce


def to_year(raw: object) -> int:
    if isinstance(raw, dt.date):
        return raw.year
    try:
        year = to_int(raw)
    except BadValue:
        raise BadValue("bad-year", value=shown(raw)) from None
    if not 1900 <= year <= 2100:
        raise BadValue("bad-year", value=shown(raw))
    return year


_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}\d{7,8}|\d{7,8})$")


def to_phone(raw: object) -> str:
    text = re.sub(r"[\s\-()（）]", "", to_id(raw))
    if text.startswith("+86"):
        text = text[3:]
    if not _PHONE.match(text):
        raise BadValue("bad-phone", value=shown(raw))
    return text


def to_token(raw: object) -> str:
    from kit.tokens import normalize

    token = normalize(to_text(raw))
    if token is None:
        raise BadValue("bad-card-token", value=shown(raw))
    return token


_PLAIN: dict[Kind, Coercer] = {
    Kind.TEXT: to_text,
    Kind.ID: to_id,
    Kind.INT: to_int,
    Kind.DECIMAL: to_decimal,
    Kind.DATE: to_date,
    Kind.TIME: to_time,
    Kind.YEAR: to_year,
    Kind.PHONE: to_phone,
    Kind.TOKEN: to_token,
}


def coercer_for(column: Column) -> Coercer:
    """The column's coercer; a formula-error cell is a formula-error problem.

    No memo here: kit.parse coerces each distinct value of a column once."""
    kind = _choice_coercer(column) if column.kind in (Kind.BOOL, Kind.CHOICE) else _PLAIN[column.kind]

    def coerce(raw: object) -> object:
        if raw.__class__ is CellError:
            raise BadValue("formula-error", value=raw.text)
        return kind(raw)

    return coerce
