"""Files that cannot be used at all: one clear Chinese message, never a traceback."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from kit.errors import (
    EncryptedWorkbook,
    KitError,
    MissingColumns,
    MissingSheet,
    UnreadableWorkbook,
    WorkbookNotFound,
)
from kit.pipeline import open_source, validate

from tests.conftest import AS_OF, write_xlsx

CJK = re.compile(r"[\u4e00-\u9fff]")


def failure(path: Path) -> KitError:
    with pytest.raises(KitError) as caught:
        validate(open_source(path), AS_OF)
    error = caught.value
    assert error.exit_status == 2
    assert CJK.search(error.message), error.message
    assert str(error) == error.message
    return error


def test_missing_file(tmp_path):
    error = failure(tmp_path / "台账.xlsx")
    assert type(error) is WorkbookNotFound
    assert error.code == "file-not-found"
    assert "台账.xlsx" in error.message


def test_a_folder_is_not_a_workbook(tmp_path):
    folder = tmp_path / "台账.xlsx"
    folder.mkdir()
    error = failure(folder)
    assert type(error) is WorkbookNotFound
    assert "台账.xlsx" in error.message


def test_empty_file(tmp_path):
    path = tmp_path / "空.xlsx"
    path.write_bytes(b"")
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert error.code == "unreadable-workbook"
    assert "空.xlsx" in error.message


def test_csv_renamed_to_xlsx(tmp_path):
    path = tmp_path / "导出.xlsx"
    path.write_text("记录编号,日期,居民编号\nE1,2026-03-05,R1\n", encoding="utf-8")
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert "导出.xlsx" in error.message


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "照片.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "这不是表格")
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert "照片.xlsx" in error.message


def test_truncated_workbook(tmp_path, base):
    whole = write_xlsx(tmp_path / "whole.xlsx", base).read_bytes()
    path = tmp_path / "下载一半.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert "下载一半.xlsx" in error.message


def test_workbook_with_a_damaged_sheet(tmp_path, base):
    good = write_xlsx(tmp_path / "good.xlsx", base)
    path = tmp_path / "损坏.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            dst.writestr(info, data)
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert "损坏.xlsx" in error.message


@pytest.mark.parametrize("name", ["台账.csv", "台账.txt", "台账.numbers", "台账"])
def test_unsupported_suffix(tmp_path, base, name):
    real = write_xlsx(tmp_path / "real.xlsx", base)
    path = tmp_path / name
    path.write_bytes(real.read_bytes())
    error = failure(path)
    assert type(error) is UnreadableWorkbook
    assert name in error.message
    assert ".xlsx" in error.message  # says what to save it as


def test_workbook_without_the_entries_sheet(tmp_path, base):
    del base["积分记录"]
    error = failure(write_xlsx(tmp_path / "台账.xlsx", base))
    assert type(error) is MissingSheet
    assert error.code == "missing-sheet"
    assert "积分记录" in error.message
    assert "台账.xlsx" in error.message


def test_every_missing_required_sheet_is_named(tmp_path, base):
    del base["积分记录"], base["居民"]
    error = failure(write_xlsx(tmp_path / "台账.xlsx", base))
    assert type(error) is MissingSheet
    assert "积分记录" in error.message and "居民" in error.message
    assert "工作人员" not in error.message.split("现有的工作表")[0]


def test_missing_optional_sheets_are_fine(tmp_path, base):
    del base["设置"]
    result = validate(open_source(write_xlsx(tmp_path / "台账.xlsx", base)), AS_OF)
    assert [p.code for p in result.problems] == ["weak-pseudonym-secret"]  # the only setting without a default


def test_sheet_without_a_required_column(tmp_path, base):
    for row in base["积分记录"]:
        del row[1]  # 日期
    error = failure(write_xlsx(tmp_path / "台账.xlsx", base))
    assert type(error) is MissingColumns
    assert error.code == "missing-columns"
    assert "日期" in error.message
    assert "积分记录" in error.message


def test_every_missing_column_is_named(tmp_path, base):
    grid = base["居民"][0].index("网格")
    for row in base["居民"]:
        del row[grid], row[1]  # 网格 then 姓名
    for row in base["工作人员"]:
        del row[2]  # 角色
    error = failure(write_xlsx(tmp_path / "台账.xlsx", base))
    assert type(error) is MissingColumns
    for words in ("居民", "姓名", "网格", "工作人员", "角色"):
        assert words in error.message


def test_optional_column_may_be_missing(tmp_path, base):
    for row in base["积分记录"]:
        del row[6]  # 备注
    result = validate(open_source(write_xlsx(tmp_path / "台账.xlsx", base)), AS_OF)
    assert result.problems == ()
    assert [e.note for e in result.book.entries] == [None, None]


def test_password_protected_workbook(tmp_path, base):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_xlsx(tmp_path / "plain.xlsx", base)
    locked = tmp_path / "加密.xlsx"
    with plain.open("rb") as source, locked.open("wb") as out:
        OOXMLFile(source).encrypt("mima123", out)
    with pytest.raises(EncryptedWorkbook) as caught:
        validate(open_source(locked), AS_OF)
    assert caught.value.exit_status == 2
    assert "加密.xlsx" in caught.value.message and "密码" in caught.value.message
