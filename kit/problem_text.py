"""The problems of a workbook as staff read them in a terminal: errors first, all of them,
sheet by sheet; then warnings, one line per code unless every one is asked for.

Pure: lines of text with a style name; the CLI colours and prints them. Lines are
wrapped at phrase ends (after ，。；： and the like) so that no phrase is cut in two at
80 columns, a Chinese character counting two.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from rich.cells import cell_len

from kit.problems import CATALOGUE, Problem
from kit.schema import SHEETS
from kit.tables import Place

EXAMPLES = 3  # example cells on a warning's summary line
INDENT = "    "
_SHEET_ORDER = {sheet.key: n for n, sheet in enumerate(SHEETS)}
_SHEET_ORDER["settings"] = len(SHEETS)


@dataclass(frozen=True, slots=True)
class Located:
    problem: Problem
    place: Place

    @property
    def spot(self) -> str:
        """F12, or 第 12 行 when the column is not in the file, or nothing."""
        if self.place.cell:
            return self.place.cell
        return f"第 {self.problem.row} 行" if self.problem.row else ""


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    style: str = ""  # "error", "warning", "ok", "heading" or plain


def report(found: list[Located], name: str, width: int = 80, every_warning: bool = False,
           errors_only: bool = False) -> list[Line]:
    errors = _in_sheet_order([f for f in found if f.problem.is_error])
    warnings = _in_sheet_order([f for f in found if not f.problem.is_error])
    if not errors and not warnings:
        return [Line(f"✓ {name}：没有发现问题。", "ok")]
    lines: list[Line] = []
    if errors:
        lines.append(Line(f"错误 {len(errors)} 个（请先改正，有错误的行不计入任何统计）：", "error"))
        lines += _listed(errors, width)
    if errors_only:
        return lines
    if warnings:
        lines.append(Line(f"提醒 {len(warnings)} 个（不影响发布，但请核对）：", "warning"))
        lines += _listed(warnings, width) if every_warning else _grouped(warnings, width)
    summary = f"{name}：{len(errors)} 个错误，{len(warnings)} 个提醒。"
    if errors:
        lines += _wrapped(f"✗ {summary}改正后再运行一次。", width, "", "  ", "error")
    else:
        lines += _wrapped(f"! {summary}提醒不影响发布，但请核对。", width, "", "  ", "warning")
    return lines


def _in_sheet_order(found: list[Located]) -> list[Located]:
    return sorted(found, key=lambda f: (_SHEET_ORDER.get(f.problem.sheet, 99), f.problem.row or 0))


def _listed(found: list[Located], width: int) -> list[Line]:
    """Every problem, under the name of its sheet."""
    by_sheet: dict[str, list[Located]] = defaultdict(list)
    for f in found:
        by_sheet[f.place.sheet].append(f)
    lines = []
    for sheet, here in by_sheet.items():
        lines.append(Line(f"工作表“{sheet}”（{len(here)} 个）", "heading"))
        for f in here:
            lines += _wrapped(f.problem.message, width, f"  {_where(f)}{f.problem.code}：", INDENT)
    return lines


def _where(f: Located) -> str:
    parts = [p for p in (f.spot, f.place.column) if p]
    return " ".join(parts) + " " if parts else ""


def _grouped(found: list[Located], width: int) -> list[Line]:
    """One line per code: its count, its meaning and a few cells; a code seen once in full."""
    by_code: dict[str, list[Located]] = defaultdict(list)
    for f in found:
        by_code[f.problem.code].append(f)
    lines = []
    for code, here in by_code.items():
        if len(here) == 1:
            f = here[0]
            lines += _wrapped(f.problem.message, width, f"  {f.place.sheet} {_where(f)}{code}：", INDENT)
            continue
        meaning = CATALOGUE[code].summary or CATALOGUE[code].title
        lines += _wrapped(f"{meaning}（如 {_examples(here)}）", width, f"  {code} {len(here)} 条：", INDENT)
    if any(len(here) > 1 for here in by_code.values()):
        lines.append(Line("  （kit validate --all 列出每一条提醒）"))
    return lines


def _examples(found: list[Located]) -> str:
    """积分记录 F47、F53、兑换记录 G5: the sheet named before its first cell."""
    shown, sheet = [], None
    for f in found[:EXAMPLES]:
        spot = f.spot or f.place.column or ""
        shown.append(spot if f.place.sheet == sheet else f"{f.place.sheet} {spot}".strip())
        sheet = f.place.sheet
    return "、".join(shown)


# A phrase ends after these; "（" starts one. Spaces inside Chinese text (“应得 60 分”,
# “kit rotate-secret”) hold a phrase together: a line breaks there only when it must.
_PHRASES = re.compile(r"[^，。；：、？！）（]*(?:[，。；：、？！）]+|(?=（)|$)|（")


_ENDS = re.compile(r"[，。；：、？！）]$")


def _phrases(text: str) -> list[str]:
    """Phrases; a parenthesis （…） is one, from its opening to its closing."""
    merged: list[str] = []
    depth = 0
    for p in (p for p in _PHRASES.findall(text) if p):
        glued = p.startswith("（") and merged and not _ENDS.search(merged[-1]) and cell_len(merged[-1]) <= 16
        if (depth or glued) and merged:  # XL01（治安巡逻）stays whole
            merged[-1] += p
        else:
            merged.append(p)
        depth = max(0, depth + p.count("（") - p.count("）"))
    return merged


def _wrapped(text: str, width: int, first: str, indent: str, style: str = "") -> list[Line]:
    """text after the prefix first, continued under indent, broken only at phrase ends
    unless one phrase is wider than a whole line."""
    lines, current = [], first
    start = True
    for phrase in _phrases(text):
        if not start and cell_len(current.rstrip()) + cell_len(phrase.rstrip()) > width:
            lines.append(current.rstrip())
            current = indent
        while cell_len(current) + cell_len(phrase.rstrip()) > width and cell_len(current) < width:
            room = width - cell_len(current)  # a phrase longer than a line: cut where it must
            cut = _fit(phrase, room)
            if cut == 0:
                break
            lines.append(current + phrase[:cut])
            current, phrase = indent, phrase[cut:]
        current += phrase
        start = False
    lines.append(current.rstrip())
    return [Line(line, style) for line in lines]


def _fit(text: str, room: int) -> int:
    """How many characters of text fit in room columns: up to its last space that fits,
    else as many as fit."""
    used = 0
    for n, ch in enumerate(text):
        used += cell_len(ch)
        if used > room:
            space = text.rfind(" ", 0, n)
            return space + 1 if space > 0 else n
    return len(text)
