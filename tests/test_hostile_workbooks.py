"""A corpus of hostile and broken workbooks, made here from BASE (nothing binary is kept).

Each is run through the real command line, `python -m kit validate FILE`, in a child
process whose peak memory is measured: every one ends within 5 seconds (plus the
interpreter's start) and 500 MB, with a clear problem (exit 1, naming sheet, row and
column) or one Chinese message (exit 2, naming the file and what is wrong), and never
a traceback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from bench.commands import wait_with_peak
from tests.conftest import BASE, write_xlsx

TIME_LIMIT = 5.0  # seconds, on top of starting Python and importing the kit
MEMORY_LIMIT_MB = 500
CJK = re.compile(r"[\u4e00-\u9fff]")
ENTRIES = "xl/worksheets/sheet6.xml"  # write_xlsx keeps BASE's order: 积分记录 is the sixth sheet
RESIDENTS = "xl/worksheets/sheet4.xml"
LOL = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
       + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1))) * 10)
                  for i in range(1, 10))
       + b"]>")


# -- building the corpus ---------------------------------------------------------------

def edit_zip(source: Path, target: Path, edits: dict | None = None, add: dict | None = None,
             drop: tuple[str, ...] = ()) -> Path:
    """A copy of the zip with members edited (name → bytes → bytes), added or dropped."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = old.read(info)
            if info.filename in (edits or {}):
                data = edits[info.filename](data)
            new.writestr(info.filename, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return Path(target)


def shared_strings(source: Path, target: Path, replace: dict[str, str], unused: list[str] = ()) -> Path:
    """The workbook with its inline strings moved to xl/sharedStrings.xml, as Excel and
    WPS save them; replace swaps some texts on the way."""
    strings: list[str] = []

    def to_shared(data: bytes) -> bytes:
        def cell(found: re.Match) -> bytes:
            text = found.group(3).decode()
            strings.append(replace.get(text, text))
            return b'<c r="%s"%s t="s"><v>%d</v></c>' % (found.group(1), found.group(2), len(strings) - 1)

        return re.sub(rb'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t[^>]*>(.*?)</t></is></c>', cell, data)

    with zipfile.ZipFile(source) as old:
        sheets = [n for n in old.namelist() if n.startswith("xl/worksheets/")]
    edits = {name: to_shared for name in sheets}
    edit_zip(source, target.with_suffix(".tmp"), edits)
    strings.extend(unused)
    table = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
             % (len(strings), len(strings)) + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    edit_zip(target.with_suffix(".tmp"), target, {
        "[Content_Types].xml": lambda d: d.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                                   b'ContentType="application/vnd.openxmlformats-officedocument.'
                                                   b'spreadsheetml.sharedStrings+xml"/></Types>'),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", b'<Relationship Id="rIdSst" '
                                                          b'Type="http://schemas.openxmlformats.org/officeDocument/'
                                                          b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                                          b"</Relationships>"),
    }, add={"xl/sharedStrings.xml": table.encode()})
    target.with_suffix(".tmp").unlink()
    return target


def forge_size(path: Path, member: str, size: int) -> Path:
    """Make the zip say that member unpacks to size bytes (local header and central directory)."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) != -1:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + length]) == member.encode():
            struct.pack_into("<I", data, at + 24, size)
        at += 4
    path.write_bytes(bytes(data))
    return path


def add_rows(xml: bytes, rows: bytes) -> bytes:
    return xml.replace(b"</sheetData>", rows + b"</sheetData>")


def base(tmp: Path, name: str = "台账.xlsx", sheets: dict | None = None) -> Path:
    return write_xlsx(tmp / name, sheets if sheets is not None else copy.deepcopy(BASE))


def sheet_edit(tmp: Path, member: str, edit, name: str = "台账.xlsx") -> Path:
    return edit_zip(base(tmp, "plain.xlsx"), tmp / name, {member: edit})


def zip_bomb(tmp):  # one member of about 64 MB that packs into about 64 kB
    return sheet_edit(tmp, ENTRIES, lambda d: d + b" " * (64 << 20))


def huge_declared_size(tmp):
    return forge_size(base(tmp), "docProps/app.xml", 3_000_000_000)


def size_that_lies(tmp):  # says 1 kB, unpacks to far more
    return forge_size(sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, b"<row/>" * 100_000)), ENTRIES, 1000)


def laughs_in_a_sheet(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: LOL + d.replace(b"<t>E1</t>", b"<t>&lol9;</t>"))


def laughs_in_shared_strings(tmp):
    plain = shared_strings(base(tmp, "plain.xlsx"), tmp / "shared.xlsx", {})
    return edit_zip(plain, tmp / "台账.xlsx", {"xl/sharedStrings.xml": lambda d: LOL + d.replace(b"<t>E1</t>",
                                                                                                  b"<t>&lol9;</t>")})


def external_entity(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                      + d.replace(b"<t>E1</t>", b"<t>&xxe;</t>"))


def laughs_in_utf16(tmp):
    def utf16(data: bytes) -> bytes:
        text = (LOL + data.replace(b"<t>E1</t>", b"<t>&lol9;</t>")).decode("utf-8")
        return b"\xff\xfe" + text.encode("utf-16-le")

    return sheet_edit(tmp, ENTRIES, utf16)


def laughs_in_an_ods(tmp):
    from tests.conftest import write_ods

    plain = write_ods(tmp / "plain.ods", copy.deepcopy(BASE))
    return edit_zip(plain, tmp / "台账.ods", {"content.xml": lambda d: d.replace(b"?>", b"?>" + LOL, 1)
                                             .replace(b"<text:p>E1</text:p>", b"<text:p>&lol9;</text:p>")})


def dimension_too_large(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: d.replace(b'<dimension ref="A1:K3"', b'<dimension ref="A1:XFD1048576"'))


def dimension_too_small(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: d.replace(b'<dimension ref="A1:K3"', b'<dimension ref="A1"'))


FAR = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


def far_cell(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, FAR).replace(b'ref="A1:K3"', b'ref="A1:XFD1048576"'))


def far_cell_behind_a_small_dimension(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, FAR))


def far_cell_in_lower_case(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, FAR.replace(b"XFD1048576", b"xfd1048576")))


def far_cell_in_a_second_r(tmp):  # calamine takes the last r of a tag
    return sheet_edit(tmp, ENTRIES, lambda d: d.replace(b'<c r="K3"', b'<c r="K3" r="XFD1048576"'))


def far_cell_with_a_prefix(tmp):
    ns = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, b'<row r="4"><x:c xmlns:x="%s" r="XFD4"><x:v>1</x:v></x:c>'
                                                       b"</row>" % ns))


def far_cell_in_a_sheet_named_with_a_tab(tmp):  # ElementTree reads that tab as a space, calamine does not
    far = far_cell(tmp)
    return edit_zip(far, tmp / "改名.xlsx", {"xl/workbook.xml": lambda d: d.replace('name="积分记录"'.encode(),
                                                                                 'name="积分\t记录"'.encode())})


def far_cell_by_counting(tmp):  # cells without r sit one after another
    return sheet_edit(tmp, ENTRIES, lambda d: add_rows(d, b'<row r="4">' + b"<c><v>1</v></c>" * 16_384 + b"</row>"))


def long_text(tmp, sheet: str, row: int, column: int):
    sheets = copy.deepcopy(BASE)
    sheets[sheet][row][column] = "长" * 32_767  # Excel's most
    return base(tmp, sheets=sheets)


def long_name(tmp):
    return long_text(tmp, "居民", 1, 1)


def long_note(tmp):
    return long_text(tmp, "积分记录", 2, 6)


def long_shared_note(tmp):
    return shared_strings(base(tmp, "plain.xlsx"), tmp / "台账.xlsx", {"邻里噪音": "长" * 32_767})


def control_characters_in_a_name(tmp):
    return sheet_edit(tmp, RESIDENTS, lambda d: d.replace("张三".encode(), "张_x0007_\x01三".encode()))


def bidi_overrides_in_names(tmp):
    sheets = copy.deepcopy(BASE)
    sheets["居民"][1][1] = "张\u202e三"
    sheets["居民"][2][1] = "\u2066李四\u2069\u200f"
    return base(tmp, sheets=sheets)


def formula_without_cached_value(tmp):
    return sheet_edit(tmp, ENTRIES, lambda d: re.sub(rb'<c r="F2"[^>]*><v>2</v></c>', b'<c r="F2"><f>1+1</f></c>', d))


def merged_header_cells(tmp):
    path = base(tmp)
    book = openpyxl.load_workbook(path)
    book["积分记录"].merge_cells("C1:D1")  # 时间 spreads over 居民编号, which is lost
    book.save(path)
    return path


def hidden_sheets(tmp):
    path = base(tmp)
    book = openpyxl.load_workbook(path)
    book["居民"].sheet_state = "hidden"
    book["工作人员"].sheet_state = "veryHidden"
    book.save(path)
    return path


def duplicated_headers(tmp):
    sheets = copy.deepcopy(BASE)
    for row, extra in zip(sheets["积分记录"], ["备注", "另一条备注", None]):
        row.append(extra)
    return base(tmp, sheets=sheets)


def csv_named_xlsx(tmp):
    path = tmp / "台账.xlsx"
    path.write_text("记录编号,日期,居民编号\nE1,2026-03-05,R1\n", encoding="utf-8")
    return path


def empty_file(tmp):
    path = tmp / "台账.xlsx"
    path.write_bytes(b"")
    return path


VBA = {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 16}


def macros(tmp, name: str):
    macro_type = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    return edit_zip(base(tmp, "plain.xlsx"), tmp / name, {
        "[Content_Types].xml": lambda d: re.sub(rb'(PartName="/xl/workbook.xml" ContentType=")[^"]*', rb"\1" + macro_type, d)
        .replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>'),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://'
                                                          b'schemas.microsoft.com/office/2006/relationships/vbaProject" '
                                                          b'Target="vbaProject.bin"/></Relationships>'),
    }, add=VBA)


def macro_workbook(tmp):
    return macros(tmp, "台账.xlsm")


def macros_in_an_xlsx(tmp):
    return macros(tmp, "台账.xlsx")


def password(tmp):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain, locked = base(tmp, "plain.xlsx"), tmp / "台账.xlsx"
    with plain.open("rb") as source, locked.open("wb") as out:
        OOXMLFile(source).encrypt("mima123", out)
    return locked


# -- running the command -------------------------------------------------------------

@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def run_cli(*args: str, limit: float = 60.0) -> Run:
    """`python -m kit ARGS` in a child process, with its own peak memory (VmHWM)."""
    env = {**os.environ, "COLUMNS": "300", "PYTHONIOENCODING": "utf-8"}
    env.pop("KIT_DEBUG", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "kit", *args], stdout=out, stderr=err, env=env)
        timer = threading.Timer(limit, child.kill)
        timer.start()
        try:
            status, peak_mb = wait_with_peak(child)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        return Run(status, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   seconds, peak_mb)


@pytest.fixture(scope="module")
def startup() -> float:
    """Seconds for the interpreter to start and import the kit (the fastest of three)."""
    return min(run_cli("--version").seconds for _ in range(3))


def validate(path: Path, startup: float, *extra: str) -> Run:
    run = run_cli("validate", str(path), "--as-of", "2026-06-30", *extra, limit=TIME_LIMIT + startup + 5)
    assert run.status >= 0, f"killed by signal {-run.status}: {run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert "内部出错" not in run.stderr, run.stderr
    assert run.seconds < TIME_LIMIT + startup, f"{run.seconds:.1f} s"
    assert run.peak_mb < MEMORY_LIMIT_MB, f"{run.peak_mb:.0f} MB"
    return run


REFUSED = {  # case → (code, words the message must contain)
    zip_bomb: ("limit-exceeded", ["sheet6.xml", "压缩比", "max_ratio"]),
    huge_declared_size: ("limit-exceeded", ["解压后的总大小", "max_uncompressed_mb", "2,048"]),
    size_that_lies: ("unsafe-workbook", ["sheet6.xml", "大小"]),
    laughs_in_a_sheet: ("unsafe-workbook", ["sheet6.xml", "DOCTYPE"]),
    laughs_in_shared_strings: ("unsafe-workbook", ["sharedStrings.xml", "DOCTYPE"]),
    external_entity: ("unsafe-workbook", ["sheet6.xml", "DOCTYPE"]),
    laughs_in_utf16: ("unsafe-workbook", ["sheet6.xml", "DOCTYPE"]),
    laughs_in_an_ods: ("unsafe-workbook", ["content.xml", "DOCTYPE"]),
    far_cell: ("limit-exceeded", ["积分记录", "XFD", "16,384", "max_columns"]),
    far_cell_behind_a_small_dimension: ("limit-exceeded", ["积分记录", "XFD", "max_columns"]),
    far_cell_in_lower_case: ("limit-exceeded", ["积分记录", "XFD", "max_columns"]),
    far_cell_in_a_second_r: ("limit-exceeded", ["积分记录", "XFD", "max_columns"]),
    far_cell_with_a_prefix: ("limit-exceeded", ["积分记录", "XFD", "max_columns"]),
    far_cell_by_counting: ("limit-exceeded", ["积分记录", "XFD", "max_columns"]),
    far_cell_in_a_sheet_named_with_a_tab: ("limit-exceeded", ["XFD", "max_columns"]),
    long_name: ("limit-exceeded", ["居民", "B2", "32,767", "max_cell_chars"]),
    long_note: ("limit-exceeded", ["积分记录", "G3", "32,767", "max_cell_chars"]),
    long_shared_note: ("limit-exceeded", ["积分记录", "G3", "32,767", "max_cell_chars"]),
    merged_header_cells: ("missing-columns", ["积分记录", "居民编号"]),
    csv_named_xlsx: ("unreadable-workbook", ["台账.xlsx", "CSV"]),
    empty_file: ("unreadable-workbook", ["台账.xlsx", "空文件"]),
    macros_in_an_xlsx: ("macro-workbook", ["台账.xlsx", "宏", ".xlsm"]),
    password: ("encrypted-workbook", ["台账.xlsx", "密码"]),
}


@pytest.mark.parametrize("make", list(REFUSED), ids=lambda f: f.__name__)
def test_refused_with_one_clear_message(tmp_path, startup, make):
    path = make(tmp_path)
    code, words = REFUSED[make]
    run = validate(path, startup)
    assert run.status == 2, run.stdout + run.stderr
    message = run.stderr.strip()
    assert message.startswith(f"无法继续（{code}）："), message
    assert CJK.search(message) and len(message.splitlines()) == 1, message
    assert path.name in message or code in ("missing-columns",), message
    for word in words:
        assert word in message, (word, message)


PROBLEMS = {  # case → (code, sheet, row, column) of a problem that must be reported
    formula_without_cached_value: ("formula-error", "积分记录", 2, "数量"),
    duplicated_headers: ("duplicate-column", "积分记录", 1, "备注"),
}


@pytest.mark.parametrize("make", list(PROBLEMS), ids=lambda f: f.__name__)
def test_reported_as_a_problem_at_its_cell(tmp_path, startup, make):
    run = validate(make(tmp_path), startup, "--format", "json")
    assert run.status == 1, run.stdout + run.stderr
    code, sheet, row, column = PROBLEMS[make]
    found = [(p["code"], p["sheet"], p["row"], p["column"]) for p in json.loads(run.stdout)]
    assert (code, sheet, row, column) in found, found


HARMLESS = [dimension_too_large, dimension_too_small, hidden_sheets, macro_workbook]


@pytest.mark.parametrize("make", HARMLESS, ids=lambda f: f.__name__)
def test_read_as_usual(tmp_path, startup, make):
    # calamine ignores <dimension>; hidden sheets hold data like visible ones; macros are
    # never run (calamine does not open vbaProject.bin), so an .xlsm reads like an .xlsx
    run = validate(make(tmp_path), startup)
    assert run.status == 0, run.stdout + run.stderr
    assert "没有发现问题" in run.stdout


@pytest.mark.parametrize("make", [control_characters_in_a_name, bidi_overrides_in_names], ids=lambda f: f.__name__)
def test_control_and_direction_characters_in_names_do_not_break_reading(tmp_path, startup, make):
    # they are read as they are; what the site does with them is the site's business
    run = validate(make(tmp_path), startup)
    assert run.status in (0, 1), run.stdout + run.stderr


def test_the_corpus_covers_the_issue():
    names = {f.__name__ for f in [*REFUSED, *PROBLEMS, *HARMLESS]}
    assert {"zip_bomb", "huge_declared_size", "laughs_in_a_sheet", "laughs_in_shared_strings", "dimension_too_large",
            "dimension_too_small", "far_cell", "long_name", "long_note", "formula_without_cached_value",
            "merged_header_cells", "hidden_sheets", "duplicated_headers", "csv_named_xlsx", "empty_file",
            "macro_workbook"} <= names


# -- the same files through the other readers ------------------------------------------

@pytest.mark.parametrize("make", [laughs_in_a_sheet, laughs_in_shared_strings, external_entity])
def test_openpyxl_never_expands_entities(tmp_path, make):
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML  # openpyxl parses through defusedxml when it is installed
    with pytest.raises(Exception) as caught:
        openpyxl.load_workbook(make(tmp_path))
    assert "lol" * 10 not in str(caught.value) and "root:" not in str(caught.value)


def test_the_workbook_structure_is_parsed_without_dtds():
    from defusedxml import DTDForbidden

    from kit.sources.xlsx_errors import sheet_members

    with pytest.raises(DTDForbidden):
        sheet_members(LOL + b"<workbook/>", b"<Relationships/>")


def test_annotating_a_refused_workbook_writes_nothing(tmp_path, startup):
    out = tmp_path / "检查结果.xlsx"
    run = validate(far_cell(tmp_path), startup, "--annotate", str(out))
    assert run.status == 2 and not out.exists()
