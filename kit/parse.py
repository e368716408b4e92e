"""Located tables → typed records and cell-level problems.

A row with an error in any cell becomes no record: errors exclude their row
from every total. Warnings keep the row (the bad cell reads as empty).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from operator import itemgetter

from kit import model
from kit.problems import Problem, problem
from kit.keys import secret_fault
from kit.site_url import BadAddress, normalize_site_url
from kit.schema import SETTINGS, Column, Kind, Setting, labels, normalize_label
from kit.tables import Table, Tables
from kit.values import BadValue, coercer_for, is_empty, shown, to_decimal, to_int, to_text

# settings printed into page heads and mkdocs.yml: plain words only
PAGE_TEXT_SETTINGS = ("site_name", "organization")
UNSAFE_PAGE_TEXT = re.compile("[<>\"'`\\\\{}\x00-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

RECORD_TYPES: dict[str, type] = {
    "grids": model.Grid,
    "staff": model.Staff,
    "residents": model.Resident,
    "rules": model.Rule,
    "bonuses": model.Bonus,
    "entries": model.Entry,
    "rewards": model.Reward,
    "redemptions": model.Redemption,
    "appeals": model.Appeal,
}


@dataclass
class Parsed:
    book: model.Book
    problems: list[Problem]
    dropped: dict[str, dict[str, int]]  # sheet key → {id: row} of rows left out for errors


def parse(tables: Tables) -> Parsed:
    problems: list[Problem] = list(tables.problems)
    dropped: dict[str, dict[str, int]] = {}
    parts: dict[str, object] = {}
    for key, record_type in RECORD_TYPES.items():
        table = tables.tables.get(key)
        records = _records(table, record_type, problems, dropped.setdefault(key, {})) if table else ()
        parts[key] = tuple(records)
    settings_table = tables.tables.get("settings")
    settings = _settings(settings_table, problems) if settings_table else model.Settings()
    if not settings_table:  # every other setting has a default; without a secret nothing is published
        problems.append(problem("weak-pseudonym-secret", "settings", None, "value"))
    return Parsed(model.Book(settings=settings, **parts), problems, dropped)


def data_rows(table: Table):
    """(spreadsheet row number, raw row) for every row below the header."""
    start = table.layout.header_row
    for offset, row in enumerate(table.rows[start:]):
        yield start + offset + 1, row


def _records(table: Table, record_type: type, problems: list[Problem], dropped: dict[str, int]) -> list:
    """Column by column: a million rows hold few distinct dates and codes, so each
    distinct value is coerced once and records are assembled at C speed."""
    sheet = table.sheet
    names = [f.name for f in fields(record_type)][1:]
    assert names == [c.key for c in sheet.columns], f"model.{record_type.__name__} ≠ schema"
    start = table.layout.header_row
    rows = table.rows[start:]
    located = [i for i in table.layout.columns.values() if i is not None]
    if not rows or not located:
        return []
    raw_columns = _columns(rows, located)
    skip = _blank_rows(raw_columns, located)
    found: list[tuple[int, int, Problem]] = []  # (row index, column position, problem)
    bad: set[int] = set()
    columns: list[list[object]] = []
    for position, col in enumerate(sheet.columns):
        index = table.layout.columns.get(col.key)
        if index is None:
            columns.append([col.default] * len(rows))
            continue
        unique = col.key == sheet.id_column or col.kind is Kind.TEXT
        values, failures, empties = (_coerce_cells if unique else _coerce_distinct)(col, raw_columns[index])
        columns.append(values)
        for k, (code, params) in failures.items():
            if k not in skip:
                issue = problem(code, sheet.key, start + k + 1, col.key, **params)
                found.append((k, position, issue))
                if issue.is_error:
                    bad.add(k)
        if col.mandatory:
            for k in empties:
                if k not in skip:
                    found.append((k, position, problem("missing-value", sheet.key, start + k + 1, col.key,
                                                       label=col.zh)))
                    bad.add(k)
    found.sort(key=lambda f: (f[0], f[1]))
    problems.extend(issue for _, _, issue in found)
    problems.extend(_blank_notes(table, raw_columns, skip))
    numbers = range(start + 1, start + 1 + len(rows))
    if not skip and not bad:
        return list(map(record_type, numbers, *columns))
    if sheet.id_column:
        ids = columns[names.index(sheet.id_column)]
        for k in sorted(bad):
            if ids[k] is not None:
                dropped.setdefault(ids[k], start + k + 1)
    left_out = skip | bad
    keep = [k for k in range(len(rows)) if k not in left_out]
    return list(map(record_type, map(numbers.__getitem__, keep),
                    *(list(map(values.__getitem__, keep)) for values in columns)))


def _blank_notes(table: Table, raw_columns: dict[int, Sequence[object]], skip: set[int]) -> Iterator[Problem]:
    """One warning per column that says how many of its cells were left empty: a pending
    entry is ordinary, so a row-by-row warning would bury the errors."""
    start, count = table.layout.header_row, len(table.rows) - table.layout.header_row
    for col in table.sheet.columns:
        if col.blank is None:
            continue
        index = table.layout.columns.get(col.key)
        cells = raw_columns[index] if index is not None else [None] * count
        empty = [k for k, raw in enumerate(cells) if k not in skip and is_empty(raw)]
        if empty:
            rows = "第 " + "、".join(str(start + k + 1) for k in empty[:3]) + " 行"
            yield problem(col.blank, table.sheet.key, None, col.key, count=len(empty), rows=rows)


def _columns(rows: list[list[object]], located: list[int]) -> dict[int, Sequence[object]]:
    """Column index → its cells, for the located columns."""
    width = max(located) + 1
    if min(map(len, rows)) < width:  # Google leaves out trailing empty cells
        rows = [row if len(row) >= width else [*row, *[None] * (width - len(row))] for row in rows]
    if max(map(len, rows)) <= 64:
        every = list(zip(*rows))
        return {i: every[i] for i in located}
    return {i: list(map(itemgetter(i), rows)) for i in set(located)}


def _blank_rows(raw_columns: dict[int, Sequence[object]], located: list[int]) -> set[int]:
    """Row indexes whose located cells are all empty; they are not records."""
    first = raw_columns[located[0]]
    blank = {k for k, raw in enumerate(first) if raw is None or (raw.__class__ is str and not raw.strip())}
    for index in located[1:]:
        if not blank:
            break
        col = raw_columns[index]
        blank = {k for k in blank if is_empty(col[k])}
    return blank


def _coerce_cells(col: Column, raws: Sequence[object]):
    """Cell by cell, for columns whose values rarely repeat (ids, names, notes).

    Returns (typed values, {row index: (code, params)} of failed cells, [empty row indexes];
    the last only for a mandatory column, the one use of it).
    A failed or empty cell reads as the column's default, as a warning leaves it."""
    coerce = coercer_for(col)
    default, mandatory = col.default, col.mandatory
    values: list[object] = []
    failures: dict[int, tuple[str, dict]] = {}
    empties: list[int] = []
    for k, raw in enumerate(raws):
        if raw is None or (raw.__class__ is str and not raw.strip()):
            if mandatory:
                empties.append(k)
            values.append(default)
            continue
        try:
            value = coerce(raw)
        except BadValue as exc:
            failures[k] = (exc.code, exc.params)
            value = None
        values.append(default if value is None else value)
    return values, failures, empties


def _coerce_distinct(col: Column, raws: Sequence[object]):
    """As _coerce_cells, coercing each distinct value once.

    A cell's key is its raw value, or (type, value) when the column mixes yes/no cells
    with numbers (True == 1 == 1.0 as dict keys)."""
    coerce = coercer_for(col)
    kinds = set(map(type, raws))
    keys: Sequence[object] = raws
    if bool in kinds and (int in kinds or float in kinds):
        keys = [(raw.__class__, raw) for raw in raws]
    outcome: dict[object, object] = {}
    failed: dict[object, tuple[str, dict]] = {}
    empty: set[object] = set()
    for key in dict.fromkeys(keys):
        raw = key if keys is raws else key[1]
        value = None
        if is_empty(raw):
            empty.add(key)
        else:
            try:
                value = coerce(raw)
            except BadValue as exc:
                failed[key] = (exc.code, exc.params)
        outcome[key] = col.default if value is None else value
    failures = {k: failed[key] for k, key in enumerate(keys) if key in failed} if failed else {}
    empties = [k for k, key in enumerate(keys) if key in empty] if empty and col.mandatory else []
    return list(map(outcome.__getitem__, keys)), failures, empties


def _settings(table: Table, problems: list[Problem]) -> model.Settings:
    by_label = {label: s for s in SETTINGS for label in labels(s)}
    key_index = table.layout.columns["key"]
    value_index = table.layout.columns["value"]
    chosen: dict[str, object] = {}
    first_row: dict[str, int] = {}
    for rownum, row in data_rows(table):
        raw_key = row[key_index] if key_index < len(row) else ""
        raw_value = row[value_index] if value_index < len(row) else ""
        if is_empty(raw_key):
            continue
        setting = by_label.get(normalize_label(raw_key))
        if setting is None:
            options = "、".join(s.zh for s in SETTINGS)
            problems.append(problem("unknown-setting", "settings", rownum, "key",
                                    value=shown(raw_key), options=options))
            continue
        if setting.key in first_row:
            problems.append(problem("duplicate-setting", "settings", rownum, "key",
                                    label=setting.zh, first_row=first_row[setting.key]))
            continue
        first_row[setting.key] = rownum
        if is_empty(raw_value):
            if setting.key == "pseudonym_secret":
                problems.append(problem("weak-pseudonym-secret", "settings", rownum, "value"))
            continue
        try:
            chosen[setting.key] = setting_value(setting, raw_value)
        except BadValue as exc:
            problems.append(problem("bad-setting", "settings", rownum, "value", label=setting.zh,
                                    value=shown(raw_value), reason=exc.params["reason"]))
    if "pseudonym_secret" not in first_row:
        problems.append(problem("weak-pseudonym-secret", "settings", None, "value"))
    return model.Settings(**chosen)


def setting_value(setting: Setting, raw: object) -> object:
    """A setting's typed value; BadValue(reason=...) when out of range."""
    if setting.kind is Kind.TEXT:
        text = to_text(raw)
        if setting.key == "site_url":
            try:
                return normalize_site_url(text)
            except BadAddress as exc:
                raise BadValue("bad-setting", reason=str(exc)) from None
        if setting.key == "pseudonym_secret" and (fault := secret_fault(text)):
            raise BadValue("bad-setting", reason=fault + "；请运行 kit rotate-secret 换成新的密钥")
        if setting.key in PAGE_TEXT_SETTINGS and UNSAFE_PAGE_TEXT.search(text):
            raise BadValue("bad-setting", reason="不能含有 < > \" ' ` \\ { } 或看不见的控制字符，请只写文字")
        return text
    convert = to_int if setting.kind is Kind.INT else to_decimal
    try:
        value = convert(raw)
    except BadValue as exc:
        kind = "整数" if setting.kind is Kind.INT else "数字"
        reason = "数字太大" if exc.code == "number-too-large" else f"应为{kind}"
        raise BadValue("bad-setting", reason=reason) from None
    if setting.minimum is not None and value < setting.minimum:
        raise BadValue("bad-setting", reason=f"不能小于 {setting.minimum}")
    if setting.maximum is not None and value > setting.maximum:
        raise BadValue("bad-setting", reason=f"不能大于 {setting.maximum}")
    return value
