"""End to end through real xlsx files: start from the valid `base`, change one thing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kit.model import Settings
from kit.pipeline import open_source, validate
from kit.problems import CATALOGUE, Severity
from kit.schema import SHEETS

from tests.conftest import AS_OF, OPTIONAL, where
from tests.test_ledger import LEDGER_CODES

# --- editing helpers: sheets are {name: rows}, row 1 is the header ----------


def cell(sheet: str, row: int, header: str, value: object):
    """Set the cell of spreadsheet row `row` under `header`."""

    def edit(book):
        rows = book[sheet]
        rows[row - 1][rows[0].index(header)] = value

    return edit


def copy_row(sheet: str, row: int, **changes: object):
    """Append a copy of spreadsheet row `row` with some cells changed (by header)."""

    def edit(book):
        rows = book[sheet]
        new = list(rows[row - 1])
        for header, value in changes.items():
            new[rows[0].index(header)] = value
        rows.append(new)

    return edit


def add_row(sheet: str, *values: object):
    def edit(book):
        book[sheet].append(list(values))

    return edit


def add_header(sheet: str, header: str, *values: object):
    """Append a column at the right: its header and one value per data row."""

    def edit(book):
        rows = book[sheet]
        rows[0].append(header)
        for row, value in zip(rows[1:], values):
            row.append(value)

    return edit


def apply(book, edits):
    for edit in edits if isinstance(edits, list) else [edits]:
        edit(book)
    return book




def with_optional(book):
    for name, rows in OPTIONAL.items():
        book[name] = [list(r) for r in rows]


def optional(edit):
    """The edit, made after adding the valid optional sheets."""
    return [with_optional, edit]


# --- every catalogue code, one edit at a time -----------------------------

ENTRIES, RESIDENTS, RULES, STAFF = "积分记录", "居民", "积分规则", "工作人员"
BONUSES, REWARDS, REDEMPTIONS, APPEALS, SETTINGS = "加分规则", "奖品", "兑换记录", "申诉", "设置"
SECRET = "7e57c0de5ec2e7a9b1d4f6083c5a2e91"  # BASE's 化名密钥, on row 4 of 设置
SECRET_ROW = ["化名密钥", SECRET]

CASES = [
    # cell values
    pytest.param(cell(ENTRIES, 2, "居民编号", None),
                 [("missing-value", 2, "resident_id")], id="missing-value"),
    pytest.param(cell(ENTRIES, 2, "日期", "2026-02-30"),
                 [("bad-date", 2, "date")], id="bad-date"),
    pytest.param(cell(ENTRIES, 2, "数量", "#N/A"),
                 [("formula-error", 2, "quantity")], id="formula-error"),
    pytest.param(cell(ENTRIES, 2, "日期", "1999-12-31"),
                 [("date-out-of-range", 2, "date")], id="date-out-of-range"),
    pytest.param(cell(ENTRIES, 2, "时间", "25:00"),
                 [("bad-time", 2, "time")], id="bad-time"),
    pytest.param(cell(ENTRIES, 2, "数量", "两"),
                 [("bad-number", 2, "quantity")], id="bad-number"),
    pytest.param(copy_row(RULES, 2, 编码="GY", 分值=1.5),
                 [("not-integer", 4, "points")], id="not-integer"),
    pytest.param(cell(ENTRIES, 2, "数量", "1e999999"),
                 [("number-too-large", 2, "quantity")], id="number-too-large"),
    pytest.param(copy_row(RESIDENTS, 2, 居民编号="R3", 同意公开姓名="也许"),
                 [("bad-yes-no", 4, "name_consent")], id="bad-yes-no"),
    pytest.param(add_row(STAFF, "S4", "孙丽", "组长"),
                 [("bad-choice", 5, "role")], id="bad-choice"),
    pytest.param(cell(RESIDENTS, 2, "出生年份", "五六年"),
                 [("bad-year", 2, "birth_year")], id="bad-year"),
    pytest.param(cell(RESIDENTS, 2, "手机", "12345"),
                 [("bad-phone", 2, "phone")], id="bad-phone"),
    pytest.param(cell(RESIDENTS, 2, "出生年份", 2013),  # R1 consents; 13 in 2026: never shown by name
                 [("minor-name-consent", 2, "name_consent")], id="minor-name-consent"),
    pytest.param(copy_row(RULES, 2, 编码="GY", 每日上限=-5),
                 [("negative-value", 4, "daily_cap")], id="negative-value"),
    pytest.param(copy_row(RULES, 2, 编码="GY", 分值=0),
                 [("non-positive-points", 4, "points")], id="non-positive-points"),
    pytest.param(cell(ENTRIES, 2, "数量", 0),
                 [("non-positive-quantity", 2, "quantity")], id="non-positive-quantity"),
    pytest.param(optional(cell(REWARDS, 2, "所需积分", 0)),
                 [("non-positive-cost", 2, "cost"), ("invalid-reference", 2, "reward_code")],
                 id="non-positive-cost"),
    pytest.param(optional(cell(BONUSES, 2, "倍数", 0)),
                 [("bad-multiplier", 2, "multiplier")], id="bad-multiplier"),
    # ids and references
    pytest.param(copy_row(ENTRIES, 3),
                 [("duplicate-id", 4, "entry_id")], id="duplicate-id"),
    pytest.param(add_header(ENTRIES, "备注", "又一列", "又一列"),
                 [("duplicate-column", 1, "note")], id="duplicate-column"),
    pytest.param(copy_row(RESIDENTS, 2, 居民编号="R3", 网格="G9"),
                 [("unknown-grid", 4, "grid_id")], id="unknown-grid"),
    pytest.param(cell(ENTRIES, 2, "居民编号", "R9"),
                 [("unknown-resident", 2, "resident_id")], id="unknown-resident"),
    pytest.param(cell(ENTRIES, 2, "规则编码", "ZZ"),
                 [("unknown-rule", 2, "rule_code")], id="unknown-rule"),
    pytest.param(optional(cell(REDEMPTIONS, 2, "奖品编码", "JP9")),
                 [("unknown-reward", 2, "reward_code")], id="unknown-reward"),
    pytest.param(cell(ENTRIES, 2, "登记人", "S9"),
                 [("unknown-staff", 2, "recorder")], id="unknown-staff"),
    pytest.param(optional(cell(APPEALS, 2, "记录编号", "E9")),
                 [("unknown-entry", 2, "entry_id")], id="unknown-entry"),
    pytest.param(optional(cell(BONUSES, 2, "适用类别", "文艺活动")),
                 [("unknown-category", 2, "category")], id="unknown-category"),
    pytest.param(cell(RESIDENTS, 2, "卡号", "tok-1"),
                 [("bad-card-token", 2, "card_token")], id="bad-card-token"),
    pytest.param([cell(RESIDENTS, 2, "卡号", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ"),
                  cell(RESIDENTS, 3, "卡号", "abcdefghijklmnopqrstuvwxyz")],
                 [("duplicate-card-token", 3, "card_token"), ("invalid-reference", 3, "resident_id")],
                 id="duplicate-card-token"),
    pytest.param(cell(RULES, 2, "分值", 1.5),
                 [("not-integer", 2, "points"), ("invalid-reference", 2, "rule_code")],
                 id="invalid-reference"),
    pytest.param(cell(RULES, 2, "启用", "否"),
                 [("inactive-rule", 2, "rule_code")], id="inactive-rule"),
    pytest.param([cell(ENTRIES, 2, "状态", None), cell(ENTRIES, 2, "审核人1", None)],
                 [("blank-entry-status", None, "status")], id="blank-entry-status"),
    # review (separation of duties)
    pytest.param(cell(ENTRIES, 2, "审核人1", None),
                 [("review-missing", 2, "reviewer1")], id="review-missing"),
    pytest.param(cell(ENTRIES, 3, "审核人2", None),
                 [("second-review-missing", 3, "reviewer2")], id="second-review-missing"),
    pytest.param(cell(ENTRIES, 2, "审核人1", "S1"),
                 [("self-review", 2, "reviewer1")], id="self-review"),
    pytest.param(cell(ENTRIES, 3, "审核人2", "S2"),
                 [("same-reviewer", 3, "reviewer2")], id="same-reviewer"),
    pytest.param([cell(ENTRIES, 2, "登记人", "S3"), cell(ENTRIES, 2, "审核人1", "S1")],
                 [("reviewer-not-allowed", 2, "reviewer1")], id="reviewer-not-allowed"),
    # dates
    pytest.param(cell(ENTRIES, 2, "日期", dt.date(2026, 7, 1)),
                 [("future-date", 2, "date")], id="future-date"),
    pytest.param(optional(cell(BONUSES, 2, "结束日期", dt.date(2025, 12, 31))),
                 [("bad-date-range", 2, "end_date")], id="bad-date-range"),
    # versions of a rule or reward (生效日期, 停用日期)
    pytest.param([add_header(RULES, "生效日期", None, None), add_header(RULES, "停用日期", None, None),
                  copy_row(RULES, 2, 分值=12, 生效日期=dt.date(2026, 3, 1))],
                 [("version-overlap", 4, "start_date")], id="version-overlap"),
    pytest.param([add_header(RULES, "生效日期", dt.date(2026, 6, 1), None),
                  add_header(RULES, "停用日期", dt.date(2026, 1, 1), None)],
                 [("version-dates-reversed", 2, "end_date"), ("invalid-reference", 2, "rule_code")],
                 id="version-dates-reversed"),
    pytest.param([add_header(RULES, "停用日期", dt.date(2026, 3, 1), None)],
                 [("rule-not-in-force", 2, "rule_code")], id="rule-not-in-force"),
    pytest.param(optional(add_header(REWARDS, "生效日期", dt.date(2026, 5, 1))),
                 [("reward-not-in-force", 2, "reward_code")], id="reward-not-in-force"),
    # appeals
    pytest.param(optional(cell(APPEALS, 2, "更正分值", None)),
                 [("missing-correction", 2, "corrected_points")], id="missing-correction"),
    pytest.param(optional(cell(APPEALS, 2, "居民编号", "R2")),
                 [("appeal-resident-mismatch", 2, "resident_id")], id="appeal-resident-mismatch"),
    pytest.param(optional(cell(APPEALS, 2, "处理日期", dt.date(2026, 3, 6))),
                 [("resolved-before-appeal", 2, "resolved_date")], id="resolved-before-appeal"),
    pytest.param(optional(cell(APPEALS, 2, "处理日期", None)),
                 [("missing-resolved-date", 2, "resolved_date")], id="missing-resolved-date"),
    # settings
    pytest.param(add_row(SETTINGS, "颜色", "红色"),
                 [("unknown-setting", 5, "key")], id="unknown-setting"),
    pytest.param(add_row(SETTINGS, "公示天数", 0),
                 [("bad-setting", 5, "value")], id="bad-setting"),
    pytest.param(cell(SETTINGS, 4, "值", "short"),
                 [("bad-setting", 4, "value")], id="typed-pseudonym-secret"),
    pytest.param(cell(SETTINGS, 4, "值", "my-community-secret-2026"),
                 [("bad-setting", 4, "value")], id="long-typed-pseudonym-secret"),
    pytest.param(cell(SETTINGS, 4, "值", "0" * 32),
                 [("bad-setting", 4, "value")], id="not-random-pseudonym-secret"),
    pytest.param(cell(SETTINGS, 4, "值", None),
                 [("weak-pseudonym-secret", 4, "value")], id="empty-pseudonym-secret"),
    pytest.param(cell(SETTINGS, 4, "值", "d3e0a9c5b7f14e2d8a6c0b9e7f5d3a1c"),
                 [("public-pseudonym-secret", None, "value")], id="public-pseudonym-secret"),
    pytest.param(add_row(SETTINGS, "名称", "另一个名称"),
                 [("duplicate-setting", 5, "key")], id="duplicate-setting"),
]


def test_base_is_valid(check, base):
    result = check(base)
    assert where(result) == []
    assert [e.entry_id for e in result.book.entries] == ["E1", "E2"]


def test_base_with_every_optional_sheet_is_valid(check, base):
    with_optional(base)
    result = check(base)
    assert where(result) == []
    assert [r.redemption_id for r in result.book.redemptions] == ["D1"]
    assert [a.appeal_id for a in result.book.appeals] == ["A1"]
    assert result.book.bonuses[0].multiplier == 2


@pytest.mark.parametrize("edits, expected", CASES)
def test_one_edit_one_problem(check, base, edits, expected):
    result = check(apply(base, edits))
    assert where(result) == expected
    for found in result.problems:
        assert found.severity is CATALOGUE[found.code].severity
        assert found.message and not found.message.isascii()  # a Chinese message


def test_cases_cover_the_whole_catalogue():
    covered = {code for case in CASES for code, _, _ in case.values[1]}
    assert covered == set(CATALOGUE) - LEDGER_CODES  # those are triggered in test_ledger.py


def test_problems_name_their_sheet(check, base):
    edits = [with_optional, cell(ENTRIES, 3, "居民编号", "R9"), cell(REDEMPTIONS, 2, "居民编号", "R9"),
             add_row(SETTINGS, "颜色", "红色")]
    result = check(apply(base, edits))
    assert [(p.sheet, p.code, p.row, p.column) for p in result.problems] == [
        ("settings", "unknown-setting", 5, "key"),
        ("entries", "unknown-resident", 3, "resident_id"),
        ("redemptions", "unknown-resident", 2, "resident_id"),
    ]


def test_message_shows_the_value_as_typed(check, base):
    result = check(apply(base, cell(ENTRIES, 2, "数量", -10)))
    assert where(result) == [("non-positive-quantity", 2, "quantity")]
    assert "“-10”" in result.problems[0].message


def test_message_for_a_bad_cell_quotes_it(check, base):
    result = check(apply(base, cell(ENTRIES, 2, "日期", "2026-02-30")))
    assert "“2026-02-30”" in result.problems[0].message


def test_formula_error_cell_is_not_read_as_empty(check, base):
    # openpyxl writes "#DIV/0!" as an error cell (t="e"), as Excel saves a broken
    # formula. The cell is not empty: the quantity must not silently become 1.
    result = check(apply(base, cell(ENTRIES, 2, "数量", "#DIV/0!")))
    assert [(p.row, p.column, p.severity) for p in result.problems] == [(2, "quantity", Severity.ERROR)]
    assert [e.entry_id for e in result.book.entries] == ["E2"]


# --- errors exclude their row, warnings keep it --------------------------


def test_entry_with_unknown_resident_is_left_out(check, base):
    result = check(apply(base, cell(ENTRIES, 2, "居民编号", "R9")))
    assert where(result) == [("unknown-resident", 2, "resident_id")]
    assert result.errors == result.problems and result.warnings == ()
    assert [e.entry_id for e in result.book.entries] == ["E2"]


def test_entry_with_a_bad_cell_is_left_out(check, base):
    result = check(apply(base, cell(ENTRIES, 3, "数量", "两")))
    assert [e.entry_id for e in result.book.entries] == ["E1"]


def test_duplicate_keeps_the_first_row_only(check, base):
    result = check(apply(base, copy_row(ENTRIES, 2, 居民编号="R2")))
    assert where(result) == [("duplicate-id", 4, "entry_id")]
    assert [(e.entry_id, e.row) for e in result.book.entries] == [("E1", 2), ("E2", 3)]


def test_warning_keeps_the_row_and_reads_the_cell_as_empty(check, base):
    edits = [cell(RESIDENTS, 2, "手机", "12345"), cell(RESIDENTS, 2, "出生年份", 1800)]
    result = check(apply(base, edits))
    assert where(result) == [("bad-year", 2, "birth_year"), ("bad-phone", 2, "phone")]
    assert result.errors == ()
    r1 = result.book.residents[0]
    assert (r1.resident_id, r1.birth_year, r1.phone) == ("R1", None, None)


def test_future_entry_is_a_warning_and_stays(check, base):
    result = check(apply(base, cell(ENTRIES, 2, "日期", dt.date(2026, 7, 1))))
    assert [p.severity for p in result.problems] == [Severity.WARNING]
    assert [e.entry_id for e in result.book.entries] == ["E1", "E2"]


def test_inactive_rule_entry_is_a_warning_and_stays(check, base):
    result = check(apply(base, cell(RULES, 2, "启用", "否")))
    assert result.errors == ()
    assert [e.entry_id for e in result.book.entries] == ["E1", "E2"]
    assert result.book.rules[0].active is False


def test_rejected_entry_of_an_inactive_rule_is_fine(check, base):
    edits = [cell(RULES, 2, "启用", "否"), cell(ENTRIES, 2, "状态", "驳回")]
    assert where(check(apply(base, edits))) == []


def test_several_problems_come_in_sheet_row_column_order(check, base):
    edits = [cell(ENTRIES, 3, "居民编号", "R9"), cell(ENTRIES, 2, "审核人1", None),
             cell(ENTRIES, 2, "时间", "25:00"), cell(RESIDENTS, 3, "手机", "123")]
    result = check(apply(base, edits))
    assert where(result) == [
        ("bad-phone", 3, "phone"),
        ("bad-time", 2, "time"),
        ("unknown-resident", 3, "resident_id"),
    ]


# --- typed values read from real cells ----------------------------------


def test_values_staff_really_type(check, base):
    edits = [
        cell(ENTRIES, 2, "日期", "2026年3月5日"),
        cell(ENTRIES, 2, "时间", "20：30"),
        cell(ENTRIES, 2, "数量", " ２ "),
        cell(ENTRIES, 3, "日期", "2026/3/6"),
        cell(ENTRIES, 3, "数量", "1.5"),
        cell(RESIDENTS, 2, "同意公开姓名", "Y"),
        cell(RESIDENTS, 3, "同意公开姓名", "×"),
        cell(RESIDENTS, 2, "出生年份", "１９５６"),
        cell(RULES, 2, "分值", " 10 "),
        cell(RULES, 3, "双人审核", "√"),
    ]
    result = check(apply(base, edits))
    assert where(result) == []
    e1, e2 = result.book.entries
    assert (e1.date, e1.time, e1.quantity) == (dt.date(2026, 3, 5), dt.time(20, 30), Decimal(2))
    assert (e2.date, e2.quantity) == (dt.date(2026, 3, 6), Decimal("1.5"))
    assert [r.name_consent for r in result.book.residents] == [True, False]
    assert result.book.residents[0].birth_year == 1956
    assert result.book.rules[0].points == 10 and result.book.rules[1].double_review is True


def test_excel_serial_date_and_fraction_time(check, base):
    edits = [cell(ENTRIES, 2, "日期", 46086), cell(ENTRIES, 2, "时间", 0.5)]
    result = check(apply(base, edits))
    assert where(result) == []
    assert (result.book.entries[0].date, result.book.entries[0].time) == (dt.date(2026, 3, 5), dt.time(12))


def test_excel_true_false_and_1_0_in_yes_no_cells(check, base):
    edits = [cell(RESIDENTS, 2, "同意公开姓名", True), cell(RESIDENTS, 3, "同意公开姓名", 0),
             cell(RULES, 2, "双人审核", False), cell(RULES, 3, "双人审核", 1)]
    result = check(apply(base, edits))
    assert where(result) == []
    assert [r.name_consent for r in result.book.residents] == [True, False]
    assert [r.double_review for r in result.book.rules] == [False, True]


def test_numeric_ids_match_text_ids(check, base):
    edits = [cell(RESIDENTS, 2, "居民编号", 1001), cell(ENTRIES, 2, "居民编号", "1001"),
             cell(RESIDENTS, 2, "手机", 13800000001)]
    result = check(apply(base, edits))
    assert where(result) == []
    assert result.book.entries[0].resident_id == "1001"
    assert result.book.residents[0].phone == "13800000001"


def test_empty_cells_take_their_defaults(check, base):
    edits = [cell(ENTRIES, 2, "数量", None), cell(ENTRIES, 2, "状态", None),
             cell(ENTRIES, 2, "审核人1", None), cell(RULES, 2, "启用", None),
             cell(RULES, 2, "单位", None), cell(RULES, 2, "每日上限", None),
             cell(RESIDENTS, 2, "状态", None), cell(RESIDENTS, 2, "同意公开姓名", None)]
    result = check(apply(base, edits))
    assert where(result) == [("blank-entry-status", None, "status")]  # said once for the sheet
    e1 = result.book.entries[0]
    assert (e1.quantity, e1.status) == (Decimal(1), "pending")
    xl = result.book.rules[0]
    assert (xl.active, xl.unit, xl.daily_cap) == (True, "次", 0)
    r1 = result.book.residents[0]
    assert (r1.status, r1.name_consent) == ("active", False)


# --- finding sheets and columns ------------------------------------------


def english(book):
    """The same workbook with every sheet and header written as its English key."""
    out = {}
    for sheet in SHEETS:
        if sheet.zh in book:
            rows = [list(r) for r in book[sheet.zh]]
            by_zh = {c.zh: c.key for c in sheet.columns}
            rows[0] = [by_zh[h] for h in rows[0]]
            out[sheet.key] = rows
    return out


def test_sheets_and_headers_by_english_key(check, base):
    with_optional(base)
    expected = check(base)
    result = check(english(base))
    assert where(result) == []
    assert result.book == expected.book
    assert result.tables.layout("entries").name == "entries"
    assert result.tables.layout("entries").headers["entry_id"] == "entry_id"


def test_english_keys_find_problems_at_the_same_places(check, base):
    apply(base, cell(ENTRIES, 2, "居民编号", "R9"))
    assert where(check(english(base))) == [("unknown-resident", 2, "resident_id")]


def test_only_one_sheet_in_english(check, base):
    base["entries"] = [["entry_id", "DATE", "Time", "resident_id", "rule_code", "quantity", "note",
                        "recorder", "reviewer1", "reviewer2", "status"]] + base.pop(ENTRIES)[1:]
    result = check(base)
    assert where(result) == []
    assert [e.entry_id for e in result.book.entries] == ["E1", "E2"]


def test_sheet_names_and_headers_ignore_case_and_spaces(check, base):
    rows = base.pop(ENTRIES)
    rows[0] = [" 记录 编号 ", "日期", "Time", "RESIDENT_ID", "规则编码", " 数量", "备注", "登记人",
               "审核人 1", "审核人２", "Status "]
    base["Entries "] = rows
    base["ＳＴＡＦＦ"] = base.pop(STAFF)
    result = check(base)
    assert where(result) == []
    assert [e.reviewer1 for e in result.book.entries] == ["S2", "S2"]
    assert [s.staff_id for s in result.book.staff] == ["S1", "S2", "S3"]


def test_reversed_columns(check, base):
    plain = check(base).book
    for name in (ENTRIES, RESIDENTS, RULES):
        base[name] = [list(reversed(row)) for row in base[name]]
    result = check(base)
    assert where(result) == []
    assert result.book == plain
    assert result.tables.layout("entries").columns["entry_id"] == 10


def test_shuffled_columns_give_the_same_book(check, base):
    plain = check(base).book
    for name in (ENTRIES, RESIDENTS, RULES, STAFF):
        base[name] = [row[1:] + row[:1] for row in base[name]]
    assert check(base).book == plain


def test_extra_columns_are_ignored(check, base):
    plain = check(base).book
    edits = [add_header(ENTRIES, "联系人", "abc", 2026), add_header(RESIDENTS, "身份证号", "x", None)]
    result = check(apply(base, edits))
    assert where(result) == []
    assert result.book == plain


def test_extra_column_is_ignored_even_in_the_middle(check, base):
    plain = check(base).book
    for row, value in zip(base[ENTRIES], ["楼栋", "三栋", "五栋"]):
        row.insert(3, value)
    result = check(base)
    assert where(result) == []
    assert result.book == plain


def test_title_row_above_the_header(check, base):
    apply(base, cell(ENTRIES, 2, "居民编号", "R9"))
    base[ENTRIES].insert(0, ["幸福社区 2026 年积分记录"])
    result = check(base)
    assert result.tables.layout("entries").header_row == 2
    assert where(result) == [("unknown-resident", 3, "resident_id")]
    assert [(e.entry_id, e.row) for e in result.book.entries] == [("E2", 4)]


def test_empty_rows_are_skipped(check, base):
    base[ENTRIES].insert(2, [None] * 11)
    base[ENTRIES].insert(2, [])
    base[ENTRIES].append(["", " ", None])
    result = check(base)
    assert where(result) == []
    assert [(e.entry_id, e.row) for e in result.book.entries] == [("E1", 2), ("E2", 5)]


def test_row_with_only_an_extra_column_filled_is_skipped(check, base):
    apply(base, add_header(ENTRIES, "联系人", None, None))
    base[ENTRIES].append([None] * 11 + ["只写了备注的行"])
    result = check(base)
    assert where(result) == []
    assert len(result.book.entries) == 2


def test_row_numbers_are_spreadsheet_row_numbers(check, base):
    base[ENTRIES].insert(2, [])
    base[ENTRIES].insert(2, [])
    apply(base, cell(ENTRIES, 5, "登记人", "S9"))  # E2, now on row 5
    result = check(base)
    assert where(result) == [("unknown-staff", 5, "recorder")]
    assert [(e.entry_id, e.row) for e in result.book.entries] == [("E1", 2)]


def test_write_only_inline_strings_give_the_same_result(xlsx, base):
    with_optional(base)
    apply(base, [cell(ENTRIES, 3, "居民编号", "R9"), cell(RESIDENTS, 3, "手机", "123"),
                 cell(ENTRIES, 3, "时间", "20:30"), add_row(SETTINGS, "颜色", "红色")])
    normal = validate(open_source(xlsx(base)), AS_OF)
    inline = validate(open_source(xlsx(base, write_only=True)), AS_OF)
    assert where(inline) == where(normal) == [
        ("unknown-setting", 5, "key"),
        ("bad-phone", 3, "phone"),
        ("unknown-resident", 3, "resident_id"),
    ]
    assert inline.problems == normal.problems
    assert inline.book == normal.book


# --- settings ------------------------------------------------------------


def test_settings_are_read(check, base):
    base[SETTINGS] += [["单位", "某某街道综治中心"], ["网站地址", "https://jf.example.cn"],
                       ["衰减比例", "0.8"], ["年度上限", "１０００"], ["最小公布人数", 3],
                       ["公示天数", 14], ["排行榜人数", 10]]
    result = check(base)
    assert where(result) == []
    assert result.book.settings == Settings(
        site_name="幸福社区积分", organization="某某街道综治中心", site_url="https://jf.example.cn/",
        decay_after_months=12, decay_factor=Decimal("0.8"), annual_cap=1000, min_group_size=3,
        notice_days=14, ranking_size=10, pseudonym_secret=SECRET,
    )


def test_setting_keys_by_english_key_or_with_full_width_brackets(check, base):
    base[SETTINGS] = [["项目", "值"], ["积分有效期（月）", 6], [" Annual_Cap ", 500], SECRET_ROW]
    result = check(base)
    assert where(result) == []
    assert (result.book.settings.decay_after_months, result.book.settings.annual_cap) == (6, 500)


def test_settings_sheet_in_english(check, base):
    base["settings"] = [["key", "value"], ["decay_after_months", 0], ["site_name", "Test"],
                        ["pseudonym_secret", SECRET]]
    del base[SETTINGS]
    result = check(base)
    assert where(result) == []
    assert (result.book.settings.decay_after_months, result.book.settings.site_name) == (0, "Test")


def test_unknown_setting_is_a_warning(check, base):
    result = check(apply(base, add_row(SETTINGS, "颜色", "红色")))
    assert [(p.code, p.row, p.column, p.severity) for p in result.problems] == [
        ("unknown-setting", 5, "key", Severity.WARNING)]
    assert "颜色" in result.problems[0].message
    assert result.book.settings.site_name == "幸福社区积分"


@pytest.mark.parametrize("key, value", [
    ("公示天数", 0),
    ("公示天数", "一周"),
    ("积分有效期(月)", 1.5),
    ("衰减比例", 2),
    ("衰减比例", "一半"),
    ("最小公布人数", 0),
    ("年度上限", -1),
    ("网站地址", "jf.example.cn"),
])
def test_bad_setting_value_is_an_error_and_the_default_is_kept(check, base, key, value):
    base[SETTINGS] = [["项目", "值"], [key, value], SECRET_ROW]
    result = check(base)
    assert [(p.code, p.row, p.column, p.severity) for p in result.problems] == [
        ("bad-setting", 2, "value", Severity.ERROR)]
    assert key in result.problems[0].message
    assert result.book.settings == Settings(pseudonym_secret=SECRET)


def test_duplicate_setting_uses_the_first_row(check, base):
    result = check(apply(base, add_row(SETTINGS, "名称", "另一个名称")))
    assert where(result) == [("duplicate-setting", 5, "key")]
    assert "第 2 行" in result.problems[0].message
    assert result.book.settings.site_name == "幸福社区积分"


def test_empty_setting_value_means_default(check, base):
    base[SETTINGS] = [["项目", "值"], ["名称", None], ["公示天数", " "], SECRET_ROW]
    result = check(base)
    assert where(result) == []
    assert result.book.settings == Settings(pseudonym_secret=SECRET)


def test_defaults_when_the_settings_sheet_is_missing(check, base):
    del base[SETTINGS]
    result = check(base)
    # every default holds; only the secret has none, and the site cannot be published without it
    assert where(result) == [("weak-pseudonym-secret", None, "value")]
    assert result.book.settings == Settings()
    assert result.book.settings.decay_after_months == 12
    assert result.book.settings.decay_factor == Decimal("0.5")
    assert result.book.settings.min_group_size == 5


# --- review rules ---------------------------------------------------------


@pytest.mark.parametrize("edits, expected", [
    pytest.param(cell(ENTRIES, 2, "审核人1", None),
                 [("review-missing", 2, "reviewer1")], id="reviewer1-missing"),
    pytest.param(cell(ENTRIES, 2, "审核人1", "S1"),
                 [("self-review", 2, "reviewer1")], id="recorder-reviews-own-entry"),
    pytest.param(cell(ENTRIES, 3, "审核人2", "S1"),
                 [("self-review", 3, "reviewer2")], id="recorder-as-second-reviewer"),
    pytest.param(cell(ENTRIES, 3, "审核人2", "S2"),
                 [("same-reviewer", 3, "reviewer2")], id="reviewer2-same-as-reviewer1"),
    pytest.param([add_row(STAFF, "S4", "孙丽", "登记员"), cell(ENTRIES, 2, "审核人1", "S4")],
                 [("reviewer-not-allowed", 2, "reviewer1")], id="reviewer-is-a-recorder"),
    pytest.param([add_row(STAFF, "S4", "孙丽", "登记员"), cell(ENTRIES, 3, "审核人2", "S4")],
                 [("reviewer-not-allowed", 3, "reviewer2")], id="second-reviewer-is-a-recorder"),
    pytest.param(cell(ENTRIES, 2, "审核人1", "S9"),
                 [("unknown-staff", 2, "reviewer1")], id="reviewer-not-on-staff"),
    pytest.param(cell(ENTRIES, 3, "审核人2", None),
                 [("second-review-missing", 3, "reviewer2")], id="double-review-without-reviewer2"),
    pytest.param([cell(RULES, 2, "双人审核", "是")],
                 [("second-review-missing", 2, "reviewer2")], id="rule-now-needs-double-review"),
    pytest.param([cell(ENTRIES, 3, "审核人1", None), cell(ENTRIES, 3, "审核人2", None)],
                 [("review-missing", 3, "reviewer1"), ("second-review-missing", 3, "reviewer2")],
                 id="no-reviewers-on-double-review"),
])
def test_review_rules(check, base, edits, expected):
    result = check(apply(base, edits))
    assert where(result) == expected
    bad_rows = {row for _, row, _ in expected}
    assert [e.row for e in result.book.entries] == [r for r in (2, 3) if r not in bad_rows]


@pytest.mark.parametrize("status", ["待审核", "驳回", None])
def test_unreviewed_entries_that_are_not_approved_are_fine(check, base, status):
    edits = [cell(ENTRIES, row, header, None) for row in (2, 3) for header in ("审核人1", "审核人2")]
    edits += [cell(ENTRIES, 2, "状态", status), cell(ENTRIES, 3, "状态", status)]
    result = check(apply(base, edits))
    assert where(result) == ([("blank-entry-status", None, "status")] if status is None else [])
    assert [e.entry_id for e in result.book.entries] == ["E1", "E2"]


def test_pending_entry_with_own_review_is_not_checked_yet(check, base):
    edits = [cell(ENTRIES, 2, "状态", "待审核"), cell(ENTRIES, 2, "审核人1", "S1")]
    assert where(check(apply(base, edits))) == []


def test_admin_and_reviewer_may_both_review(check, base):
    edits = [cell(ENTRIES, 2, "审核人1", "S3"), cell(ENTRIES, 3, "审核人1", "S3"),
             cell(ENTRIES, 3, "审核人2", "S2")]
    assert where(check(apply(base, edits))) == []


def test_a_row_with_an_error_is_named_by_the_rows_that_use_it(check, base):
    # R2's own row is wrong (unknown grid): its entry is left out too, and the
    # message points at R2's row instead of claiming R2 does not exist.
    result = check(apply(base, cell(RESIDENTS, 3, "网格", "G9")))
    assert where(result) == [("unknown-grid", 3, "grid_id"), ("invalid-reference", 3, "resident_id")]
    assert "“居民”表第 3 行" in result.problems[1].message
    assert [e.entry_id for e in result.book.entries] == ["E1"]


def test_the_cascade_reaches_appeals(check, base):
    # rule TJ is wrong → entry E2 is left out → an appeal of E2 is named too
    edits = [
        cell(RULES, 3, "分值", "二十"),
        add_row(APPEALS, "A1", dt.date(2026, 3, 7), "R2", "E2", None, "受理中", None, None),
    ]
    book = base | {APPEALS: [list(OPTIONAL[APPEALS][0])]}
    result = check(apply(book, edits))
    assert where(result) == [
        ("bad-number", 3, "points"),
        ("invalid-reference", 3, "rule_code"),
        ("invalid-reference", 2, "entry_id"),
    ]


def test_a_blank_optional_sheet_is_as_good_as_absent(check, base):
    base[REWARDS] = []
    result = check(base)
    assert where(result) == []
    assert result.book.rewards == ()
