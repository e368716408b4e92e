"""What a sheet's XML holds that calamine does not tell, read in one pass before calamine reads it.

- formula-error cells (t="e", #DIV/0!, #N/A …), which calamine reads as '';
- how far the cells reach. calamine ignores <dimension> and builds one dense block
  from the first to the farthest cell that has a value: a lone value in XFD1048576
  asks for 16,384 × 1,048,576 cells and the process aborts (no exception, no message).
  So the farthest cell must be known before calamine reads the sheet;
- whether some cell may be longer than the character limit.

Excel, WPS, LibreOffice and openpyxl write every cell as <c r="B7" s="3" t="s">. One
regex skips such cells while they stay within the rows and columns seen so far; the
others (further out, error cells, odd attributes such as a second r, which calamine
would take) are read one by one in Python and widen what is skipped. A sheet with
cells that have no r (calamine counts them into place), with prefixed tags such as
<x:c>, or with too many odd cells is followed tag by tag instead, as calamine's XML
reader meets the tags. Every regex here is bounded, so that crafted XML cannot make
one take quadratic time. Bench workbook: about 3 ms per MB of sheet XML, plus inflating.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeTree

from kit.errors import UnsafeWorkbook
from kit.limits import EXCEL_MAX_ROWS, ReadLimits, column_letters

_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_VALUE = re.compile(rb"<v>([^<]{0,40})</v>")
_CARRY = 8192
_LONGEST_CELL_TAG = 4096  # Excel's are under 60 bytes
_ODD_BUDGET = 20_000  # odd cells looked at one by one before following the whole sheet tag by tag
_LONGEST_TAG = 64 * 1024


def sheet_members(workbook_xml: bytes, rels_xml: bytes) -> dict[str, list[str]]:
    """Sheet name → the zip members calamine may read for it (normally exactly one).

    calamine takes the r:id attribute by its literal prefix, ElementTree by namespace;
    every namespaced id is followed so that a renamed prefix hides no sheet."""
    book = SafeTree.fromstring(workbook_xml, forbid_dtd=True)
    rels = SafeTree.fromstring(rels_xml, forbid_dtd=True)
    targets = {rel.get("Id"): rel.get("Target") or "" for rel in rels.iter(f"{{{_REL_NS}}}Relationship")}
    members: dict[str, list[str]] = {}
    for sheet in book.iter():
        if not isinstance(sheet.tag, str) or sheet.tag.rsplit("}", 1)[-1] != "sheet":
            continue
        ids = [value for key, value in sheet.attrib.items() if key.startswith("{") and key.endswith("}id")]
        members.setdefault(sheet.get("name") or "", []).extend(_member(targets[i]) for i in ids if i in targets)
    return members


def _member(target: str) -> str:
    # calamine's rule, without normalising "..": /xl/x → xl/x, xl/x → xl/x, x → xl/x
    if target.startswith("/xl/"):
        return target[1:]
    return target if target.startswith("xl/") else f"xl/{target}"


@dataclass
class SheetScan:
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (0-based row, col) → error text
    rows: int = 0  # 1-based number of the last row calamine can fill, an upper bound
    columns: int = 0  # 1-based number of the last column, an upper bound
    long_text: bool = False  # some cell may hold more than the character limit
    exact: bool = False  # followed tag by tag


def scan_sheet(open_chunks: Callable[[], Iterator[bytes]], limits: ReadLimits) -> SheetScan:
    """One pass over the sheet's XML (open_chunks yields it in pieces; called again if
    the quick pass cannot vouch for the sheet)."""
    quick = _quick_scan(open_chunks(), limits)
    if quick is not None and not _only_area_over(quick, limits):
        return quick
    return _exact_scan(open_chunks(), limits)


def _only_area_over(scan: SheetScan, limits: ReadLimits) -> bool:
    # the quick pass knows the rows to within two steps: near max_cells, count exactly before refusing
    return (scan.rows <= EXCEL_MAX_ROWS and scan.columns <= limits.max_columns
            and scan.rows * scan.columns > limits.max_cells)


_TAG = re.compile(rb"<c((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")  # quoted values may hold ">"
_ATTR = re.compile(rb"([^\s=/>\"']+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+))")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_ROW_STEP = 4096
# a formula with no <v> after it: never calculated (openpyxl and some exports save them
# so); calamine reads it as empty, which a column's default would then quietly fill
_UNCALCULATED = re.compile(rb"<f(?:\s[^<>]*)?(?:/>|>[^<]*</f>)\s*</c>")
UNCALCULATED = "公式没有计算结果（用 Excel 或 WPS 打开后保存即可）"
_AFTER_NAME = frozenset(b" \t\n\r>/")


def _quick_scan(chunks: Iterator[bytes], limits: ReadLimits) -> SheetScan | None:
    """Cells written <c r="B7" s="3" t="s"> within the rows and columns seen so far pass
    one regex untouched; the others (further out, error cells, odd attributes such as a
    second r) are read one by one and widen what passes. None when the sheet must be
    followed tag by tag instead (cells without r, prefixed tags, too many odd cells)."""
    scan = SheetScan()
    windows = _Windows(limits.max_cell_chars)
    rows_ok, columns_ok = _ROW_STEP, 1
    pattern = _odd_cell_pattern(rows_ok, columns_ok)
    odd = seen = 0
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        if _PREFIXED_CELL.search(data):
            return None  # <x:c>: calamine knows cells by local name, whatever the prefix
        tail = len(data) - _CARRY
        position = 0
        while (hit := pattern.search(data, position)) is not None:
            position = hit.end()
            if data[position:position + 1] and data[position] not in _AFTER_NAME:
                continue  # <col>, <cfRule>: not a cell
            tag = _TAG.match(data, hit.start(), hit.start() + _LONGEST_CELL_TAG)
            if tag is None:
                if hit.start() + _LONGEST_CELL_TAG < len(data):
                    raise _abnormal()
                if hit.start() < tail:
                    return None
                break  # whole, next round
            position = tag.end()
            attributes = _attributes(tag.group(1))
            if b"r" not in attributes:
                return None  # placed by counting: follow the sheet tag by tag
            positions = [p for p in map(_position, attributes[b"r"]) if p is not None]
            if not positions:
                continue  # calamine refuses the sheet itself
            far_row, far_column = max(p[0] for p in positions), max(p[1] for p in positions)
            if not tag.group(0).endswith(b"/>"):  # an empty <c/> is no value to calamine
                scan.rows, scan.columns = max(scan.rows, far_row), max(scan.columns, far_column)
            wider = min(max(columns_ok, far_column), limits.max_columns)
            longer = min(max(rows_ok, -(-far_row // _ROW_STEP) * _ROW_STEP + _ROW_STEP), EXCEL_MAX_ROWS)
            if attributes.get(b"t", [b""])[-1] == b"e":
                _error(scan, data, tag.end(), positions[-1])
            elif (wider, longer) == (columns_ok, rows_ok):
                odd += 1  # neither an error nor further out: written some other way
                if odd > _ODD_BUDGET:
                    return None
            if (wider, longer) != (columns_ok, rows_ok):
                rows_ok, columns_ok = longer, wider
                pattern = _odd_cell_pattern(rows_ok, columns_ok)
        _uncalculated(scan, data)
        windows.feed(data, seen - len(carry))
        seen += len(chunk)
        carry = data[-_CARRY:]
    scan.rows, scan.columns = max(scan.rows, rows_ok), max(scan.columns, columns_ok)
    scan.long_text = windows.found
    return scan


def _odd_cell_pattern(rows_ok: int, columns_ok: int) -> re.Pattern:
    """A <c> start tag unlike <c r="B7" s="3" t="s"> within rows_ok × columns_ok, error
    cells included. Only a few hundred different ones are made per sheet; re caches them."""
    # atomic groups and possessive quantifiers take a fifth less time than plain ones;
    # each alternative then has to end where the next part begins (a digit, the quote)
    letters = b"|".join(part + rb"(?=\d)" for part in _up_to_letters(columns_ok).split(b"|"))
    numbers = b"|".join(part + b'"' for part in _up_to_number(rows_ok).split(b"|"))
    return re.compile(rb'<c(?! r="(?>' + letters + rb")(?>" + numbers
                      + rb')(?: s="\d{1,9}+")?+(?: t="(?:s"|n"|inlineStr"|str"|b"|d"))?+/?>)')


def _up_to_number(n: int) -> bytes:
    """A regex for the decimal numbers 1..n, no leading zeros."""
    if n < 1:
        return rb"(?!)"
    digits = str(n)
    parts = [rb"[1-9]\d{0,%d}" % (len(digits) - 2)] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            parts.append(digits[:i].encode() + b"[%d-%d]" % (low, int(digit) - 1) + (rb"\d{%d}" % rest if rest else b""))
    parts.append(digits.encode())
    return b"|".join(parts)


def _up_to_letters(n: int) -> bytes:
    """A regex for the column letters A..(column n), upper case."""
    if n < 1:
        return rb"(?!)"
    letters = column_letters(n).encode()
    if len(letters) == 1:
        return b"[A-%c]" % letters[0]
    parts = [rb"[A-Z]{1,%d}" % (len(letters) - 1)]
    for i, letter in enumerate(letters):
        if letter > ord("A"):
            rest = len(letters) - i - 1
            parts.append(letters[:i] + b"[A-%c]" % (letter - 1) + (rb"[A-Z]{%d}" % rest if rest else b""))
    parts.append(letters)
    return b"|".join(parts)


def _attributes(text: bytes) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    for key, double, single, bare in _ATTR.findall(text):
        found.setdefault(key, []).append(double or single or bare)
    return found


def _position(reference: bytes, column_needed: bool = True) -> tuple[int, int] | None:
    """calamine's reading of a cell reference: (1-based row, 1-based column), or None when
    calamine refuses it. Letters either case, then digits, nothing else; a row's r may
    leave the letters out."""
    split = len(reference.rstrip(b"0123456789"))
    letters, digits = reference[:split], reference[split:]
    if not digits or not digits.strip(b"0") or (letters and not letters.isalpha()) or (column_needed and not letters):
        return None
    if len(digits.lstrip(b"0")) > 12 or len(letters) > 8:
        return 10 ** 12, 26 ** 8  # calamine's u32 arithmetic wraps here: as far as can be, refused
    column = 0
    for letter in letters.upper():
        column = column * 26 + letter - 64
    return int(digits), column


def _uncalculated(scan: SheetScan, data: bytes) -> None:
    for formula in _UNCALCULATED.finditer(data):
        start = data.rfind(b"<c", max(formula.start() - _LONGEST_CELL_TAG, 0), formula.start())
        tag = _TAG.match(data, start, formula.start()) if start != -1 else None
        if tag is None or tag.end() > formula.start():
            continue
        positions = [p for p in map(_position, _attributes(tag.group(1)).get(b"r", [])) if p]
        if positions:
            scan.errors.setdefault((positions[-1][0] - 1, positions[-1][1] - 1), UNCALCULATED)


def _error(scan: SheetScan, data: bytes, after: int, position: tuple[int, int]) -> None:
    value = _VALUE.search(data, after, after + _CARRY)
    scan.errors[(position[0] - 1, position[1] - 1)] = value.group(1).decode("utf-8", "replace") if value else "#错误"


class _Windows:
    """Cells longer than the limit: see kit.limits.long_runs (a cell holds no "<c").
    The windows lie on one grid over the whole member, each looked at once."""

    def __init__(self, max_chars: int):
        self.size = min(max(max_chars // 2, 16), _CARRY)
        self.next = 0  # the first window not yet looked at
        self.found = False

    def feed(self, data: bytes, start: int) -> None:
        """data begins at byte `start` of the member."""
        size = self.size
        first, last = max(self.next, -(-start // size)), (start + len(data)) // size
        self.next = max(self.next, last)
        for window in range(first, last) if not self.found else ():
            begin = window * size - start
            if data.find(b"<c", begin, begin + size) == -1 and _inside_cell(data, begin):
                self.found = True
                return


def _inside_cell(data: bytes, at: int) -> bool:
    # after the last cell there are long stretches without "<c" (merged cells, data
    # validation lists); only a window inside an open <c> counts
    start = max(data.rfind(b"<c ", 0, at), data.rfind(b"<c>", 0, at))
    return start == -1 or data.rfind(b"</c>", 0, at) < start


_OPENER = re.compile(rb"<(?:!--|!\[CDATA\[|\?|(/?)(?:[^\s<>/!?:\"']{1,64}:)?(row|c)(?=[\s/>]|\Z))")
_CLOSER = {b"<!-": b"-->", b"<![": b"]]>"}  # else "<?": "?>"
_BODY = re.compile(rb"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")


def _exact_scan(chunks: Iterator[bytes], limits: ReadLimits) -> SheetScan:
    """Every <row>, </row> and <c> as calamine's XML reader meets them (comments, CDATA and
    processing instructions skipped). A cell without r sits where calamine's counters put
    it; a row's r never moves the count back here, so that a row tag calamine does not
    see can only widen."""
    scan = SheetScan(exact=True)
    windows = _Windows(limits.max_cell_chars)
    row, column = 0, 0  # 0-based, as calamine counts
    seen = 0
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        position, pending = 0, None
        while (opener := _OPENER.search(data, position)) is not None:
            start = opener.start()
            closing, name = opener.group(1), opener.group(2)
            if name is None:  # comment, CDATA or processing instruction
                closer = _CLOSER.get(data[start:start + 3], b"?>")
                end = data.find(closer, opener.end())
                if end == -1:
                    pending = start
                    break
                position = end + len(closer)
                continue
            body = _BODY.match(data, opener.end(), opener.end() + _LONGEST_CELL_TAG)
            if body is None:
                pending = start
                break
            position = body.end()
            if closing:
                if name == b"row":
                    row, column = row + 1, 0
                continue
            attributes = _attributes(body.group(1))
            empty = body.group(1).endswith(b"/")
            if name == b"row":
                numbers = [p[0] for p in (_position(r, column_needed=False) for r in attributes.get(b"r", [])) if p]
                if numbers:
                    row = max(row, max(numbers) - 1)
                if empty:
                    row, column = row + 1, 0
                continue
            positions = [p for p in map(_position, attributes.get(b"r", [])) if p is not None]
            if positions:
                row_at, column_at = positions[-1][0] - 1, positions[-1][1] - 1
                column = column_at
                far_row, far_column = max(p[0] for p in positions), max(p[1] for p in positions)
            else:
                row_at, column_at = row, column
                far_row, far_column = row + 1, column + 1
            if not empty:
                scan.rows, scan.columns = max(scan.rows, far_row), max(scan.columns, far_column)
            if attributes.get(b"t", [b""])[-1] == b"e":
                _error(scan, data, body.end(), (row_at + 1, column_at + 1))
            column += 1
        if pending is not None:
            if len(data) - pending > _LONGEST_TAG:
                raise _abnormal()
            carry = data[pending:]
        else:
            carry = data[max(position, len(data) - 16):]
        _uncalculated(scan, data)
        windows.feed(data, seen - (len(data) - len(chunk)))
        seen += len(chunk)
    scan.long_text = windows.found
    return scan


def _abnormal() -> UnsafeWorkbook:
    return UnsafeWorkbook("工作表里有一个没有结束的或异常长的 XML 标记、注释，Excel、WPS 和 LibreOffice "
                          "不会这样保存，为安全起见不读取。请用 Excel 或 WPS 另存为新的 .xlsx 再试。")
