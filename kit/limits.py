"""Reading limits: a broken or hostile workbook is refused before it can exhaust memory or time.

check_file looks at the zip's central directory, at the first bytes of every member
(no DTD, so no XML entity can ever be declared), counts the sheets in workbook.xml and
skims sharedStrings.xml for long texts; nothing is parsed as XML. Each sheet's XML is
scanned once more, just before calamine reads that sheet (kit/sources/xlsx_errors.py),
because calamine builds one dense block from A1 to the farthest cell: a lone value in
XFD1048576 asks for 16,384 × 1,048,576 cells and aborts the process, whatever the
sheet's <dimension> says.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from kit.errors import LimitExceeded, ProjectError, UnreadableWorkbook, UnsafeWorkbook

MB = 1 << 20
EXCEL_MAX_ROWS = 1_048_576  # beyond these no spreadsheet program writes; calamine's counts overflow
EXCEL_MAX_COLUMNS = 16_384
RATIO_FLOOR = MB  # a member smaller than this cannot hurt, whatever its compression ratio
HEAD_BYTES = 64 * 1024  # every legitimate XML prolog ends long before this
_CHUNK_OUT = MB
_CHUNK_IN = 128 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """Defaults leave 3-4× headroom over the bench workbook (bench/, 1,000,000 entries ×
    11 columns, 100,000 residents): 52 MB file, 19 members, 575 MB of XML with the
    entries sheet at 518 MB, compression ratios up to 11."""

    max_file_mb: float = 200
    max_members: int = 1_000
    max_uncompressed_mb: float = 2_048
    max_ratio: float = 200  # real sheets compress 5-20×; zip bombs about 1,000×
    max_sheets: int = 200
    max_columns: int = 256
    max_cells: int = 16_777_216  # per sheet, rows × columns from A1: 1,048,576 rows × 16 columns
    max_cell_chars: int = 10_000  # Excel allows 32,767; no name, note or reason is that long


KEYS = tuple(f.name for f in fields(ReadLimits))

# what each limit counts, for messages: (zh subject, unit)
_WHAT = {
    "max_file_mb": ("文件大小", "MB"),
    "max_members": ("压缩包里的文件个数", "个"),
    "max_uncompressed_mb": ("解压后的总大小", "MB"),
    "max_ratio": ("压缩比", "倍"),
    "max_sheets": ("工作表个数", "个"),
    "max_columns": ("列数", "列"),
    "max_cells": ("单元格数（行数×列数，从 A1 算起）", "个"),
    "max_cell_chars": ("文字长度", "字"),
}


def limits_from_config(table: object) -> ReadLimits:
    """The [limits] table of kit.toml; unknown keys are warned about by the caller."""
    if table is None:
        return ReadLimits()
    if not isinstance(table, dict):
        raise ProjectError("kit.toml 中的 [limits] 应该是一节设置，如 max_file_mb = 300。")
    values = {}
    for key in KEYS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ProjectError(f"kit.toml 中的“limits.{key}”应为大于 0 的数字，现在是“{value}”。")
        values[key] = value if key in ("max_file_mb", "max_uncompressed_mb", "max_ratio") else int(value)
    return ReadLimits(**values)


def exceeded(key: str, actual: float, limit: float, where: str, hint: str = "",
             ceiling: float | None = None) -> LimitExceeded:
    """The Chinese message: what, where, the value, the limit and how to raise it."""
    what, unit = _WHAT[key]
    suggest = _suggest(actual) if ceiling is None else str(min(int(_suggest(actual)), int(ceiling - 1)))
    return LimitExceeded(
        f"{where}的{what}是 {_num(actual)} {unit}，超过了读取上限 {_num(limit)} {unit}（{key}）。{hint}"
        f"如果这确实是正常的表格，可以在 kit.toml 中加上一节 [limits]，写 {key} = {suggest}，再运行。",
        key=key, actual=actual, limit=limit,
    )


def _num(value: float) -> str:
    if float(value).is_integer() or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _suggest(actual: float) -> str:
    step = 10 ** max(len(str(int(actual))) - 1, 0)
    return str(int((actual // step + 1) * step))


def check_extent(rows: int, columns: int, where: str, limits: ReadLimits) -> None:
    """rows × columns from A1 is what calamine and then Python allocate for a sheet."""
    corner = f"{column_letters(min(columns, EXCEL_MAX_COLUMNS + 1))}{rows}"
    for count, most, what in ((rows, EXCEL_MAX_ROWS, "行"), (columns, EXCEL_MAX_COLUMNS, "列")):
        if count > most:
            raise LimitExceeded(
                f"{where}有数据写在第 {count:,} {what}（{corner} 一带），超出了 Excel 的最大{what}数 {most:,}。"
                "Excel、WPS 不会保存出这样的文件，它可能被篡改过，为安全起见不读取。请用 Excel 或 WPS 另存为新的 .xlsx 再试。",
                actual=count, limit=most,
            )
    if columns > limits.max_columns:
        raise exceeded("max_columns", columns, limits.max_columns, where,
                       f"最远的一格在 {column_letters(columns)} 列（第 {columns:,} 列），通常是有人误在很远的格子里"
                       "输入了内容：删掉那一格（或那几列）后保存即可。", ceiling=EXCEL_MAX_COLUMNS + 1)
    if rows * columns > limits.max_cells:
        raise exceeded("max_cells", rows * columns, limits.max_cells, where,
                       f"数据从 A1 一直延伸到 {corner}（{rows:,} 行 × {columns:,} 列）。"
                       "如果最下面几行或最右边几列只是误输入的内容，删掉后保存即可。")


def check_cell_text(rows: list[list[object]], where: str, limits: ReadLimits) -> None:
    """The first cell longer than max_cell_chars (only called when a scan saw a long text:
    looking at every cell costs about half a second per million rows)."""
    limit = limits.max_cell_chars
    for row_index, row in enumerate(rows):
        for column_index, value in enumerate(row):
            if value.__class__ is str and len(value) > limit:
                cell = f"{column_letters(column_index + 1)}{row_index + 1}"
                start = value[:12].replace("\n", " ")
                raise exceeded("max_cell_chars", len(value), limit, f"{where} {cell} 格",
                               f"这一格以“{start}”开头。请把过长的内容缩短，备注、说明写要点即可。")


def column_letters(n: int) -> str:
    """1 → A, 27 → AA, 16384 → XFD."""
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Archive:
    """What check_file saw of a zip workbook."""

    infos: tuple[zipfile.ZipInfo, ...]
    long_shared_text: bool  # sharedStrings.xml may hold a string over max_cell_chars

    def info(self, name: str) -> zipfile.ZipInfo | None:
        """The member calamine would open for name (it matches names ignoring ASCII case)."""
        wanted = name.lower()
        return next((i for i in self.infos if i.filename.lower() == wanted), None)


def check_file(path: Path, limits: ReadLimits) -> Archive | None:
    """Refuse a file over a limit before anything parses it; None when it is not a zip."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_file_mb * MB:
        raise exceeded("max_file_mb", size / MB, limits.max_file_mb, f"“{path.name}”",
                       "这么大的表格可能混进了图片、很多空白的格式行，或者根本不是积分表格。")
    if not zipfile.is_zipfile(path):
        return None  # xls, or not a workbook at all: calamine gives the message
    declared = _declared_members(path)  # before zipfile makes an object of every entry
    if declared > limits.max_members:
        raise exceeded("max_members", declared, limits.max_members, f"“{path.name}”")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = tuple(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _damaged(path, exc) from None
    if len({i.filename.lower() for i in infos}) < len(infos):
        # zip readers disagree about which copy of a name counts; calamine would read another than checked
        raise UnsafeWorkbook(f"“{path.name}”里有同名的部件（压缩包内的文件名重复），Excel、WPS 不会这样保存，"
                             "它可能被篡改过，为安全起见不读取。请用 Excel 或 WPS 另存为新的 .xlsx 再试。")
    if len(infos) > limits.max_members:
        raise exceeded("max_members", len(infos), limits.max_members, f"“{path.name}”")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * MB:
        raise exceeded("max_uncompressed_mb", total / MB, limits.max_uncompressed_mb, f"“{path.name}”",
                       "这通常是“压缩炸弹”：文件很小，解开却极大。")
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise exceeded("max_ratio", info.file_size / max(info.compress_size, 1), limits.max_ratio,
                           f"“{path.name}”中的“{info.filename}”",
                           f"它压缩后 {info.compress_size:,} 字节，解开有 {info.file_size:,} 字节，这通常是“压缩炸弹”。")
    archive = Archive(infos, False)
    with path.open("rb") as fh:
        for info in infos:
            if not info.is_dir():
                _check_prolog(path, fh, info)
        book = archive.info("xl/workbook.xml")
        if book is not None:
            sheets = _count(member_chunks(path, info=book, fh=fh), _SHEET_TAG)
            if sheets > limits.max_sheets:
                raise exceeded("max_sheets", sheets, limits.max_sheets, f"“{path.name}”")
        shared = archive.info("xl/sharedStrings.xml")
        if shared is not None:
            long_text = long_runs(member_chunks(path, info=shared, fh=fh), b"<si", limits.max_cell_chars)
            archive = Archive(infos, long_text)
    return archive


def _declared_members(path: Path) -> int:
    """The entry count of the zip's end record (zip64 too), without reading the directory;
    a directory far too big for that count counts as that many 4 kB entries."""
    try:
        with path.open("rb") as fh:
            end = zipfile._EndRecData(fh)  # noqa: SLF001 - the stdlib's own reader of that record
    except (OSError, struct.error, AttributeError):
        return 0
    if not end:
        return 0
    return max(int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE]) // 4096)  # noqa: SLF001


_SHEET_TAG = re.compile(rb"<(?:[^\s<>/!?:]{1,64}:)?sheet[\s/>]")


def _count(chunks: Iterator[bytes], pattern: re.Pattern) -> int:
    found, carry = 0, b""
    for chunk in chunks:
        data = carry + chunk
        cut = max(len(data) - 80, 0)  # a match starting in the tail is counted with the next chunk
        found += sum(1 for m in pattern.finditer(data) if m.start() < cut)
        carry = data[cut:]
    return found + len(pattern.findall(carry))


def long_runs(chunks: Iterator[bytes], start_tag: bytes, max_chars: int) -> bool:
    """Whether some element opened by start_tag may hold more than max_chars characters.

    A text of more than N characters has more than N bytes, so it covers a whole window
    of N/2 bytes on an N/2 grid; such a window holds no start tag. Only windows without
    one are looked at further, which makes this about as cheap as a memchr."""
    window = max(max_chars // 2, 16)
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        for begin in range(0, len(data) - window + 1, window):
            if data.find(start_tag, begin, begin + window) == -1:
                return True
        carry = data[len(data) - len(data) % window:] if len(data) % window else b""
    return False


def _check_prolog(path: Path, fh, info: zipfile.ZipInfo) -> None:
    """No DTD, hence no entity can be declared: calamine, openpyxl and ElementTree stay safe."""
    head = b"".join(member_chunks(path, info=info, fh=fh, limit=HEAD_BYTES))
    verdict = prolog_verdict(head, complete=info.file_size <= len(head))
    if verdict is not None:
        raise UnsafeWorkbook(
            f"“{path.name}”里的“{info.filename}”{verdict}。Excel、WPS 和 LibreOffice 保存的表格从不含这种内容，"
            "它可能被篡改过，或是专门构造来拖垮电脑的文件（例如“十亿笑声”攻击），为安全起见不读取。"
            "请找到原始数据，用 Excel 或 WPS 另存为新的 .xlsx 再试。"
        )


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def prolog_verdict(head: bytes, complete: bool) -> str | None:
    """Why an XML head is unsafe (zh), or None. Non-XML members (images, vbaProject.bin) pass."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if head.startswith(bom):
            head, encoding = head[len(bom):], name
            break
    else:
        if head[:2] == b"<\x00":
            encoding = "utf-16-le"
        elif head[:2] == b"\x00<":
            encoding = "utf-16-be"
    text = head.decode(encoding, "replace") if encoding != "utf-8" else head.decode("latin-1")
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        rest = text[position:position + 9]
        if rest.startswith("<?"):
            end = text.find("?>", position)
        elif rest.startswith("<!--"):
            end = text.find("-->", position)
        elif rest.startswith("<!"):  # <!DOCTYPE, <!ENTITY: where entities are declared
            return "含有 XML 文档类型声明（DOCTYPE/ENTITY）"
        else:
            if position >= len(text) and not complete:
                return "开头有一大段注释或说明，看不到正文"
            return None  # the root element, or not XML at all
        if end == -1:
            return None if complete else "开头有一大段注释或说明，看不到正文"
        position = end + 2


def member_chunks(path: Path, info: zipfile.ZipInfo, fh=None, limit: int | None = None) -> Iterator[bytes]:
    """The member's bytes, at most about 1 MB at a time, never more than it declares.

    Deflated members are inflated straight from the file: zipfile's reader costs as much
    again as the inflating, and calamine checks the CRC when it reads the member anyway.
    limit stops early (a prolog needs only the first few kB)."""
    own = fh is None
    fh = fh or Path(path).open("rb")
    try:
        if info.flag_bits & 0x1:
            raise _damaged(path, "encrypted member")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            yield from _zipfile_chunks(path, info, limit)
            return
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise _damaged(path, f"bad local header for {info.filename}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        fh.seek(info.header_offset + 30 + name_length + extra_length)
        wanted = info.file_size if limit is None else min(limit, info.file_size)
        produced, left = 0, info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            while produced < wanted:
                data = fh.read(min(_CHUNK_OUT, wanted - produced))
                if not data:
                    raise _damaged(path, f"{info.filename} is truncated")
                produced += len(data)
                yield data
            return
        inflater = zlib.decompressobj(-15)
        pending = b""
        while produced < wanted and not inflater.eof:
            if not pending:
                if left <= 0:
                    raise _damaged(path, f"{info.filename} is truncated")
                pending = fh.read(min(_CHUNK_IN, left))
                if not pending:
                    raise _damaged(path, f"{info.filename} is truncated")
                left -= len(pending)
            try:
                out = inflater.decompress(pending, _CHUNK_OUT)
            except zlib.error as exc:
                raise _damaged(path, exc) from None
            pending = inflater.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise UnsafeWorkbook(
                    f"“{Path(path).name}”里的“{info.filename}”实际内容比它记录的大小更大，"
                    "文件可能被篡改过，为安全起见不读取。请用 Excel 或 WPS 另存为新的 .xlsx 再试。"
                )
            if out:
                yield out if produced <= wanted else out[: len(out) - (produced - wanted)]
        if limit is None and produced < info.file_size:
            raise _damaged(path, f"{info.filename} is shorter than declared")
    finally:
        if own:
            fh.close()


def _zipfile_chunks(path: Path, info: zipfile.ZipInfo, limit: int | None) -> Iterator[bytes]:
    # other compression methods (no spreadsheet program uses them): zipfile also stops at the declared size
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as stream:
            produced = 0
            while data := stream.read(_CHUNK_OUT):
                produced += len(data)
                yield data
                if limit is not None and produced >= limit:
                    return
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, zlib.error) as exc:
        raise _damaged(path, exc) from None


def _damaged(path: Path, detail: object) -> UnreadableWorkbook:
    return UnreadableWorkbook(
        f"“{Path(path).name}”无法作为表格打开：文件可能已损坏、只下载了一半，"
        f"或者其实不是 Excel 文件（例如 CSV 改了扩展名）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。（{detail}）"
    )
