"""Writing a few cells into an .xlsx/.xlsm by patching the worksheet XML inside the zip.

openpyxl rebuilds the whole workbook and drops what it does not understand (cached values,
WPS images, drawings, sparklines, x14 validations, threaded comments, pivot tables …).
Here every other zip member keeps its name, place, compression and bytes (calcChain.xml
only loses the entries of overwritten formula cells), and in the sheet only the planned
<c> elements change (new ones inserted in order; <dimension> and row spans widen).

defusedxml parses every part looked at (the sheet row by row, in constant memory); the
edits are string surgery on the original text, at places found by regexes whose view of
<sheetData> (every row and cell reference) must equal the parsed one.
"""

from __future__ import annotations

import bisect
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass

from defusedxml import ElementTree as SafeTree

from kit.errors import KitError
from kit.limits import column_letters

_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_QUOTED = "(?:\"[^\"]*\"|'[^']*')"
_ATTRS = rf"(?:[^>\"']|{_QUOTED})*"  # the rest of a tag, '>' allowed in quotes
_TAG = re.compile(rf"<!--.*?-->|<!\[CDATA\[.*?]]>|<\?.*?\?>|<(/?)([\w.:-]+)({_ATTRS})>", re.S)
_ATTR = re.compile(rf"([\w.:-]+)\s*=\s*({_QUOTED})")
_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})")
# characters XML 1.0 cannot hold, CR (XML reads it as LF), and "_" that would start an escape
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_SAVE_AGAIN = "请在 Excel 或 WPS 中打开并保存一次后再运行。"


class PatchError(KitError):
    code = "workbook-unwritable"


@dataclass
class _Span:
    """An element in the sheet text: a <row> (key: its r) or a <c> (key: its column)."""

    key: str | int | None
    start: int
    open_end: int  # end of the start tag
    close_start: int  # start of the end tag; == open_end == end for <x …/>
    end: int


def _position(ref: str | None) -> tuple[int, int] | None:
    """'B7' → (7, 2)."""
    m = _REF.fullmatch(ref or "")
    return (int(m[2]), sum(26 ** i * (ord(ch) - 64) for i, ch in enumerate(reversed(m[1])))) if m else None


def _bounds(ref: str | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """'A1:C3' (or 'B2') → ((1, 1), (3, 3))."""
    ends = [_position(x) for x in (ref or "").split(":")]
    if None in ends:
        return None
    return (min(r for r, _ in ends), min(c for _, c in ends)), (max(r for r, _ in ends), max(c for _, c in ends))


def _ref(row: int, column: int) -> str:
    return f"{column_letters(column)}{row}"


def _attrs(tag: str) -> dict[str, str]:
    return {m.group(1): m.group(2)[1:-1] for m in _ATTR.finditer(tag)}


def _set_attr(tag: str, name: str, value: str) -> str:
    """A start tag with attribute name set to value: in its place if present, else added last."""
    m = re.search(rf"\s{re.escape(name)}\s*=\s*({_QUOTED})", tag)
    if m:
        return f'{tag[:m.start(1)]}"{value}"{tag[m.end(1):]}'
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return f'{tag[:end].rstrip()} {name}="{value}"{tag[end:]}'


def _unusual(sheet: str) -> PatchError:
    return PatchError(f"工作表“{sheet}”的结构不寻常，无法只改动其中几格。{_SAVE_AGAIN}")


def _broken(what: str) -> PatchError:
    return PatchError(f"表格中的“{what}”无法解析，可能已损坏。{_SAVE_AGAIN}")


def _parse(data: bytes, what: str):
    try:
        return SafeTree.fromstring(data, forbid_dtd=True)
    except Exception:  # ParseError, or defusedxml refusing a DTD or entities
        raise _broken(what) from None


def _rels(members: dict[str, bytes], part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, member) of part's relationships; targets resolved against the part's folder."""
    folder, name = posixpath.split(part)
    path = posixpath.join(folder, "_rels", name + ".rels")
    out = []
    for rel in _parse(members[path], path).iter(_REL_NS + "Relationship") if path in members else []:
        target = rel.get("Target") or ""
        if rel.get("TargetMode") != "External":
            target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out.append((rel.get("Id") or "", rel.get("Type") or "", target))
    return out


def _survey(data: bytes, targets: set[tuple[int, int]], sheet: str) -> tuple[list, set[str]]:
    """Parse the sheet row by row: [(row r, [cell r …])], and the targets that hold a formula.
    Refuses a chartsheet, rows or cells without r or out of order, and part of a formula group."""
    rows, formulas, spots = [], set(), sorted(targets)
    events = SafeTree.iterparse(io.BytesIO(data), events=("end",), forbid_dtd=True)
    try:
        for _, row in events:
            if not row.tag.endswith("}row"):
                continue
            ns, cells = row.tag[:-3], list(row)
            c_tag, f_tag = ns + "c", ns + "f"
            rows.append((row.get("r"), [c.get("r") for c in cells if c.tag == c_tag]))
            for c in cells:
                f = c.find(f_tag)
                if f is None:
                    continue
                here = _position(c.get("r"))
                formulas.update([c.get("r")] if here in targets else [])
                box = _bounds(f.get("ref")) if f.get("ref") else None
                if box is None or box[0] == box[1]:
                    continue  # a formula of its own, or a group of one cell
                if f.get("t") == "shared":  # its followers need this cell's formula text
                    hits = [here] if here in targets else []
                else:  # an array formula or a data table: one block
                    hits = [t for t in spots if box[0][0] <= t[0] <= box[1][0] and box[0][1] <= t[1] <= box[1][1]]
                if hits:
                    raise PatchError(f"工作表“{sheet}”的 {_ref(*hits[0])} 格属于从 {c.get('r')} 开始的一组公式"
                                     "（数组公式或共享公式），不能单独改写。请先在 Excel 或 WPS 中删除这组公式后再运行。")
            row.clear()
    except PatchError:
        raise
    except Exception:  # ParseError, or defusedxml refusing a DTD or entities
        raise _broken(sheet) from None
    if not str(events.root.tag).endswith("}worksheet"):
        raise PatchError(f"“{sheet}”不是普通工作表（可能是图表工作表），无法写入。")
    numbers, touched = [int(r) if (r or "").isdigit() else 0 for r, _ in rows], {r for r, _ in targets}
    columns = [[p[1] if p and p[0] == n else 0 for p in map(_position, refs)] if n in touched else [1]
               for n, (_, refs) in zip(numbers, rows)]  # cell order matters only where cells are inserted
    if (any(b <= a for a, b in zip([0] + numbers, numbers)) or any(None in refs for _, refs in rows)
            or any(b <= a for c in columns for a, b in zip([0] + c, c))):
        raise PatchError(f"工作表“{sheet}”里有的行或单元格没有标明位置（或顺序不对），"
                         f"为免写错位置，没有写入。{_SAVE_AGAIN}")
    return rows, formulas


def _scan(text: str, sheet: str) -> tuple[str, dict[str, _Span], list[_Span]]:
    """The root's prefix ('' or 'x:'), <dimension> and <sheetData>, and the rows."""
    prefix, spots, depth = None, {}, 0
    for m in _TAG.finditer(text):  # tag by tag up to <sheetData>
        slash, name, rest = m.groups()
        if name is None:  # comment, processing instruction, CDATA
            continue
        prefix = name[: name.rfind(":") + 1] if prefix is None else prefix
        empty = rest.rstrip().endswith("/")
        if depth == 1 and not slash and name in (prefix + "dimension", prefix + "sheetData"):
            spots[name[len(prefix):]] = _Span(None, m.start(), m.end(), m.end(), m.end())
            if name.endswith("sheetData"):
                break
        depth += -1 if slash else 0 if empty else 1
    data, p = spots.get("sheetData"), re.escape(prefix or "")
    if data is None:
        raise _unusual(sheet)
    if not text[data.start:data.open_end].rstrip(">").rstrip().endswith("/"):
        close = re.compile(rf"</{p}sheetData\s*>").search(text, data.open_end)
        data.close_start, data.end = close.start(), close.end()
    if text.find("<!", data.open_end, data.close_start) >= 0 or text.find("<?", data.open_end, data.close_start) >= 0:
        raise _unusual(sheet)  # comments or CDATA in sheetData: no spreadsheet program writes them
    rows = []
    for m in re.compile(rf"<{p}row(?=[\s/>])({_ATTRS})>|</{p}row\s*>").finditer(text, data.open_end, data.close_start):
        if m.group(1) is None:
            rows[-1].close_start, rows[-1].end = m.start(), m.end()
        else:
            rows.append(_Span(_attrs(m.group(1)).get("r"), m.start(), m.end(), m.end(), m.end()))
    return prefix or "", spots, rows


def _cells(text: str, row: _Span, p: str) -> list[_Span]:
    cells = []
    for m in re.compile(rf"<{re.escape(p)}c(?=[\s/>])({_ATTRS})>").finditer(text, row.open_end, row.close_start):
        close = m if m.group(1).rstrip().endswith("/") else re.compile(rf"</{re.escape(p)}c\s*>").search(text, m.end())
        cells.append(_Span(_position(_attrs(m.group(1)).get("r"))[1], m.start(), m.end(),
                           close.start() if close is not m else m.end(), close.end()))
    return cells


def _check_tables(members: dict[str, bytes], part: str, cells: dict[tuple[int, int], str], sheet: str) -> None:
    """A table's header cells must hold its column names, or Excel repairs the file."""
    for _, kind, target in _rels(members, part):
        if not kind.endswith("/table") or target not in members:
            continue
        table = _parse(members[target], target)
        box = _bounds(table.get("ref"))
        if box is None or table.get("headerRowCount", "1") == "0":
            continue
        names = [c.get("name") for c in table.iter() if str(c.tag).endswith("}tableColumn")]
        for (row, column), text in cells.items():
            index = column - box[0][1]
            if row == box[0][0] and 0 <= index < len(names) and names[index] != text:
                raise PatchError(f"工作表“{sheet}”的 {_ref(row, column)} 格是表格“{table.get('displayName')}”"
                                 "的标题，不能改写。请在 Excel 或 WPS 中修改这个标题后再运行。")


def _cell_xml(text: str, tag: str, p: str, kept: str = "") -> str:
    """A <c> holding text as an inline string, from its start tag (r, s and the rest are kept;
    cm and vm, which describe a formula's or a rich value's metadata, are dropped)."""
    tag = re.sub(rf"\s+(?:cm|vm)\s*=\s*{_QUOTED}", "", tag[:-1].rstrip().rstrip("/") + ">")
    text = _UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{_set_attr(tag, "t", "inlineStr")}<{p}is><{p}t xml:space="preserve">{text}</{p}t></{p}is>{kept}</{p}c>'


def _patch_row(text: str, row: _Span, cells: dict[int, str], p: str, number: int) -> str:
    """The row element with cells ({column: text}) written, new ones inserted in column order."""
    present = _cells(text, row, p)
    new = sorted(set(cells) - {cell.key for cell in present})
    head = text[row.start:row.open_end]
    spans = [tuple(map(int, s.split(":"))) for s in _attrs(head).get("spans", "").split() if s.count(":") == 1]
    if spans and any(not any(a <= c <= b for a, b in spans) for c in new):
        head = _set_attr(head, "spans", f"{min(new[0], *(a for a, _ in spans))}:{max(new[-1], *(b for _, b in spans))}")
    out, pos = [head if row.end > row.open_end else head[:-2].rstrip() + ">"], row.open_end
    for cell in present:
        out.append(text[pos:cell.start])
        while new and new[0] < cell.key:
            out.append(_cell_xml(cells[new[0]], f'<{p}c r="{_ref(number, new.pop(0))}">', p))
        if cell.key in cells:  # of its children <f>, <v>, <is>, <extLst> only the last stays
            kept = re.search(rf"<{re.escape(p)}extLst[\s>].*</{re.escape(p)}extLst\s*>",
                             text[cell.open_end:cell.close_start], re.S)
            out.append(_cell_xml(cells[cell.key], text[cell.start:cell.open_end], p, kept[0] if kept else ""))
        else:
            out.append(text[cell.start:cell.end])
        pos = cell.end
    out.append(text[pos:row.close_start])
    out += [_cell_xml(cells[c], f'<{p}c r="{_ref(number, c)}">', p) for c in new]
    return "".join(out) + (text[row.close_start:row.end] if row.end > row.open_end else f"</{p}row>")


def _patch_sheet(data: bytes, cells: dict[tuple[int, int], str], sheet: str) -> tuple[bytes, set[str]]:
    parsed, formulas = _survey(data, set(cells), sheet)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"工作表“{sheet}”不是 UTF-8 编码。{_SAVE_AGAIN}") from None
    p, spots, rows = _scan(text, sheet)
    cell_refs = re.compile(rf"<{re.escape(p)}c(?=[\s/>])[^>]*?\sr\s*=\s*[\"']([^\"']*)")
    if parsed != [(row.key, cell_refs.findall(text, row.open_end, row.close_start)) for row in rows]:
        raise _unusual(sheet)
    by_row: dict[int, dict[int, str]] = {}
    for (r, c), value in cells.items():
        by_row.setdefault(r, {})[c] = value
    numbers, data = [int(row.key) for row in rows], spots["sheetData"]
    edits, new_rows = [], {}  # (start, end, replacement); insertion point → new rows
    for number, row_cells in sorted(by_row.items()):
        at = bisect.bisect_left(numbers, number)
        if at < len(rows) and numbers[at] == number:
            edits.append((rows[at].start, rows[at].end, _patch_row(text, rows[at], row_cells, p, number)))
            continue
        blank = f'<{p}row r="{number}"/>'
        new = _patch_row(blank, _Span(number, 0, len(blank), len(blank), len(blank)), row_cells, p, number)
        new_rows.setdefault(rows[at].start if at < len(rows) else data.close_start, []).append(new)
    edits += [(at, at, "".join(parts)) for at, parts in new_rows.items()]
    if data.end == data.open_end:  # <sheetData/>: every row is new
        edits = [(data.start, data.end, f"<{p}sheetData>{''.join(new_rows[data.end])}</{p}sheetData>")]
    if "dimension" in spots:
        dimension = text[spots["dimension"].start:spots["dimension"].end]
        box = _bounds(_attrs(dimension).get("ref"))
        if box is not None:
            top, bottom = _bounds(":".join(_ref(*x) for x in [*box, *cells]))
            ref = _ref(*top) + ("" if top == bottom else ":" + _ref(*bottom))
            if ref != _attrs(dimension).get("ref"):
                edits.append((spots["dimension"].start, spots["dimension"].end, _set_attr(dimension, "ref", ref)))
    out, pos = [], 0
    for start, end, replacement in sorted(edits, key=lambda edit: edit[:2]):
        out += [text[pos:start], replacement]
        pos = end
    out.append(text[pos:])
    return "".join(out).encode("utf-8"), formulas


def _drop_from_calc_chain(data: bytes, sheet_id: str, refs: set[str]) -> bytes:
    """calcChain without the entries of refs on sheet_id. An entry without i has the i of
    the one before it (the first one: taken as this sheet), so when a removed entry had i,
    the next kept entry without one gets it written out."""
    _parse(data, "calcChain.xml")
    text = data.decode("utf-8")
    out, pos, current, carry = [], 0, None, None
    for m in re.finditer(rf"<(?:[\w.-]+:)?c\b({_ATTRS})>", text):
        attrs = _attrs(m.group(1))
        current = attrs.get("i", current)
        if current in (None, sheet_id) and attrs.get("r") in refs:
            out.append(text[pos:m.start()])
            pos, carry = m.end(), attrs.get("i", carry)
            continue
        if carry is not None and "i" not in attrs:
            out += [text[pos:m.start()], _set_attr(m.group(), "i", carry)]
            pos = m.end()
        carry = None
    out.append(text[pos:])
    return "".join(out).encode("utf-8")


def patch_cells(data: bytes, sheet_name: str, cells: dict[tuple[int, int], str]) -> bytes:
    """data: the .xlsx/.xlsm file; cells: {(row, column), 1-based: text}. Returns the new file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos, comment = archive.infolist(), archive.comment
            if any(i.flag_bits & 0x1 for i in infos):
                raise PatchError("表格文件设置了密码（已加密），无法写入。请先在 Excel 或 WPS 中取消密码。")
            members = {i.filename: archive.read(i) for i in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError):  # not a zip (an encrypted workbook is an OLE file), or a damaged one
        raise PatchError("这个文件不是 .xlsx 格式，或者设置了密码（已加密），无法写入。"
                         "请在 Excel 或 WPS 中取消密码并另存为 .xlsx 后再运行。") from None
    if len(members) != len(infos):
        raise PatchError("表格文件里有同名的部件，可能被篡改过，无法写入。请用 Excel 或 WPS 另存为新文件。")
    for row, column in cells:
        if not (1 <= row <= 1_048_576 and 1 <= column <= 16_384):
            raise PatchError(f"第 {row} 行第 {column} 列超出了 Excel 表格的范围，无法写入。")
    book = next((t for _, k, t in _rels(members, "") if k.endswith("/officeDocument")), "xl/workbook.xml")
    if book not in members:
        raise PatchError("表格文件里找不到工作簿部分（xl/workbook.xml），可能已损坏。")
    rels = {rid: (kind, target) for rid, kind, target in _rels(members, book)}
    sheet = next((s for s in _parse(members[book], book).iter()
                  if str(s.tag).endswith("}sheet") and s.get("name") == sheet_name), None)
    if sheet is None:
        raise PatchError(f"表格中没有名为“{sheet_name}”的工作表，无法写入。")
    rid = next((v for k, v in sheet.attrib.items() if k.startswith("{") and k.endswith("}id")), None)
    kind, part = rels.get(rid, ("", ""))
    if not kind.endswith("/worksheet"):
        raise PatchError(f"“{sheet_name}”不是普通工作表（可能是图表工作表），无法写入。")
    if part not in members:
        raise PatchError(f"表格文件里找不到工作表“{sheet_name}”的内容（{part}），可能已损坏。")
    if not cells:
        return data
    _check_tables(members, part, cells, sheet_name)
    members[part], formulas = _patch_sheet(members[part], cells, sheet_name)
    chain = next((target for kind, target in rels.values() if kind.endswith("/calcChain")), None)
    if formulas and chain in members:
        members[chain] = _drop_from_calc_chain(members[chain], sheet.get("sheetId") or "", formulas)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in infos:  # a fresh ZipInfo: same name, time, compression and attributes
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
            copy.create_system, copy.comment = info.create_system, info.comment
            archive.writestr(copy, members[info.filename])
        archive.comment = comment
    return out.getvalue()
