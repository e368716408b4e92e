"""Reading limits (kit/limits.py): just under each passes, just over is refused with the
limit's name and the value, and kit.toml's [limits] moves each one."""

from __future__ import annotations

import copy
import zipfile
from pathlib import Path

import pytest

from kit.errors import LimitExceeded, ProjectError
from kit.limits import MB, RATIO_FLOOR, ReadLimits, check_file, long_runs, member_chunks
from kit.pipeline import open_source, validate
from kit.project import load_project

from tests.conftest import AS_OF, BASE, make_project, run_kit, write_xlsx
from tests.test_hostile_workbooks import edit_zip

ENTRIES = "xl/worksheets/sheet6.xml"  # write_xlsx keeps BASE's order: 积分记录 is the sixth sheet


def read(path: Path, **limits) -> object:
    return validate(open_source(path, ReadLimits(**limits)), AS_OF)


def refused(path: Path, key: str, **limits) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        read(path, **limits)
    error = caught.value
    assert error.key == key and error.code == "limit-exceeded" and error.exit_status == 2
    assert key in error.message and path.name in error.message
    return error


@pytest.fixture
def book(tmp_path) -> Path:
    return write_xlsx(tmp_path / "台账.xlsx", BASE)


def test_defaults_leave_room_for_the_bench_workbook():
    # bench/ writes 1,000,000 entries × 11 columns and 100,000 residents: a 52.4 MB file
    # of 19 members, 575 MB of XML (the entries sheet 518 MB), ratios up to 11.2
    limits = ReadLimits()
    assert limits.max_file_mb >= 3 * 52.4
    assert limits.max_members >= 10 * 19
    assert limits.max_uncompressed_mb >= 3 * 575
    assert limits.max_ratio >= 10 * 11.2
    assert limits.max_sheets >= 10 * 11
    assert limits.max_cells >= 1_048_576 * 11  # a full Excel sheet of entries
    assert limits.max_columns >= 11 and limits.max_cell_chars >= 1_000


@pytest.mark.skipif(not Path("/tmp/benchout/big.xlsx").is_file(), reason="bench workbook not generated")
def test_the_bench_workbook_passes_the_file_checks():
    assert check_file(Path("/tmp/benchout/big.xlsx"), ReadLimits()) is not None


def test_file_size(book):
    size = book.stat().st_size / MB
    read(book, max_file_mb=size * 1.01)
    error = refused(book, "max_file_mb", max_file_mb=size * 0.99)
    assert error.actual == pytest.approx(size)


def test_file_size_is_checked_for_every_format(tmp_path):
    path = tmp_path / "旧表.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    refused(path, "max_file_mb", max_file_mb=0.001)


def test_number_of_members(book):
    members = len(zipfile.ZipFile(book).namelist())
    read(book, max_members=members)
    error = refused(book, "max_members", max_members=members - 1)
    assert error.actual == members and f"{members:,}" in error.message


def test_uncompressed_size(book):
    total = sum(i.file_size for i in zipfile.ZipFile(book).infolist()) / MB
    read(book, max_uncompressed_mb=total * 1.001)
    error = refused(book, "max_uncompressed_mb", max_uncompressed_mb=total * 0.999)
    assert error.actual == pytest.approx(total)


def test_compression_ratio_of_a_big_member(book, tmp_path):
    padded = edit_zip(book, tmp_path / "padded.xlsx", add={"xl/media/padding.bin": b"\0" * (2 * MB)})
    info = zipfile.ZipFile(padded).getinfo("xl/media/padding.bin")
    ratio = info.file_size / info.compress_size
    read(padded, max_ratio=ratio + 1)
    error = refused(padded, "max_ratio", max_ratio=ratio - 1)
    assert error.actual == pytest.approx(ratio) and "xl/media/padding.bin" in error.message


def test_compression_ratio_of_a_small_member_does_not_matter(book, tmp_path):
    padded = edit_zip(book, tmp_path / "padded.xlsx", add={"xl/media/padding.bin": b"\0" * (RATIO_FLOOR - 1)})
    read(padded, max_ratio=2)


def test_number_of_sheets(book):
    read(book, max_sheets=len(BASE))
    error = refused(book, "max_sheets", max_sheets=len(BASE) - 1)
    assert error.actual == len(BASE)


def test_number_of_sheets_of_an_ods(tmp_path):
    from tests.conftest import write_ods

    path = write_ods(tmp_path / "台账.ods", BASE)
    read(path, max_sheets=len(BASE))
    refused(path, "max_sheets", max_sheets=len(BASE) - 1)


def test_number_of_columns(book):
    read(book, max_columns=11)  # 积分记录 is the widest sheet: A..K
    error = refused(book, "max_columns", max_columns=10)
    assert error.actual == 11 and "积分记录" in error.message and "K 列" in error.message


def test_number_of_columns_counts_a_stray_far_value(tmp_path):
    sheets = copy.deepcopy(BASE)
    sheets["居民"][1] += [None] * 20 + ["误输入"]  # 8 columns, 20 empty, then AC2 (column 29)
    path = write_xlsx(tmp_path / "台账.xlsx", sheets)
    read(path, max_columns=29)
    error = refused(path, "max_columns", max_columns=28)
    assert error.actual == 29 and "居民" in error.message and "AC 列" in error.message


def test_number_of_cells(book):
    read(book, max_cells=33)  # 积分记录: 3 rows × 11 columns from A1
    error = refused(book, "max_cells", max_cells=32)
    assert error.actual == 33 and "K3" in error.message


def test_number_of_cells_counts_from_a1(tmp_path):
    sheets = copy.deepcopy(BASE)
    sheets["积分记录"] += [[None]] * 96 + [["E3"]]  # row 100
    path = write_xlsx(tmp_path / "台账.xlsx", sheets)
    read(path, max_cells=1_100)
    error = refused(path, "max_cells", max_cells=1_099)
    assert error.actual == 1_100


@pytest.mark.parametrize("text", ["字" * 500, "x" * 500])
def test_characters_in_a_cell(tmp_path, text):
    sheets = copy.deepcopy(BASE)
    sheets["积分记录"][2][6] = text  # 备注 of E2: G3
    path = write_xlsx(tmp_path / "台账.xlsx", sheets)
    read(path, max_cell_chars=500)
    error = refused(path, "max_cell_chars", max_cell_chars=499)
    assert error.actual == 500 and "积分记录" in error.message and "G3" in error.message


def test_characters_in_a_shared_string(tmp_path):
    from tests.test_hostile_workbooks import shared_strings

    path = shared_strings(write_xlsx(tmp_path / "plain.xlsx", BASE), tmp_path / "台账.xlsx",
                          {"邻里噪音": "长" * 600})
    read(path, max_cell_chars=600)
    error = refused(path, "max_cell_chars", max_cell_chars=599)
    assert error.actual == 600 and "积分记录" in error.message and "G3" in error.message


def test_a_long_shared_string_no_sheet_uses_is_not_refused(tmp_path):
    from tests.test_hostile_workbooks import shared_strings

    path = shared_strings(write_xlsx(tmp_path / "plain.xlsx", BASE), tmp_path / "台账.xlsx",
                          {}, unused=["长" * 600])
    read(path, max_cell_chars=599)


def test_long_runs_sees_every_text_longer_than_the_limit():
    for limit in (256, 300, 1_000):
        for length in (limit + 1, limit + 7, 3 * limit):
            for offset in range(0, 700, 97):
                data = b"<si>" * (offset // 4) + b"<si><t>" + b"x" * length + b"</t></si>" + b"<si>" * 300
                pieces = [data[i:i + 777] for i in range(0, len(data), 777)]
                assert long_runs(iter(pieces), b"<si", limit), (limit, length, offset)
    assert not long_runs(iter([b"<si><t>" + b"x" * 100 + b"</t></si>"] * 50), b"<si", 256)


def test_member_chunks_stop_at_the_declared_size(book):
    info = zipfile.ZipFile(book).getinfo(ENTRIES)
    assert b"".join(member_chunks(book, info)) == zipfile.ZipFile(book).read(ENTRIES)
    assert b"".join(member_chunks(book, info, limit=100)) == zipfile.ZipFile(book).read(ENTRIES)[:100]


# kit.toml

def test_kit_toml_raises_a_limit(tmp_path):
    sheets = copy.deepcopy(BASE)
    sheets["居民"][1] += [None] * 300 + ["误输入"]  # column KP (309)
    root = make_project(tmp_path / "社区", sheets)
    result = run_kit(root, "validate", "--as-of", "2026-06-30")
    assert result.exit_code == 2, result.output
    assert "limit-exceeded" in result.output and "max_columns" in result.output and "309" in result.output
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_columns = 400\n")
    result = run_kit(root, "validate", "--as-of", "2026-06-30")
    assert result.exit_code == 0, result.output


def test_kit_toml_lowers_a_limit_also_for_a_workbook_named_on_the_command_line(tmp_path):
    root = make_project(tmp_path / "社区", BASE)
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_cells = 32\n")
    result = run_kit(root, "validate", "sheets/ledger.xlsx", "--as-of", "2026-06-30")
    assert result.exit_code == 2 and "max_cells" in result.output, result.output


def test_kit_toml_limits_reach_every_command_that_reads(tmp_path):
    root = make_project(tmp_path / "社区", BASE)
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_sheets = 2\n")
    for command in (["validate"], ["balances"], ["handouts"], ["report", "--quarter", "2026Q1"]):
        result = run_kit(root, *command)
        assert result.exit_code == 2 and "max_sheets" in result.output, (command, result.output)


def test_kit_toml_limits_are_read(tmp_path):
    root = make_project(tmp_path / "社区", BASE)
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_file_mb = 300\nmax_ratio = 250.5\nmax_cells = 20000000\n")
    project = load_project(root)
    assert project.limits == ReadLimits(max_file_mb=300, max_ratio=250.5, max_cells=20_000_000)
    assert project.warnings == ()


@pytest.mark.parametrize("line", ["max_columns = 0", "max_columns = -5", 'max_columns = "很多"', "max_columns = true"])
def test_kit_toml_limits_must_be_positive_numbers(tmp_path, line):
    root = make_project(tmp_path / "社区", BASE)
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[limits]\n{line}\n")
    with pytest.raises(ProjectError) as caught:
        load_project(root)
    assert "limits.max_columns" in caught.value.message


def test_an_unknown_limit_is_warned_about(tmp_path):
    root = make_project(tmp_path / "社区", BASE)
    with (root / "kit.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[limits]\nmax_rows = 10\n")
    assert any("limits.max_rows" in w for w in load_project(root).warnings)


# the sheet scan (kit/sources/xlsx_errors.py)

def test_the_quick_pattern_skips_exactly_the_usual_cells_within_bounds():
    from kit.limits import column_letters
    from kit.sources.xlsx_errors import _odd_cell_pattern

    odd = (b' t="e">', b' r="A1">', b' cm="1">', b" r='A1'>")
    for rows_ok, columns_ok in [(1, 1), (10, 26), (99, 703), (4096, 1), (8192, 11), (1_007_616, 30), (1_048_576, 256)]:
        pattern = _odd_cell_pattern(rows_ok, columns_ok)
        for row in {1, 9, 10, 11, 99, 100, 101, max(rows_ok - 1, 1), rows_ok, rows_ok + 1, 1_048_576, 1_048_577}:
            for column in (1, 2, 11, 12, 26, 27, 52, 256, 257, 702, 703, 704, 16_384):
                for rest in (b">", b' s="3">', b' t="s">', b' s="1" t="str">', b' t="inlineStr">', b"/>", *odd):
                    tag = b'<c r="%s%d"%s' % (column_letters(column).encode(), row, rest)
                    usual = row <= rows_ok and column <= columns_ok and rest not in odd
                    assert (pattern.search(tag) is None) == usual, (rows_ok, columns_ok, tag)


def chunked(data: bytes):
    return lambda: iter([data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)])


def test_the_scan_follows_cells_without_r_as_calamine_counts_them():
    from kit.sources.xlsx_errors import scan_sheet

    data = (b'<worksheet><sheetData><row r="7"><c><v>1</v></c><c r="C7"><v>1</v></c><c><v>1</v></c></row>'
            b"<row><c/><c><v>1</v></c></row><!-- <row r=\"1\"> --></sheetData></worksheet>")
    scan = scan_sheet(chunked(data), ReadLimits())
    assert scan.exact and (scan.rows, scan.columns) == (8, 4)  # D7 after C7; B8 in the row after


@pytest.mark.parametrize("body", [b'<c "' * 500_000, b"<!--" * 500_000, b"<f " * 500_000,
                                  b"<c>" + b'<c "x" ' * 300_000, b'<row r="2">' + b'<c r="B2" s="1"/>' * 200_000])
def test_crafted_xml_cannot_make_the_scan_slow(body):
    import time

    from kit.errors import UnsafeWorkbook
    from kit.sources.xlsx_errors import scan_sheet

    start = time.perf_counter()
    try:
        scan_sheet(chunked(b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row>' + body), ReadLimits())
    except UnsafeWorkbook:
        pass
    assert time.perf_counter() - start < 2
