"""Shared fixtures: small tables written inline in tests become real xlsx files."""

from __future__ import annotations

import copy
import re
import zipfile
import datetime as dt
from html import escape
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from kit.pipeline import Validated, open_source, validate

AS_OF = dt.date(2026, 6, 30)

# A minimal valid workbook; tests copy it and change one thing.
BASE: dict[str, list[list[object]]] = {
    "设置": [["项目", "值"], ["名称", "幸福社区积分"], ["积分有效期(月)", 12], ["化名密钥", "7e57c0de5ec2e7a9b1d4f6083c5a2e91"]],
    "网格": [["网格编号", "网格名称", "所属社区"], ["G1", "第一网格", "幸福社区"], ["G2", "第二网格", "幸福社区"]],
    "工作人员": [
        ["工号", "姓名", "角色"],
        ["S1", "王芳", "登记员"],
        ["S2", "李强", "审核员"],
        ["S3", "赵敏", "管理员"],
    ],
    "居民": [
        ["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态"],
        ["R1", "张三", "G1", 1956, "13800000001", "是", None, "在册"],
        ["R2", "李四", "G2", 1990, None, "否", None, "在册"],
    ],
    "积分规则": [
        ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"],
        ["XL", "治安巡逻", "平安巡防", 10, "小时", 40, "否", "所有居民", None, "是"],
        ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", None, None, "是"],
    ],
    "积分记录": [
        ["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"],
        ["E1", dt.date(2026, 3, 5), dt.time(20, 30), "R1", "XL", 2, None, "S1", "S2", None, "通过"],
        ["E2", dt.date(2026, 3, 6), None, "R2", "TJ", 1, "邻里噪音", "S1", "S2", "S3", "通过"],
    ],
}


# Valid optional sheets (with BASE), so that every sheet can be edited from a valid start.
OPTIONAL = {
    "加分规则": [
        ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
        ["夜间巡逻双倍", "平安巡防", "XL", dt.date(2026, 1, 1), dt.date(2026, 12, 31),
         dt.time(20, 0), dt.time(6, 0), 2],
    ],
    "奖品": [
        ["编码", "名称", "类型", "所需积分", "库存", "说明"],
        ["JP1", "洗衣液", "物质", 10, 5, "一瓶"],
    ],
    "兑换记录": [
        ["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
        ["D1", dt.date(2026, 4, 1), "R1", "JP1", 1, "S1"],
    ],
    "申诉": [
        ["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"],
        ["A1", dt.date(2026, 3, 7), "R1", "E1", "时长记少了", "更正", 30, dt.date(2026, 3, 10)],
    ],
}


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], write_only: bool = False) -> Path:
    """Write sheets (name → rows) to a real xlsx.

    Normal mode writes shared strings like Excel and WPS do; write_only mode
    writes inline strings. The reader must handle both.
    """
    wb = openpyxl.Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return Path(path)


_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def excel_text(text: str) -> str:
    """A string as Excel stores it: characters XML cannot hold (and CR, which XML reads as LF)
    as _xHHHH_; an underscore that would start such an escape as _x005F_."""
    return _XML_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def write_text_xlsx(path: Path, sheets: dict[str, list[list[object]]], special=None) -> Path:
    """Every str as a string cell, never a formula (openpyxl makes "=…" a formula unless told),
    escaped as Excel escapes it. special(cell, value) may write a value itself (returns True)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c)
                if special is not None and special(cell, value):
                    continue
                if isinstance(value, str):
                    cell.value = excel_text(value)
                    cell.data_type = "s"  # text, even when it starts with "="
                else:
                    cell.value = value
    wb.save(path)
    return path


def assert_well_formed(path: Path) -> None:
    """Every XML part of an xlsx parses (Excel calls a file that breaks this corrupt)."""
    broken = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith((".xml", ".rels", ".vml")):
                try:
                    ElementTree.fromstring(archive.read(member))
                except ElementTree.ParseError as exc:
                    broken.append(f"{member}: {exc}")
    assert not broken, f"{path.name} is not a well-formed xlsx: {broken}"


@pytest.fixture
def base() -> dict[str, list[list[object]]]:
    """A deep copy of BASE for the test to edit."""
    return copy.deepcopy(BASE)


@pytest.fixture
def xlsx(tmp_path):
    counter = iter(range(1_000_000))

    def make(sheets: dict[str, list[list[object]]], write_only: bool = False) -> Path:
        return write_xlsx(tmp_path / f"book{next(counter)}.xlsx", sheets, write_only)

    return make


@pytest.fixture
def check(xlsx):
    """Write sheets to xlsx, validate, return the Validated result."""

    def run(sheets: dict[str, list[list[object]]], as_of: dt.date = AS_OF) -> Validated:
        return validate(open_source(xlsx(sheets)), as_of)

    return run


def where(validated: Validated) -> list[tuple[str, int | None, str | None]]:
    """The (code, row, column) list that tests assert on."""
    return [(p.code, p.row, p.column) for p in validated.problems]


def make_project(root: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A community project folder (kit.toml, docs/, mkdocs.yml) whose ledger holds sheets."""
    from kit.project import CONFIG_TEXT, DEFAULT_WORKBOOK, skeleton_dir
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    (root / "kit.toml").write_text(CONFIG_TEXT.format(workbook=DEFAULT_WORKBOOK), encoding="utf-8")
    shutil.copytree(skeleton_dir() / "docs", root / "docs")
    shutil.copyfile(skeleton_dir() / "mkdocs.yml", root / "mkdocs.yml")
    (root / "sheets").mkdir()
    write_xlsx(root / DEFAULT_WORKBOOK, sheets)
    return root


def run_kit(project: Path, *args: str):
    """Run `kit ARGS` inside project, in process; returns click's Result."""
    import os

    from click.testing import CliRunner

    from kit.cli import cli

    here = os.getcwd()
    os.chdir(project)
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(here)


_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f"<text:p>{value.isoformat()}</text:p></table:table-cell>")
    if isinstance(value, dt.time):
        return (f'<table:table-cell office:value-type="time" '
                f'office:time-value="PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S">'
                f"<text:p>{value:%H:%M}</text:p></table:table-cell>")
    if isinstance(value, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def write_ods(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A minimal OpenDocument spreadsheet (ODF 1.2: mimetype, manifest, content.xml)."""
    body = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(map(_ods_cell, row)) + "</table:table-row>" for row in rows)
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} office:version="1.2">'
               f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path
