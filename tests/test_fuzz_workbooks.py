"""Fuzzing the reader, the checks and the ledger with what staff may type (issue 11, item 5).

Each example starts from the valid workbook of tests/conftest.py (BASE and OPTIONAL:
every sheet), copies some rows, and puts generated values into random cells of
random rows: values for the column's kind (text with control characters, bidi
overrides and 32,767 characters; numbers huge, negative, NaN-like and as text;
dates as Excel serials, in many spellings and impossible; times; yes/no; ids that
exist and ids that do not), values of any other kind, empty cells, formulas without
a cached value and formula errors. The workbook is written as a real xlsx (text as
text cells; characters XML cannot hold escaped as _xHHHH_, as Excel does) and:

* validate() raises nothing but KitError;
* every problem names a sheet key of kit.schema, a spreadsheet row that exists in
  that sheet of the file, below its header (or None), and a column of that sheet
  located in the file (or None); its code is in the catalogue, with that severity,
  and its message is Chinese with every placeholder filled;
* no record of the book comes from a row with an error;
* the ledger is consistent: every balance is the sum of its events, earned,
  redeemed and decayed are the sums of their kinds, and every event comes from a
  record of the book.

The short profile (default, CI) runs in a few seconds. The long one:
    KIT_FUZZ=long .venv/bin/pytest -m slow tests/test_fuzz_workbooks.py
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as hypothesis_event
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from kit.annotate import annotate
from kit.errors import KitError
from kit.pipeline import open_source, validate
from kit.problems import CATALOGUE
from kit.tables import place
from kit.schema import SETTINGS, SHEETS, SHEETS_BY_KEY, Column, Kind, normalize_label
from kit.tokens import ALPHABET, grouped
from tests.conftest import AS_OF, BASE, OPTIONAL, assert_well_formed, write_text_xlsx

settings.register_profile(
    "kit-fuzz-short", max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "kit-fuzz-long", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG_RUN = os.environ.get("KIT_FUZZ") == "long"
SHORT = settings.get_profile("kit-fuzz-short")
LONG = settings.get_profile("kit-fuzz-long")
# Two `kit` processes per example (about a second each): a few examples, and no shrinking
# (hundreds of runs); a failure found here is shrunk by the in-process test.
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
CLI_SHORT = settings(SHORT, max_examples=3, phases=NO_SHRINK)
CLI_LONG = settings(LONG, max_examples=100, phases=NO_SHRINK)
long_only = pytest.mark.skipif(not LONG_RUN, reason="long fuzz profile: KIT_FUZZ=long pytest -m slow")

KIT = Path(sys.executable).with_name("kit")
START: dict[str, list[list[object]]] = copy.deepcopy(BASE) | copy.deepcopy(OPTIONAL)
SHEET_OF = {s.zh: s for s in SHEETS}
assert set(START) == set(SHEET_OF), "the fuzz starts from a workbook with every sheet"


def column_of(sheet_zh: str, header: str) -> Column:
    sheet = SHEET_OF[sheet_zh]
    return next(c for c in sheet.columns if normalize_label(c.zh) == normalize_label(header))


COLUMNS = {name: [column_of(name, h) for h in rows[0]] for name, rows in START.items()}
IDS = {s.key: [str(row[COLUMNS[s.zh].index(s.column(s.id_column))]) for row in START[s.zh][1:]]
       for s in SHEETS if s.id_column}
# what each column refers to: the schema's dropdowns, the appeal's entry, and each sheet's own ids
REFERS = {(s.key, c.key): c.ref[0] for s in SHEETS for c in s.columns if c.ref}
REFERS[("appeals", "entry_id")] = "entries"
REFERS.update({(s.key, s.id_column): s.key for s in SHEETS if s.id_column})


# --- cells that are not plain values -----------------------------------------------------------


@dataclass(frozen=True)
class Formula:
    text: str  # written as a formula without a cached value (calamine reads "")


@dataclass(frozen=True)
class ErrorCell:
    text: str  # a formula error such as #DIV/0!


def _formula_or_error(cell, value) -> bool:
    if isinstance(value, Formula):
        cell.value = value.text
        assert cell.data_type == "f"
        return True
    if isinstance(value, ErrorCell):
        cell.value = value.text
        cell.data_type = "e"
        return True
    return False


def write_book(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    return write_text_xlsx(path, sheets, _formula_or_error)


def reads_as_empty(value: object) -> bool:
    """A written cell that the kit sees as empty."""
    if value is None or isinstance(value, Formula):
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True  # openpyxl writes "nan"/"inf", which calamine does not read as a number
    return isinstance(value, str) and not value.strip()


# --- values ---------------------------------------------------------------------------------------

CONTROL = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]
ODD = ["\u200b", "\ufeff", "\u3000", "\u00a0", "＝", "＋", "－", "＠", "'", '"', "\\", "_", "%", "{", "}",
       "<", "&", "\U0001F600", "𠀀", "é", "ﬁ"]
FULL_WIDTH_DIGITS = [chr(0xFF10 + d) for d in range(10)]
CJK = list("张王李赵钱孙积分记录居民网格通过是否第一巡逻调解")
ASCII = list("ARGSEKJD0123456789 -=+@.:/,;")
chars = st.sampled_from(CJK + ASCII + CONTROL + BIDI + ODD + FULL_WIDTH_DIGITS)

short_text = st.text(chars, max_size=24)
long_text = st.builds(lambda n, c, tail: c * n + tail, st.integers(1_000, 9_000) | st.just(32_767),
                      st.sampled_from(["长", "a", "\u202e", " ", "=", "1"]), short_text)
numbers_as_text = st.sampled_from([
    "12", "１２", "0012", "1,000", "1 000", "1e3", "12.0", "12.5", "-0", "-3", "+4", " 7 ", "٣", "十二", "½",
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-inf", "1e308", "1e309", "-1e308", "1e-400", "0x10", "1_000",
    "9" * 40, "1.7976931348623157e308", "4.9e-324", "１．５", "2 小时",
    "1e5000", "-1e5000", "9" * 5000,  # past float, and past what int() prints (4,300 digits); 1e999999: below
])
empty = st.sampled_from([None, "", " ", "\u3000", "\t", "\n", "\r\n", "\x1f"])
specials = st.sampled_from([
    Formula("=1/0"), Formula("=SUM(A1:A2)"), Formula('=HYPERLINK("http://x")'),
    ErrorCell("#DIV/0!"), ErrorCell("#N/A"), ErrorCell("#VALUE!"), ErrorCell("#REF!"), ErrorCell("#NAME?"),
])
texts = st.one_of(short_text, short_text, long_text, numbers_as_text)

integers = st.one_of(
    st.integers(-1_000, 1_000), st.integers(-2**70, 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, -2**63, 10**20, 10**308]))
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.5, -0.5, 1e308, -1e308, 5e-324, 1e-10, 0.1 + 0.2, 36526.5, 46086.0, 1e15 + 0.3]))
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6)
numbers = st.one_of(integers, floats, decimals)

any_dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
near_dates = st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2101, 12, 31))
datetimes = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 12, 31))
serials = st.one_of(st.integers(-1_000, 3_000_000), st.integers(36_000, 74_000),
                    st.floats(36_000, 74_000, allow_nan=False))
DATE_FORMATS = (
    "{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}.{m}.{d}", "{y}{m:02d}{d:02d}", "{m}/{d}/{y}",
    "{d}.{m}.{y}", "{y}-{m}-{d} 20:30", "{y}-{m:02d}-{d:02d}T08:00:00", "{y} 年 {m} 月 {d} 日", "{y}/{m:02d}/{d:02d}日",
    "{y}年{m}月", "{m}月{d}日", "{y}-{m}-{d}-{d}",
)
FULL_WIDTH = str.maketrans("0123456789-/.:", "０１２３４５６７８９－／．：")


@st.composite
def date_strings(draw) -> str:
    y = draw(st.integers(0, 10_000) | st.integers(1999, 2101))
    m = draw(st.integers(0, 13) | st.integers(1, 12))
    d = draw(st.integers(0, 32) | st.integers(1, 28))
    text = draw(st.sampled_from(DATE_FORMATS)).format(y=y, m=m, d=d)
    return text.translate(FULL_WIDTH) if draw(st.booleans()) else text


bad_dates = st.sampled_from(["2026-02-30", "2026-13-01", "2026-00-10", "0000-01-01", "2026-1-32", "明天",
                             "2026年", "20261301", "2026/2/29", "2024/2/29", "9999-12-31", "昨天 20:30"])
dates = st.one_of(near_dates, near_dates, any_dates, datetimes, serials, date_strings(), bad_dates)

time_strings = st.one_of(
    st.builds("{}:{:02d}".format, st.integers(0, 30), st.integers(0, 75)),
    st.builds("{}:{:02d}:{:02d}".format, st.integers(0, 24), st.integers(0, 60), st.integers(0, 61)),
    st.sampled_from(["8点", "8点30分", "20时", "下午8:30", "8:30 PM", "20：30", "２０：３０", "20.30", "2030",
                     "24:00", "-1:00", ":30", "20:", "25:00", "8点61分", "20:30:15秒"]))
times = st.one_of(st.times(), time_strings, st.floats(-0.5, 1.5, allow_nan=False),
                  st.timedeltas(min_value=dt.timedelta(days=-2), max_value=dt.timedelta(days=3)))

yes_no = st.sampled_from([True, False, 0, 1, 2, 0.0, 1.0, "是", "否", "Y", "n", "yes", "NO", "true", "FALSE",
                          "1", "0", "√", "✓", "×", "x", "对", "错", "也许", " 是 ", "是\u200b", "ｙ", "是的"])
choice_spellings = st.sampled_from(sorted({spelling for s in SHEETS for c in s.columns for ch in c.choices
                                           for spelling in (ch.key, ch.zh, *ch.aliases)}))
choices = st.one_of(choice_spellings, choice_spellings.map(lambda s: f" {s.upper()} "), yes_no, short_text)
years = st.one_of(st.integers(1800, 2200), st.sampled_from(["1956", "１９５６", "五六年", "1956.5", "56", "1956年"]),
                  st.floats(1899, 2101, allow_nan=False), near_dates)
phones = st.one_of(
    st.integers(10**10, 2 * 10**10), st.sampled_from([
        "13800000001", "138 0000 0001", "+86 138-0000-0001", "(010)12345678", "010-12345678", "12345",
        "1380000000１", "１３８００００００01", "+8613800000001", "13800000001 转 8", "110"]))
tokens = st.one_of(
    st.text(st.sampled_from(ALPHABET), min_size=26, max_size=26).map(grouped),
    st.text(st.sampled_from(ALPHABET.lower() + "01-. "), min_size=20, max_size=34),
    short_text)


def id_values(targets: list[str]) -> st.SearchStrategy:
    """Ids that exist (also as staff mistype them: spaces, case, full width) and ids that do not."""
    existing = st.sampled_from(targets) if targets else st.just("X1")
    return st.one_of(
        existing, existing,
        existing.map(lambda s: f" {s} "), existing.map(str.lower), existing.map(lambda s: s + "\u200b"),
        existing.map(lambda s: s.translate(str.maketrans("0123456789RGSEKJDAXLTP", "０１２３４５６７８９ＲＧＳＥＫＪＤＡＸＬＴＰ"))),
        st.sampled_from(["G9", "R99", "S9", "ZZ", "E99", "JP9", "D9", "A9", "1001", "R1R1"]),
        st.sampled_from([1001, 1001.0, 1.5, True]), short_text)


KIND_VALUES = {
    Kind.TEXT: texts, Kind.INT: numbers | numbers_as_text, Kind.DECIMAL: numbers | numbers_as_text,
    Kind.DATE: dates, Kind.TIME: times, Kind.BOOL: yes_no | choices, Kind.CHOICE: choices,
    Kind.YEAR: years, Kind.PHONE: phones, Kind.TOKEN: tokens,
    Kind.ID: id_values(sorted({i for ids in IDS.values() for i in ids})),
}
any_value = st.one_of(*KIND_VALUES.values())
setting_names = st.sampled_from(
    [s.zh for s in SETTINGS] + [s.key for s in SETTINGS] + ["名  称", "NAME", "未知设置", "化名密钥 "]) | short_text


def values_for(sheet_zh: str, column: Column | None) -> st.SearchStrategy:
    """Mostly values of the column's kind; sometimes any value, an empty cell or a formula."""
    if column is None:  # past the last header: a note the kit must ignore
        return any_value
    sheet = SHEET_OF[sheet_zh]
    if sheet.key == "settings":
        own = setting_names if column.key == "key" else any_value
    elif (sheet.key, column.key) in REFERS:
        own = id_values(IDS[REFERS[(sheet.key, column.key)]])
    else:
        own = KIND_VALUES[column.kind]
    return st.one_of(own, own, own, any_value, empty, specials)


# --- workbooks --------------------------------------------------------------------------------

sheet_names = st.sampled_from(sorted(START))
titles = st.one_of(st.sampled_from(["2026年幸福社区积分台账", "说明：请勿修改表头", "第一季度"]), short_text, empty)
extra_headers = st.one_of(  # a label the sheet already has (a duplicated column), or an unknown one
    st.sampled_from(sorted({label for columns in COLUMNS.values() for c in columns for label in (c.zh, c.key)})),
    st.sampled_from(["备注", "=SUM(A1)", "合计", ""]), short_text)


# Plausible rows, so that the ledger and the review rules see more than the two starting
# entries: ids that mostly exist, dates around the as-of date (decay after 12 months),
# every status, reviewers right and wrong, stock and caps that run out.
recent = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 6, 30))
staff_or_none = st.sampled_from(["S1", "S2", "S3", None])
PLAUSIBLE = {
    "积分记录": st.tuples(
        st.integers(3, 30).map("E{}".format), recent, st.sampled_from([None, dt.time(20, 30), dt.time(7, 0)]),
        st.sampled_from(["R1", "R2", "R1", "R9"]), st.sampled_from(["XL", "TJ", "XL", "K3"]),
        st.sampled_from([1, 2, 0.5, 3, 5, 0, None]), st.none(), st.sampled_from(["S1", "S1", "S2", "S3"]),
        st.sampled_from(["S2", "S3", "S2", "S3", None, "S1"]), st.sampled_from([None, None, "S3", "S2", "S1"]),
        st.sampled_from(["通过", "通过", "待审核", "驳回", None])),
    "兑换记录": st.tuples(
        st.integers(2, 30).map("D{}".format), recent, st.sampled_from(["R1", "R2"]),
        st.sampled_from(["JP1", "JP1", "JP2"]), st.sampled_from([1, 1, 2, 5, None]), staff_or_none),
    "申诉": st.tuples(
        st.integers(2, 30).map("A{}".format), recent, st.sampled_from(["R1", "R2"]),
        st.sampled_from(["E1", "E2", "E3", "E4"]), st.none(), st.sampled_from(["受理中", "维持", "更正"]),
        st.sampled_from([None, 0, 5, 100]), st.none() | recent),
    "积分规则": st.tuples(
        st.integers(3, 6).map("K{}".format), st.just("规则"), st.sampled_from(["平安巡防", "环境整治"]),
        st.sampled_from([1, 10, 25]), st.none(), st.sampled_from([None, 0, 15]), st.sampled_from(["是", "否"]),
        st.none(), st.none(), st.sampled_from(["是", "是", "否"])),
    "奖品": st.tuples(
        st.integers(2, 4).map("JP{}".format), st.just("奖品"), st.sampled_from(["物质", "精神", "服务"]),
        st.sampled_from([1, 10, 40]), st.sampled_from([None, 0, 1, 3]), st.none()),
    "设置": st.sampled_from([["积分有效期(月)", 1], ["积分有效期(月)", 6], ["积分有效期(月)", 0], ["衰减比例", 0],
                           ["衰减比例", 1], ["衰减比例", 0.75], ["年度上限", 25], ["年度上限", 0]]).map(tuple),
}


def header_index(rows: list[list[object]], name: str) -> int:
    """0-based index of the header row (title rows may sit above it)."""
    return next(i for i, row in enumerate(rows) if row[:len(START[name][0])] == START[name][0])


@st.composite
def workbooks(draw) -> dict[str, list[list[object]]]:
    """The valid workbook with title rows, an extra header, copied rows, blank rows and
    random cells replaced (the headers the kit needs are left alone: see test_unusable.py)."""
    sheets = copy.deepcopy(START)
    for name in draw(st.lists(sheet_names, max_size=3, unique=True)):  # a title above the header
        sheets[name][:0] = [[draw(titles)] for _ in range(draw(st.integers(1, 2)))]
    for name in draw(st.lists(sheet_names, max_size=2, unique=True)):  # a header after the last one
        sheets[name][header_index(sheets[name], name)].append(draw(extra_headers))
    for name in draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=12)):
        row = list(draw(PLAUSIBLE[name]))
        same = [r for r in sheets[name][1:] if name == "设置" and r[0] == row[0]]
        if same:
            same[0][1] = row[1]  # a setting is changed where it is, not added twice
        else:
            sheets[name].append(row)
    for _ in range(draw(st.integers(0, 4))):  # more rows: duplicates, references to follow
        name = draw(sheet_names)
        rows, first = sheets[name], header_index(sheets[name], name) + 1
        if draw(st.integers(0, 5)) == 0:
            rows.append([None] * len(START[name][0]))  # a blank row inside the data
        else:
            rows.append(list(draw(st.sampled_from(rows[first:]))))
    for _ in range(draw(st.integers(1, 10))):
        name = draw(sheet_names)
        rows, first = sheets[name], header_index(sheets[name], name) + 1
        r = draw(st.integers(first, len(rows)))  # len(rows): a new row below the last
        if r == len(rows):
            rows.append([None] * len(START[name][0]))
        c = draw(st.integers(0, len(COLUMNS[name])))  # the column after the last header, too
        column = COLUMNS[name][c] if c < len(COLUMNS[name]) else None
        row = rows[r]
        row.extend([None] * (c + 1 - len(row)))
        row[c] = draw(values_for(name, column))
    return sheets


# --- the properties -------------------------------------------------------------------------------

VALUE_CODES = {  # problems about the value in the cell they name: that cell is not empty
    "formula-error", "bad-date", "date-out-of-range", "bad-time", "bad-number", "not-integer", "bad-yes-no",
    "bad-choice", "bad-year", "bad-phone", "bad-card-token", "negative-value", "non-positive-points",
    "non-positive-quantity", "non-positive-cost", "bad-multiplier", "duplicate-id", "unknown-grid",
    "unknown-resident", "unknown-rule", "unknown-reward", "unknown-staff", "unknown-entry", "invalid-reference",
    "duplicate-card-token", "unknown-setting", "bad-setting", "duplicate-setting", "future-date",
    "bad-date-range", "resolved-before-appeal", "unknown-category", "inactive-rule", "same-reviewer",
    "self-review", "reviewer-not-allowed", "appeal-resident-mismatch", "appeal-uncounted-entry",
    "duplicate-column",
}
LEDGER_CODES = {"redemption-overdraft", "out-of-stock"}  # found after the book is made
CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"-?\d+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def last_row(rows: list[list[object]]) -> int:
    """The last spreadsheet row holding anything, as written."""
    return max((i for i, row in enumerate(rows, start=1) if any(v is not None for v in row)), default=0)


def check_problems(sheets: dict[str, list[list[object]]], result) -> None:
    for found in result.problems:
        where = (found.sheet, found.row, found.column, found.code, found.message)
        assert found.sheet in SHEETS_BY_KEY, where
        sheet = SHEETS_BY_KEY[found.sheet]
        layout = result.tables.layout(found.sheet)
        rows = sheets[sheet.zh]
        assert layout is not None and layout.header_row == header_index(rows, sheet.zh) + 1, where
        if found.code == "duplicate-column":
            assert found.row == layout.header_row, where
        elif found.row is not None:
            assert isinstance(found.row, int) and layout.header_row < found.row <= last_row(rows), where
        if found.column is not None:
            assert found.column in {c.key for c in sheet.columns}, where
            assert found.column in layout.columns, where  # a column the file has
        if found.code in VALUE_CODES:
            assert found.row is not None and found.column is not None, where
            row = rows[found.row - 1]
            index = layout.columns[found.column]
            if found.code == "duplicate-column":
                index = len(START[sheet.zh][0])  # the extra header, not the first one kept
            assert index < len(row) and not reads_as_empty(row[index]), (where, row)
        code = CATALOGUE.get(found.code)
        assert code is not None, where
        assert found.severity is code.severity, where
        assert found.message.strip() and CJK_CHAR.search(found.message), where
        assert not PLACEHOLDER.search(found.message), where


def check_book(result) -> None:
    """No record comes from a row with an error found before the ledger ran."""
    bad = {(p.sheet, p.row) for p in result.problems if p.is_error and p.code not in LEDGER_CODES}
    for sheet in SHEETS:
        if sheet.key == "settings":
            continue
        for record in getattr(result.book, sheet.key):
            assert (sheet.key, record.row) not in bad, (sheet.key, record)


def check_ledger(result) -> None:
    book, ledger = result.book, result.ledger
    assert set(ledger.accounts) == {r.resident_id for r in book.residents}
    entry_rows = {e.row for e in book.entries}
    appeal_rows = {a.row for a in book.appeals}
    applied = {r.row for r in ledger.redemptions}
    assert applied <= {r.row for r in book.redemptions}
    for row, award in ledger.awards.items():
        assert row == award.entry.row and award.entry in book.entries
    for resident_id, account in ledger.accounts.items():
        by_kind: dict[str, int] = defaultdict(int)
        for e in account.events:
            by_kind[e.kind] += e.points
            assert e.date <= ledger.as_of, e
            assert e.row in {"entries": entry_rows, "appeals": appeal_rows, "redemptions": applied}[e.sheet], e
        assert account.balance == sum(e.points for e in account.events), (resident_id, account)
        assert account.earned == by_kind["earned"] + by_kind["capped"] + by_kind["corrected"], account
        assert account.redeemed == -by_kind["redeemed"] and account.decayed == -by_kind["decayed"], account
        assert set(by_kind) <= {"earned", "capped", "corrected", "redeemed", "decayed"}, account
        assert account.balance >= 0 and 0 <= account.expiring_30d <= account.balance, account
        assert [(e.date) for e in account.events] == sorted(e.date for e in account.events), account


def event(text: str) -> None:
    """Statistics for --hypothesis-show-statistics; nothing outside a hypothesis test."""
    if currently_in_test_context():
        hypothesis_event(text)


def check_workbook(sheets: dict[str, list[list[object]]]) -> None:
    with tempfile.TemporaryDirectory(prefix="kit-fuzz-") as folder:
        path = write_book(Path(folder) / "ledger.xlsx", sheets)
        try:
            result = validate(open_source(path), AS_OF)
        except KitError as stopped:  # allowed: a clear message and exit 2
            event(f"KitError {stopped.code}")
            assert stopped.message.strip() and CJK_CHAR.search(stopped.message), stopped.message
            return
    event(f"{len(result.errors)} errors" if len(result.errors) < 3 else "3+ errors")
    check_problems(sheets, result)
    check_book(result)
    check_ledger(result)


def test_the_start_is_valid_and_every_column_is_fuzzed():
    with tempfile.TemporaryDirectory() as folder:
        result = validate(open_source(write_book(Path(folder) / "ledger.xlsx", START)), AS_OF)
    assert result.problems == ()
    assert {k for k, a in result.ledger.accounts.items() if a.balance} == {"R1", "R2"}
    assert {c.kind for columns in COLUMNS.values() for c in columns} == set(KIND_VALUES) == set(Kind)
    assert {(SHEET_OF[name].key, c.key) for name, columns in COLUMNS.items() for c in columns
            if c.kind is Kind.ID} <= set(REFERS)  # every id column draws ids that exist


def test_excel_text_is_read_back_as_written(tmp_path):
    text = "a\x01b\rc\x1f_x0041_\t=1\u202e"
    path = write_book(tmp_path / "t.xlsx", {"s": [[text, "=1+1"]]})
    from kit.sources.xlsx import XlsxSource

    assert XlsxSource(path).read("s").rows == [[text, "=1+1"]]


def with_cell(sheet: str, header: str, value: object, row: int = 2) -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(START)
    sheets[sheet][row - 1][START[sheet][0].index(header)] = value
    return sheets


# Found by the fuzz: numbers the kit accepts, then cannot print (Python refuses int → str
# past 4,300 digits: the message of capped-entry, redemption-overdraft …) or multiply
# (decimal.Overflow past 10**999999). Each must be a problem, not a crash.
HUGE = [
    ("积分记录", "数量", "1e5000"),  # × 10 points: capped by the daily cap of 40
    ("积分规则", "分值", "1e5000"),
    ("加分规则", "倍数", "1e5000"),
    ("奖品", "所需积分", "1e5000"),  # the redemption is an overdraft
    ("兑换记录", "数量", "1e5000"),
]


@pytest.mark.parametrize("sheet, header, value", HUGE,
                         ids=[f"{SHEET_OF[s].key}-{column_of(s, h).key}-{v}" for s, h, v in HUGE])
def test_huge_numbers_are_problems_not_crashes(sheet, header, value):
    check_workbook(with_cell(sheet, header, value))


def test_huge_exponent_is_a_problem_within_seconds():
    """One cell typed 1e999999: values.to_decimal turns it into a million-digit int and back
    (quadratic: about a minute), then the ledger's rule points × quantity raises
    decimal.Overflow. A workbook of such cells would stop the kit for hours."""
    with tempfile.TemporaryDirectory(prefix="kit-fuzz-") as folder:
        path = write_book(Path(folder) / "ledger.xlsx", with_cell("积分记录", "数量", "1e999999"))
        try:
            ran = subprocess.run([str(KIT), "validate", str(path), "--as-of", AS_OF.isoformat(), "--format", "json"],
                                 capture_output=True, text=True, timeout=15, env={**os.environ, "KIT_DEBUG": ""})
        except subprocess.TimeoutExpired:
            pytest.fail("kit validate took more than 15 s for one cell holding 1e999999")
    assert ran.returncode in (0, 1, 2) and "Traceback" not in ran.stderr, (ran.returncode, ran.stderr)
    if ran.returncode != 2:
        assert ("积分记录", 2, "数量") in {(f["sheet"], f["row"], f["column"]) for f in json.loads(ran.stdout)}


@SHORT
@given(workbooks())
def test_validate_survives_fuzzed_workbooks(sheets):
    check_workbook(sheets)


def cell_values(ws) -> list[tuple]:
    """The sheet's values without the padding openpyxl adds up to its dimension."""
    rows = [tuple(row) for row in ws.values]
    rows = [row[:max((i + 1 for i, v in enumerate(row) if v is not None), default=0)] for row in rows]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def check_annotated(sheets: dict[str, list[list[object]]]) -> None:
    """The annotated copy (kit validate --annotate) is a file Excel opens, with the same values,
    and a comment naming each problem on the cell (or row) the problem names."""
    with tempfile.TemporaryDirectory(prefix="kit-fuzz-") as folder:
        path = write_book(Path(folder) / "ledger.xlsx", sheets)
        source = open_source(path)
        try:
            result = validate(source, AS_OF)
        except KitError:
            return
        out = Path(folder) / "marked.xlsx"
        marked = annotate(path, source, result, out)
        assert (marked > 0) == bool(result.problems) and marked <= len(result.problems)
        assert_well_formed(out)
        copy_, original = openpyxl.load_workbook(out), openpyxl.load_workbook(path)
        assert copy_.sheetnames == original.sheetnames == list(sheets)
        for name in sheets:
            assert cell_values(copy_[name]) == cell_values(original[name]), name
        for found in result.problems:
            spot = place(result.tables, found)
            row = found.row or result.tables.layout(found.sheet).header_row
            cell = copy_[spot.sheet].cell(row=row, column=(spot.column_index or 0) + 1)
            assert cell.comment is not None and f" {found.code}】" in cell.comment.text, (found, spot)


@settings(SHORT, phases=NO_SHRINK)  # two workbook loads and a save per run: shrinking takes minutes
@given(workbooks())
def test_annotated_copy_of_fuzzed_workbooks_is_well_formed(sheets):
    check_annotated(sheets)


@pytest.mark.slow
@long_only
@LONG
@given(workbooks())
def test_validate_survives_fuzzed_workbooks_long(sheets):
    check_workbook(sheets)


@pytest.mark.slow
@long_only
@settings(LONG, max_examples=500)
@given(workbooks())
def test_annotated_copy_of_fuzzed_workbooks_is_well_formed_long(sheets):
    check_annotated(sheets)


# --- through the command line, as staff run it ------------------------------------------------


def check_cli(sheets: dict[str, list[list[object]]]) -> None:
    with tempfile.TemporaryDirectory(prefix="kit-fuzz-") as folder:
        path = write_book(Path(folder) / "台账.xlsx", sheets)
        out = Path(folder) / "批注.xlsx"
        ran = subprocess.run(
            [str(KIT), "validate", str(path), "--as-of", AS_OF.isoformat(), "--format", "json", "--annotate", str(out)],
            capture_output=True, text=True, timeout=120, env={**os.environ, "KIT_DEBUG": ""}, cwd=folder)
        assert "Traceback" not in ran.stderr, ran.stderr
        assert ran.returncode in (0, 1, 2), (ran.returncode, ran.stderr)
        if ran.returncode == 2:
            assert ran.stderr.startswith("无法继续（"), ran.stderr
            return
        found = json.loads(ran.stdout)
        assert (ran.returncode == 1) == any(f["severity"] == "error" for f in found)
        assert {f["sheet"] for f in found} <= set(sheets)
        assert out.is_file() and f"已另存批注副本：{out}" in ran.stderr.replace("\n", "")
        assert_well_formed(out)
        marked = openpyxl.load_workbook(out)
        assert marked.sheetnames == list(sheets)

        ran = subprocess.run([str(KIT), "balances", str(path), "--as-of", AS_OF.isoformat(), "--format", "csv"],
                             capture_output=True, text=True, timeout=120, env={**os.environ, "KIT_DEBUG": ""},
                             cwd=folder)
        assert "Traceback" not in ran.stderr, ran.stderr
        assert ran.returncode == 0, (ran.returncode, ran.stderr)
        rows = list(csv.reader(io.StringIO(ran.stdout.removeprefix("\ufeff"))))
        assert rows[0] == ["居民编号", "姓名", "网格", "获得", "已兑换", "已衰减", "余额", "30天内将衰减"]
        for row in rows[1:]:
            assert len(row) == 8 and all(NUMBER.fullmatch(v) for v in row[3:]), row
            assert int(row[3]) - int(row[4]) - int(row[5]) == int(row[6]) >= 0, row
            for field in row[:3]:
                assert not field.startswith(FORMULA_STARTS), row


@CLI_SHORT
@given(workbooks())
def test_cli_validate_survives_fuzzed_workbooks(sheets):
    check_cli(sheets)


@pytest.mark.parametrize("sheet, header", [("积分记录", "数量"), ("申诉", "更正分值")],
                         ids=["entries-quantity", "appeals-corrected_points"])
def test_cli_huge_numbers_are_not_internal_errors(sheet, header):
    """1e5000 points: kit validate stops on the entry's message; a correction to 1e5000 points
    validates, then kit balances cannot print the balance (exit 3, internal error)."""
    check_cli(with_cell(sheet, header, "1e5000"))


def test_cli_text_output_does_not_send_terminal_escapes(tmp_path):
    """A message quotes the cell; an escape sequence in the cell (ESC ] … BEL sets the window
    title, ESC [2J clears the screen) must not reach the staff's terminal as one."""
    from click.testing import CliRunner

    from kit.cli import cli

    path = write_book(tmp_path / "ledger.xlsx", with_cell("积分记录", "数量", "两\x1b]0;pwned\x07\x1b[2J"))
    result = CliRunner().invoke(cli, ["validate", str(path), "--as-of", AS_OF.isoformat()],
                                env={"COLUMNS": "300", "KIT_DEBUG": None})
    assert result.exit_code == 1, result.output
    assert "bad-number" in result.stdout
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)


@pytest.mark.slow
@long_only
@CLI_LONG
@given(workbooks())
def test_cli_validate_survives_fuzzed_workbooks_long(sheets):
    check_cli(sheets)
