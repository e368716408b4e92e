"""Located tables → typed records and cell-level problems.

A row with an error in any cell becomes no record: errors exclude their row
from every total. Warnings keep the row (the bad cell reads as empty).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from kit import model
from kit.problems import Problem, problem
from kit.schema import SETTINGS, Kind, Setting, labels, normalize_label
from kit.tables import Table, Tables
from kit.values import BadValue, coercer_for, is_empty, shown, to_decimal, to_int, to_text

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
    return Parsed(model.Book(settings=settings, **parts), problems, dropped)


def data_rows(table: Table):
    """(spreadsheet row number, raw row) for every row below the header."""
    start = table.layout.header_row
    for offset, row in enumerate(table.rows[start:]):
        yield start + offset + 1, row


def _records(table: Table, record_type: type, problems: list[Problem], dropped: dict[str, int]):
    sheet = table.sheet
    id_position = [c.key for c in sheet.columns].index(sheet.id_column) if sheet.id_column else None
    names = [f.name for f in fields(record_type)][1:]
    assert names == [c.key for c in sheet.columns], f"model.{record_type.__name__} ≠ schema"
    plan = [
        (col, table.layout.columns.get(col.key), coercer_for(col))
        for col in sheet.columns
    ]
    located = [index for _, index, _ in plan if index is not None]
    for rownum, row in data_rows(table):
        width = len(row)
        if all(is_empty(row[i]) for i in located if i < width):
            continue
        values: list[object] = []
        bad = False
        for col, index, coerce in plan:
            raw = row[index] if index is not None and index < width else None
            value = None
            if not is_empty(raw):
                try:
                    value = coerce(raw)
                except BadValue as exc:
                    found = problem(exc.code, sheet.key, rownum, col.key, **exc.params)
                    problems.append(found)
                    bad = bad or found.is_error
            if value is None:
                if col.mandatory and (raw is None or is_empty(raw)):
                    problems.append(problem("missing-value", sheet.key, rownum, col.key, label=col.zh))
                    bad = True
                value = col.default
            values.append(value)
        if not bad:
            yield record_type(rownum, *values)
        elif id_position is not None and values[id_position] is not None:
            dropped.setdefault(values[id_position], rownum)


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
            continue
        try:
            chosen[setting.key] = setting_value(setting, raw_value)
        except BadValue as exc:
            problems.append(problem("bad-setting", "settings", rownum, "value", label=setting.zh,
                                    value=shown(raw_value), reason=exc.params["reason"]))
    return model.Settings(**chosen)


def setting_value(setting: Setting, raw: object) -> object:
    """A setting's typed value; BadValue(reason=...) when out of range."""
    if setting.kind is Kind.TEXT:
        text = to_text(raw)
        if setting.key == "site_url":
            if not text.startswith(("http://", "https://")):
                raise BadValue("bad-setting", reason="网址应以 http:// 或 https:// 开头")
            text = text if text.endswith("/") else text + "/"
        return text
    convert = to_int if setting.kind is Kind.INT else to_decimal
    try:
        value = convert(raw)
    except BadValue:
        kind = "整数" if setting.kind is Kind.INT else "数字"
        raise BadValue("bad-setting", reason=f"应为{kind}") from None
    if setting.minimum is not None and value < setting.minimum:
        raise BadValue("bad-setting", reason=f"不能小于 {setting.minimum}")
    if setting.maximum is not None and value > setting.maximum:
        raise BadValue("bad-setting", reason=f"不能大于 {setting.maximum}")
    return value
