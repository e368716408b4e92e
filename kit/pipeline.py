"""The readable pipeline: source → tables → parse → checks → references → ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from kit import cache as kept
from kit.checks import run_checks
from kit.ledger import Ledger, compute, gc_paused
from kit.limits import ReadLimits
from kit.model import Book
from kit.parse import RECORD_TYPES, Parsed, parse
from kit.problems import Problem
from kit.references import check_references
from kit.schema import SHEETS, SHEETS_BY_KEY
from kit.sources import Source
from kit.sources.gsheet import SheetSpec
from kit.sources.xlsx import XlsxSource
from kit.tables import Tables, locate

_SHEET_ORDER = {s.key: i for i, s in enumerate(SHEETS)}
_COLUMN_ORDER = {(s.key, c.key): i for s in SHEETS for i, c in enumerate(s.columns)}


@dataclass(frozen=True)
class Validated:
    book: Book  # only rows without errors
    problems: tuple[Problem, ...]  # of the workbook and of the ledger
    tables: Tables  # where each sheet and column sits in the staff's file
    ledger: Ledger  # points as of the date validated

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


def open_source(target: Path | SheetSpec, limits: ReadLimits | None = None) -> Source:
    """A local workbook file, read within limits (kit.toml's [limits]), or a Google Sheet
    named in the project's kit.toml."""
    if isinstance(target, SheetSpec):
        from kit.sources import gsheet

        return gsheet.GSheetSource(target, connect=gsheet.connect)
    return XlsxSource(Path(target), limits or ReadLimits())


FREEZE_FROM = 100_000  # entries; a small book is not worth keeping from the collector
Progress = Callable[[str], None]  # told each step as it starts, with its row counts


def validate(source: Source, as_of: dt.date, progress: Progress = lambda step: None,
             cache: Path | None = None) -> Validated:
    """cache: a folder where the parse of a workbook file is kept by content hash."""
    with gc_paused():  # millions of records and no cycles: the collector would only rescan them
        return _validate(source, as_of, progress, cache)


def _validate(source: Source, as_of: dt.date, progress: Progress, cache: Path | None) -> Validated:
    parsed, tables = _parse(source, progress, cache)
    problems = list(parsed.problems)
    progress(f"检查重复和日期（{len(parsed.book.entries):,} 条积分记录）")
    problems.extend(run_checks(parsed.book, as_of))
    book = exclude_errors(parsed.book, problems, parsed.dropped)
    progress(f"核对编号引用（{len(book.entries):,} 条积分记录、{len(book.residents):,} 位居民）")
    book, found = check_references(book, parsed.dropped)
    problems.extend(found)
    progress(f"计算积分（{len(book.entries):,} 条积分记录、{len(book.redemptions):,} 条兑换）")
    ledger = compute(book, as_of)
    problems.extend(ledger.problems)
    problems.sort(key=problem_order)
    if len(book.entries) >= FREEZE_FROM:
        gc.freeze()  # millions of objects that stay alive: later collections need not rescan them
    return Validated(book, tuple(problems), tables, ledger)


def _parse(source: Source, progress: Progress, cache: Path | None) -> tuple[Parsed, Tables]:
    key = None
    if cache is not None and isinstance(source, XlsxSource):
        key = kept.parsed_key(source.path, repr(source.limits))
    if key is not None:
        progress("查找上次读取的结果")
        found = kept.load_parsed(cache, key)
        if found is not None:
            return found
    tables = locate(source, progress)
    rows = sum(len(t.rows) - t.layout.header_row for t in tables.tables.values())
    progress(f"逐行核对 {rows:,} 行")
    parsed = parse(tables)
    if key is not None:
        progress("保存读取结果，下次更快")
        kept.save_parsed(cache, key, parsed, tables)
    return parsed, tables


def problem_order(p: Problem) -> tuple:
    return (_SHEET_ORDER.get(p.sheet, 99), p.row or 0, _COLUMN_ORDER.get((p.sheet, p.column), 99), p.code)


def exclude_errors(book: Book, problems: list[Problem], dropped: dict[str, dict[str, int]]) -> Book:
    """The book without rows that have errors; their ids are added to dropped."""
    bad: dict[str, set[int]] = {}
    for found in problems:
        if found.is_error and found.row is not None:
            bad.setdefault(found.sheet, set()).add(found.row)
    changes = {}
    for key in RECORD_TYPES:
        if key not in bad:
            continue
        id_column = SHEETS_BY_KEY[key].id_column
        kept = []
        for record in getattr(book, key):
            if record.row not in bad[key]:
                kept.append(record)
            elif id_column:
                dropped.setdefault(key, {}).setdefault(getattr(record, id_column), record.row)
        changes[key] = tuple(kept)
    return dataclasses.replace(book, **changes)
