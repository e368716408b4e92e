"""Writing a few cells into an .xlsx/.xlsm by patching the worksheet XML inside the zip.

openpyxl rebuilds the whole workbook and drops what it does not understand (cached values,
WPS images, drawings, sparklines, x14 validations, threaded comments, pivot tables …).
Here every other zip member keeps its name, place, compression and bytes (calcChain.xml
only loses the entries of overwritten formula cells), and in the sheet only the planned
<c> elements change (new ones inserted in order; <dimension> and row spans widen).
defusedxml parses every part looked at; the edits are string surgery on the original
text, where a tag scanner, checked against the parsed tree, found the cells.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeTree

from kit.errors import KitError
from kit.limits import column_letters

_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_QUOTED = "(?:\"[^\"]*\"|'[^']*')"
_TAG = re.compile(rf"<!--.*?-->|<!\[CDATA\[.*?]]>|<\?.*?\?>|<(/?)([\w.:-]+)((?:[^>\"']|{_QUOTED})*)>", re.S)
_ATTR = re.compile(rf"([\w.:-]+)\s*=\s*({_QUOTED})")
_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]{1,7})")
# characters XML 1.0 cannot hold, CR (XML reads it as LF), and "_" that would start an escape
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_SAVE_AGAIN = "请在 Excel 或 WPS 中打开并保存一次后再运行。"


class PatchError(KitError):
    code = "workbook-unwritable"


@dataclass
class _Cell:
    ref: str | None
    start: int
    open_end: int  # end of the start tag
    end: int
    children: list[tuple[str, int, int]] = field(default_factory=list)  # (local name, start, end)


@dataclass
class _Row:
    r: str | None
    start: int
    open_end: int
    close_start: int  # == open_end == end when the row is <row …/>
    end: int
    cells: list[_Cell] = field(default_factory=list)


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


def _parse(data: bytes, what: str):
    try:
        return SafeTree.fromstring(data, forbid_dtd=True)
    except Exception:  # ParseError, or defusedxml refusing a DTD or entities
        raise PatchError(f"表格中的“{what}”无法解析，可能已损坏。{_SAVE_AGAIN}") from None


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


def _escape(text: str) -> str:
    text = _UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _scan(text: str) -> tuple[str, dict[str, tuple[int, int, bool]], list[_Row]]:
    """The root's prefix ('' or 'x:'), where <dimension>, <sheetData> and </sheetData> are
    (start, end, self-closing?), and the rows of sheetData with their cells."""
    prefix, spots, rows, stack = None, {}, [], []
    for m in _TAG.finditer(text):
        slash, name, rest = m.groups()
        if name is None:  # comment, processing instruction, CDATA
            continue
        if prefix is None:
            prefix = name[: name.rfind(":") + 1]
        if slash:
            path = "/".join(stack[1:])
            stack.pop()
            if path == "sheetData":
                spots["/sheetData"] = (m.start(), m.end(), False)
                break
            if path == "sheetData/row":
                rows[-1].close_start, rows[-1].end = m.start(), m.end()
            elif path == "sheetData/row/c":
                rows[-1].cells[-1].end = m.end()
            elif path.startswith("sheetData/row/c/") and path.count("/") == 3:
                children = rows[-1].cells[-1].children
                children[-1] = (children[-1][0], children[-1][1], m.end())
            continue
        empty = rest.rstrip().endswith("/")
        local = name[len(prefix):] if name.startswith(prefix) else "?" + name
        path = "/".join(stack[1:] + [local])
        if path in ("dimension", "sheetData"):
            spots[path] = (m.start(), m.end(), empty)
        elif path == "sheetData/row":
            rows.append(_Row(_attrs(rest).get("r"), m.start(), m.end(), m.end(), m.end()))
        elif path == "sheetData/row/c":
            rows[-1].cells.append(_Cell(_attrs(rest).get("r"), m.start(), m.end(), m.end()))
        elif path.startswith("sheetData/row/c/") and path.count("/") == 3:
            rows[-1].cells[-1].children.append((local, m.start(), m.end()))
        if path == "sheetData" and empty:
            break
        if not empty:
            stack.append(local)
    return prefix or "", spots, rows


def _check(root, rows: list[_Row], targets: set[tuple[int, int]], sheet: str) -> set[str]:
    """Refuse what cannot be patched safely; the refs of target cells that hold a formula."""
    ns = root.tag[: root.tag.find("}") + 1]
    data = root.find(ns + "sheetData")
    parsed = [(row.get("r"), [c.get("r") for c in row.findall(ns + "c")])
              for row in (data.findall(ns + "row") if data is not None else [])]
    if data is None or parsed != [(row.r, [c.ref for c in row.cells]) for row in rows]:
        raise PatchError(f"工作表“{sheet}”的结构不寻常，无法只改动其中几格。{_SAVE_AGAIN}")
    order = []  # rows as (row, 0), cells as (row, column): must increase, in the rows they are in
    for row in rows:
        number = int(row.r) if (row.r or "").isdigit() else 0
        order += [(number, 0)] + [p if p and p[0] == number else (0, 0) for p in map(_position, (c.ref for c in row.cells))]
    if any(b <= a for a, b in zip([(0, 0)] + order, order)):
        raise PatchError(f"工作表“{sheet}”里有的行或单元格没有标明位置（或顺序不对），"
                         f"为免写错位置，没有写入。{_SAVE_AGAIN}")
    formulas = set()
    for c in data.iter(ns + "c"):
        f = c.find(ns + "f")
        if f is None:
            continue
        here = _position(c.get("r"))
        if here in targets:
            formulas.add(c.get("r"))
        ends = _bounds(f.get("ref"))
        if ends is None or ends[0] == ends[1]:
            continue  # no range, or a range of one cell
        (r1, c1), (r2, c2) = ends
        hit = next((t for t in sorted(targets) if r1 <= t[0] <= r2 and c1 <= t[1] <= c2), None)
        if hit and (f.get("t") in ("array", "dataTable") or f.get("t") == "shared" and hit == here):
            raise PatchError(f"工作表“{sheet}”的 {_ref(*hit)} 格属于从 {c.get('r')} 开始的一组公式"
                             "（数组公式或共享公式），不能单独改写。请先在 Excel 或 WPS 中删除这组公式后再运行。")
    return formulas


def _check_tables(members: dict[str, bytes], part: str, cells: dict[tuple[int, int], str], sheet: str) -> None:
    """A table's header cells must hold its column names, or Excel repairs the file."""
    for _, kind, target in _rels(members, part):
        if not kind.endswith("/table") or target not in members:
            continue
        table = _parse(members[target], target)
        ends = _bounds(table.get("ref"))
        if ends is None or table.get("headerRowCount", "1") == "0":
            continue
        names = [c.get("name") for c in table.iter() if str(c.tag).endswith("}tableColumn")]
        for (row, column), text in cells.items():
            index = column - ends[0][1]
            if row == ends[0][0] and 0 <= index < len(names) and names[index] != text:
                raise PatchError(f"工作表“{sheet}”的 {_ref(row, column)} 格是表格“{table.get('displayName')}”"
                                 "的标题，不能改写。请在 Excel 或 WPS 中修改这个标题后再运行。")


def _cell_xml(text: str, tag: str, p: str, kept: str) -> str:
    """A <c> holding text as an inline string, from its start tag (r, s and the rest are kept;
    cm and vm, which describe a formula's or a rich value's metadata, are dropped)."""
    tag = re.sub(rf"\s+(?:cm|vm)\s*=\s*{_QUOTED}", "", tag[:-1].rstrip().rstrip("/") + ">")
    tag = _set_attr(tag, "t", "inlineStr")
    return f'{tag}<{p}is><{p}t xml:space="preserve">{_escape(text)}</{p}t></{p}is>{kept}</{p}c>'


def _patch_row(text: str, row: _Row, cells: dict[int, str], p: str, number: int) -> str:
    """The row element with cells ({column: text}) written, new ones inserted in column order."""
    new = sorted(set(cells) - {_position(x.ref)[1] for x in row.cells})
    head, empty = text[row.start:row.open_end], row.end == row.open_end
    spans = [tuple(map(int, s.split(":"))) for s in _attrs(head).get("spans", "").split() if s.count(":") == 1]
    if spans and any(not any(a <= c <= b for a, b in spans) for c in new):
        head = _set_attr(head, "spans", f"{min(new[0], *(a for a, _ in spans))}:{max(new[-1], *(b for _, b in spans))}")
    if empty:
        head = head[:-1].rstrip().rstrip("/") + ">"
    out, pos = [head], row.open_end
    for cell in row.cells:
        column = _position(cell.ref)[1]
        out.append(text[pos:cell.start])
        while new and new[0] < column:
            out.append(_cell_xml(cells[new[0]], f'<{p}c r="{_ref(number, new.pop(0))}">', p, ""))
        if column in cells:
            kept = "".join(text[s:e] for name, s, e in cell.children if name not in ("f", "v", "is"))
            out.append(_cell_xml(cells[column], text[cell.start:cell.open_end], p, kept))
        else:
            out.append(text[cell.start:cell.end])
        pos = cell.end
    out.append(text[pos:row.close_start])
    out += [_cell_xml(cells[c], f'<{p}c r="{_ref(number, c)}">', p, "") for c in new]
    return "".join(out) + (f"</{p}row>" if empty else text[row.close_start:row.end])


def _patch_sheet(data: bytes, cells: dict[tuple[int, int], str], sheet: str) -> tuple[bytes, set[str]]:
    root = _parse(data, sheet)
    if not str(root.tag).endswith("}worksheet"):
        raise PatchError(f"“{sheet}”不是普通工作表（可能是图表工作表），无法写入。")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"工作表“{sheet}”不是 UTF-8 编码。{_SAVE_AGAIN}") from None
    p, spots, rows = _scan(text)
    formulas = _check(root, rows, set(cells), sheet)
    by_row: dict[int, dict[int, str]] = {}
    for (r, c), value in cells.items():
        by_row.setdefault(r, {})[c] = value
    existing = {int(row.r): row for row in rows}
    start, open_end, empty = spots["sheetData"]
    tail = spots.get("/sheetData", (open_end,))[0]
    edits, new_rows = [], {}  # (start, end, replacement); insertion point → new rows
    for number in sorted(by_row):
        if number in existing:
            row = existing[number]
            edits.append((row.start, row.end, _patch_row(text, row, by_row[number], p, number)))
            continue
        at = next((row.start for row in rows if int(row.r) > number), tail)
        blank = f'<{p}row r="{number}"/>'
        new = _Row(str(number), 0, len(blank), len(blank), len(blank))
        new_rows.setdefault(at, []).append(_patch_row(blank, new, by_row[number], p, number))
    edits += [(at, at, "".join(parts)) for at, parts in new_rows.items()]
    if empty:  # <sheetData/>: every row is new
        edits = [(start, open_end, f"<{p}sheetData>{''.join(new_rows[tail])}</{p}sheetData>")]
    if "dimension" in spots:
        d_start, d_end, _ = spots["dimension"]
        old = _attrs(text[d_start:d_end]).get("ref")
        ends = _bounds(old)
        if ends is not None:
            top, bottom = _bounds(":".join(_ref(*x) for x in [*ends, *cells]))
            ref = _ref(*top) + ("" if top == bottom else ":" + _ref(*bottom))
            if ref != old:
                edits.append((d_start, d_end, _set_attr(text[d_start:d_end], "ref", ref)))
    out, pos = [], 0
    for s, e, replacement in sorted(edits, key=lambda edit: edit[:2]):
        out += [text[pos:s], replacement]
        pos = e
    out.append(text[pos:])
    return "".join(out).encode("utf-8"), formulas


def _drop_from_calc_chain(data: bytes, sheet_id: str, refs: set[str]) -> bytes:
    """calcChain without the entries of refs on sheet_id. An entry without i has the i of
    the one before it (the first one: taken as this sheet), so when a removed entry had i,
    the next kept entry without one gets it written out."""
    _parse(data, "calcChain.xml")
    text = data.decode("utf-8")
    out, pos, current, carry = [], 0, None, None
    for m in re.finditer(rf"<(?:[\w.-]+:)?c\b((?:[^>\"']|{_QUOTED})*)>", text):
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
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError):
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
