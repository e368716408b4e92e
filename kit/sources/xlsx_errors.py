"""Formula-error cells (#DIV/0!, #N/A …) in an xlsx, which calamine reads as ''.

Streams the sheet's XML once looking for t="e" cells; nothing else is parsed.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_MARK = b't="e"'
_REF = re.compile(rb'r="([A-Z]{1,3})(\d{1,7})"')
_VALUE = re.compile(rb"<v>([^<]{0,40})</v>")
_CHUNK = 1 << 20
_CARRY = 8192


def sheet_members(path: Path) -> dict[str, str]:
    """Sheet name → zip member of its XML."""
    with zipfile.ZipFile(path) as archive:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels.findall("rel:Relationship", _NS)}
    members = {}
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        members[sheet.get("name")] = member
    return members


def error_cells(path: Path, member: str) -> dict[tuple[int, int], str]:
    """(0-based row, 0-based column) → error text, for every t="e" cell."""
    found: dict[tuple[int, int], str] = {}
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        carry = b""
        while chunk := stream.read(_CHUNK):
            data = carry + chunk
            start = 0
            while (hit := data.find(_MARK, start)) != -1:
                tag = data.rfind(b"<c ", 0, hit)
                ref = _REF.search(data, tag, hit + 200) if tag != -1 else None
                if ref:
                    value = _VALUE.search(data, hit, hit + _CARRY)
                    text = value.group(1).decode("utf-8", "replace") if value else "#错误"
                    found[(int(ref.group(2)) - 1, _column_index(ref.group(1)))] = text
                start = hit + len(_MARK)
            carry = data[-_CARRY:]
            # a hit inside the carried tail is seen again next round; the dict absorbs it
    return found


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1
