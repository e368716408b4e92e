"""Cell values as staff really type them (PRODUCT.md, "The workbook")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kit.schema import SHEETS_BY_KEY
from kit.values import (
    BadValue,
    coercer_for,
    to_date,
    to_decimal,
    to_id,
    to_int,
    to_phone,
    to_text,
    to_time,
    to_year,
)

MARCH_5 = dt.date(2026, 3, 5)


def column(sheet: str, key: str):
    return SHEETS_BY_KEY[sheet].column(key)


def bad_code(coerce, raw) -> str:
    with pytest.raises(BadValue) as caught:
        coerce(raw)
    return caught.value.code


# --- dates ---------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    dt.date(2026, 3, 5),
    dt.datetime(2026, 3, 5),
    dt.datetime(2026, 3, 5, 20, 30),
    "2026-03-05",
    "2026-3-5",
    "2026/3/5",
    "2026/03/05",
    "2026.3.5",
    "2026年3月5日",
    "2026年03月05日",
    "2026 年 3 月 5 日",
    "20260305",
    20260305,
    20260305.0,
    "２０２６－０３－０５",
    "２０２６年３月５日",
    " 2026-03-05 ",
    "2026-03-05 20:30",
    46086,  # Excel serial number of 2026-03-05
    46086.0,
])
def test_date_spellings(raw):
    assert to_date(raw) == MARCH_5


@pytest.mark.parametrize("raw, expected", [
    (36526, dt.date(2000, 1, 1)),  # first serial accepted
    (73050, dt.date(2099, 12, 31)),  # last serial accepted
    (45658.0, dt.date(2025, 1, 1)),
])
def test_excel_serial_numbers(raw, expected):
    assert to_date(raw) == expected


@pytest.mark.parametrize("raw", [
    "2026-02-30",
    "2026-13-01",
    "20260230",
    "abc",
    "3月5日",
    "2026-03",
    46086.5,  # a serial with a time part is not a plain date
    100,  # far outside the serial range, and not a date as text either
    True,
    dt.time(8, 0),
])
def test_bad_dates(raw):
    assert bad_code(to_date, raw) == "bad-date"


def test_bad_date_keeps_what_was_typed():
    with pytest.raises(BadValue) as caught:
        to_date(" 2026-02-30 ")
    assert caught.value.params == {"value": "2026-02-30"}


# --- times ---------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (dt.time(20, 30), dt.time(20, 30)),
    (dt.datetime(2026, 3, 5, 20, 30), dt.time(20, 30)),
    (dt.timedelta(hours=20, minutes=30), dt.time(20, 30)),
    ("20:30", dt.time(20, 30)),
    ("20：30", dt.time(20, 30)),  # full-width colon
    ("２０：３０", dt.time(20, 30)),
    (" 20:30 ", dt.time(20, 30)),
    ("8:05", dt.time(8, 5)),
    ("08:05", dt.time(8, 5)),
    ("20:30:15", dt.time(20, 30, 15)),
    ("0:00", dt.time(0, 0)),
    ("23:59", dt.time(23, 59)),
    ("20点30分", dt.time(20, 30)),
    ("20点", dt.time(20, 0)),
    (0.5, dt.time(12, 0)),  # a time cell without its format: fraction of a day
    (0.75, dt.time(18, 0)),
    (0.0, dt.time(0, 0)),
    (20.5 / 24, dt.time(20, 30)),
])
def test_time_spellings(raw, expected):
    assert to_time(raw) == expected


@pytest.mark.parametrize("raw", ["25:00", "24:00", "12:60", "abc", "2030", "", 1.5, 20, True])
def test_bad_times(raw):
    assert bad_code(to_time, raw) == "bad-time"


# --- yes / no ------------------------------------------------------------

YES = ["是", "Y", "y", "yes", "YES", "Yes", "true", "TRUE", "1", 1, 1.0, True, "√", "✓", "对", " 是 ", "ｙｅｓ"]
NO = ["否", "N", "n", "no", "NO", "false", "FALSE", "0", 0, 0.0, False, "×", "✗", "x", "错", " 否 "]


@pytest.mark.parametrize("raw", YES)
def test_yes_spellings(raw):
    assert coercer_for(column("residents", "name_consent"))(raw) is True


@pytest.mark.parametrize("raw", NO)
def test_no_spellings(raw):
    assert coercer_for(column("residents", "name_consent"))(raw) is False


@pytest.mark.parametrize("raw", ["也许", "2", 2.0, "yes please", "有"])
def test_bad_yes_no(raw):
    coerce = coercer_for(column("rules", "double_review"))
    with pytest.raises(BadValue) as caught:
        coerce(raw)
    assert caught.value.code == "bad-yes-no"
    assert caught.value.params["options"] == "是、否"


@pytest.mark.parametrize("raw, expected", [
    ("审核员", "reviewer"),
    ("reviewer", "reviewer"),
    ("Reviewer", "reviewer"),
    (" 管理员 ", "admin"),
    ("登记员", "recorder"),
])
def test_choice_by_zh_or_key(raw, expected):
    assert coercer_for(column("staff", "role"))(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("通过", "approved"),
    ("已通过", "approved"),
    ("待审核", "pending"),
    ("驳回", "rejected"),
    ("Rejected", "rejected"),
])
def test_entry_status_aliases(raw, expected):
    assert coercer_for(column("entries", "status"))(raw) == expected


def test_bad_choice_lists_the_options():
    with pytest.raises(BadValue) as caught:
        coercer_for(column("staff", "role"))("组长")
    assert caught.value.code == "bad-choice"
    assert caught.value.params == {"value": "组长", "options": "登记员、审核员、管理员"}


# --- numbers -------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (12, 12),
    (12.0, 12),
    ("12", 12),
    (" 12 ", 12),
    ("１２", 12),
    (" １２ ", 12),
    ("1 2", 12),
    ("1,000", 1000),
    ("1，000", 1000),  # full-width comma
    ("12.0", 12),
    ("-3", -3),
    (0, 0),
])
def test_int_spellings(raw, expected):
    value = to_int(raw)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", [1.5, "1.5", "１.５", 0.1])
def test_int_rejects_fractions(raw):
    assert bad_code(to_int, raw) == "not-integer"


@pytest.mark.parametrize("raw", ["abc", "十二", "12分", "nan", "inf", True, dt.date(2026, 3, 5), dt.time(8, 0)])
def test_bad_numbers(raw):
    assert bad_code(to_int, raw) == "bad-number"
    assert bad_code(to_decimal, raw) == "bad-number"


@pytest.mark.parametrize("raw, expected", [
    (1.1, Decimal("1.1")),  # not 1.100000000000000088817841970012523...
    (0.1, Decimal("0.1")),
    (2.675, Decimal("2.675")),
    ("1.5", Decimal("1.5")),
    ("１.５", Decimal("1.5")),
    (" 1.5 ", Decimal("1.5")),
    (2, Decimal(2)),
    (2.0, Decimal(2)),
    ("2.0", Decimal(2)),
    ("1,000", Decimal(1000)),
    ("1,000.25", Decimal("1000.25")),
])
def test_decimals_keep_exact_values(raw, expected):
    value = to_decimal(raw)
    assert isinstance(value, Decimal)
    assert value == expected


@pytest.mark.parametrize("raw, printed", [
    (2.0, "2"),
    ("2.0", "2"),
    (1.5, "1.5"),
    (10, "10"),
    ("10", "10"),
    (20.0, "20"),
    ("1,000", "1000"),
    (-10, "-10"),
], ids=["float-2.0", "text-2.0", "float-1.5", "int-10", "text-10", "float-20.0", "text-1,000", "int--10"])
def test_decimals_print_as_plain_numbers(raw, printed):
    # Values are shown to staff in problem messages ("数量“-10”应大于 0"),
    # so a whole number must not print in exponent form such as 1E+1.
    assert str(to_decimal(raw)) == printed


# --- ids, text, phones, years -------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (1001.0, "1001"),
    (1001, "1001"),
    ("1001", "1001"),
    (" R1 ", "R1"),
    ("R1", "R1"),
    ("Ｒ１", "R1"),  # full-width letters and digits
    ("E000001", "E000001"),
    (12.5, "12.5"),
])
def test_ids(raw, expected):
    assert to_id(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (" 邻里噪音 ", "邻里噪音"),
    (3.0, "3"),
    (dt.date(2026, 3, 5), "2026-03-05"),
])
def test_text(raw, expected):
    assert to_text(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("13800000001", "13800000001"),
    (13800000001, "13800000001"),
    (13800000001.0, "13800000001"),
    ("138 0000 0001", "13800000001"),
    ("138-0000-0001", "13800000001"),
    ("+86 138-0000-0001", "13800000001"),
    ("１３８００００００01", "13800000001"),
    ("010-12345678", "01012345678"),
    ("(0571)87654321", "057187654321"),
    ("87654321", "87654321"),
])
def test_phones(raw, expected):
    assert to_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "1380000000", "138000000011", "23800000001", "电话", "abc"])
def test_bad_phones(raw):
    assert bad_code(to_phone, raw) == "bad-phone"


@pytest.mark.parametrize("raw, expected", [
    (1956, 1956),
    (1956.0, 1956),
    ("1956", 1956),
    ("１９５６", 1956),
    (" 1956 ", 1956),
    (dt.date(1956, 5, 1), 1956),
    (1900, 1900),
    (2100, 2100),
])
def test_years(raw, expected):
    assert to_year(raw) == expected


@pytest.mark.parametrize("raw", [1899, 2101, 56, "五六年", "1956.5", 1956.5, "abc"])
def test_bad_years(raw):
    assert bad_code(to_year, raw) == "bad-year"


# --- the memoised coercer ------------------------------------------------


def test_cached_bad_value_raises_a_fresh_exception_each_time():
    coerce = coercer_for(column("entries", "date"))
    raised = []
    for _ in range(3):
        with pytest.raises(BadValue) as caught:
            coerce("2026-02-30")
        raised.append(caught.value)
    assert [e.code for e in raised] == ["bad-date"] * 3
    assert [e.params for e in raised] == [{"value": "2026-02-30"}] * 3
    assert raised[0] is not raised[1] and raised[1] is not raised[2]


def test_cached_good_value_is_returned_again():
    coerce = coercer_for(column("entries", "date"))
    assert coerce("2026/3/5") == MARCH_5
    assert coerce("2026/3/5") == MARCH_5
    assert coerce(46086.0) == MARCH_5


def test_memoised_int_keeps_true_apart_from_one():
    coerce = coercer_for(column("rules", "points"))
    assert coerce(1.0) == 1
    assert bad_code(coerce, True) == "bad-number"  # True == 1.0 as a dict key
    assert coerce(1.0) == 1


def test_memoised_int_true_first_then_one():
    coerce = coercer_for(column("rules", "points"))
    assert bad_code(coerce, True) == "bad-number"
    assert coerce(1.0) == 1
    assert coerce(1) == 1


def test_memoised_decimal_keeps_false_apart_from_zero():
    coerce = coercer_for(column("entries", "quantity"))
    assert coerce(0.0) == 0
    assert bad_code(coerce, False) == "bad-number"


def test_memoised_yes_no_handles_true_and_one():
    coerce = coercer_for(column("residents", "name_consent"))
    assert coerce(1.0) is True
    assert coerce(True) is True
    assert coerce(0.0) is False
    assert coerce(False) is False


def test_memoised_ids_and_dates():
    ids = coercer_for(column("entries", "resident_id"))
    assert ids(1001.0) == "1001"
    assert ids(" R1 ") == "R1"
    assert ids(" R1 ") == "R1"
    assert bad_code(coercer_for(column("entries", "time")), "25:00") == "bad-time"


def test_text_columns_are_plain():
    coerce = coercer_for(column("entries", "note"))
    assert coerce(" 邻里噪音 ") == "邻里噪音"
