"""kit/xlsx_patch.py: a few cells change, every other byte of the workbook stays.

The workbook is made here: openpyxl writes styles, a comment, a table, an image, a chart,
a data validation, conditional formatting and a defined name; then the main sheet is
replaced by Excel-style XML (shared strings with rich text, cached formula values, spans,
x14ac attributes, ignoredErrors, an x14 data validation and sparklines in extLst) and a
pivot table, threaded comments, a calcChain and a WPS cell image part are added by hand.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import struct
import subprocess
import warnings
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
import python_calamine
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.drawing.image import Image
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table

from kit.errors import KitError
from kit.xlsx_patch import PatchError, patch_cells

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET = "xl/worksheets/sheet1.xml"
CHAIN = "xl/calcChain.xml"
STRINGS = ["编号", "姓名", "规则", "分值", "数量", "小计", "居民2", "居民3", "XL", "备注", "E2", "E3", "E4", "E5", "E6",
           "居民5", "居民6"]
RICH = '<si><r><t>普通</t></r><r><rPr><b/><sz val="11"/><color rgb="FFFF0000"/></rPr><t>加粗</t></r></si>'

X14 = ('<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
       'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
       '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
       '<x14:dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1">'
       "<x14:formula1><xm:f>透视!$A$1:$A$3</xm:f></x14:formula1><xm:sqref>G2:G6</xm:sqref>"
       "</x14:dataValidation></x14:dataValidations></ext>"
       '<ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
       'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
       '<x14:sparklineGroups xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
       '<x14:sparklineGroup displayEmptyCellsAs="gap"><x14:colorSeries rgb="FF376092"/>'
       '<x14:colorNegative rgb="FFD00000"/><x14:sparklines><x14:sparkline><xm:f>积分记录!D2:E2</xm:f>'
       "<xm:sqref>H2</xm:sqref></x14:sparkline></x14:sparklines></x14:sparklineGroup>"
       "</x14:sparklineGroups></ext></extLst>")


BOLD = ' s="1"'


def s(text: str) -> str:
    return f'<v>{STRINGS.index(text)}</v>'


SHEET_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac xr" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" '
    'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" '
    'xr:uid="{00000000-0001-0000-0000-000000000000}">'
    '<dimension ref="A1:G10"/><sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>'
    '<sheetFormatPr defaultRowHeight="14.25" x14ac:dyDescent="0.2"/><sheetData>'
    '<row r="1" spans="1:6" x14ac:dyDescent="0.2">'
    + "".join(f'<c r="{c}1"{BOLD if c == "A" else ""} t="s">{s(t)}</c>' for c, t in zip("ABCDEF", STRINGS[:6]))
    + "</row>"
    f'<row r="2" spans="1:6" x14ac:dyDescent="0.2"><c r="A2" t="s">{s("E2")}</c><c r="B2" t="s">{s("居民2")}</c>'
    f'<c r="C2" t="s">{s("XL")}</c><c r="D2" s="2"><v>10</v></c><c r="E2"><v>2</v></c>'
    '<c r="F2"><f>D2*E2</f><v>20</v></c></row>'
    f'<row r="3" spans="1:6" ht="30" customHeight="1" x14ac:dyDescent="0.2"><c r="A3" t="s">{s("E3")}</c>'
    f'<c r="B3" s="3" t="s">{s("居民3")}</c><c r="C3" t="s">{s("XL")}</c><c r="D3"><v>10</v></c>'
    '<c r="E3"><v>3</v></c><c r="F3"><f>D3*E3</f><v>30</v></c></row>'
    f'<row r="4" spans="1:6" x14ac:dyDescent="0.2"><c r="A4" t="s">{s("E4")}</c>'
    f'<c r="B4" t="s"><v>{len(STRINGS)}</v></c>'
    f'<c r="C4" t="s">{s("XL")}</c><c r="D4"><v>10</v></c><c r="E4"><v>4</v></c>'
    '<c r="F4" s="2"><f>D4*E4</f><v>40</v></c></row>'
    f'<row r="5" spans="1:7" x14ac:dyDescent="0.2"><c r="A5" t="s">{s("E5")}</c><c r="B5" t="s">{s("居民5")}</c>'
    f'<c r="C5" t="s">{s("XL")}</c><c r="D5"><v>10</v></c><c r="E5"><v>5</v></c>'
    '<c r="F5"><f>D5*E5</f><v>50</v></c>'
    '<c r="G5" t="str"><f>_xlfn.DISPIMG("ID_0A1B",1)</f><v>=DISPIMG("ID_0A1B",1)</v></c></row>'
    f'<row r="6" spans="1:7" x14ac:dyDescent="0.2"><c r="A6" t="s">{s("E6")}</c><c r="B6" t="s">{s("居民6")}</c>'
    f'<c r="C6" t="s">{s("XL")}</c><c r="D6"><v>10</v></c><c r="E6"><v>6</v></c>'
    '<c r="F6"><f>D6*E6</f><v>60</v></c><c r="G6" s="3"/></row>'
    f'<row r="10" spans="1:1" x14ac:dyDescent="0.2"><c r="A10" t="s">{s("备注")}</c></row>'
    '</sheetData>'
    '<conditionalFormatting sqref="D2:D6"><cfRule type="cellIs" dxfId="0" priority="1" operator="greaterThan">'
    '<formula>5</formula></cfRule></conditionalFormatting>'
    '<dataValidations count="1"><dataValidation type="list" allowBlank="1" showInputMessage="1" '
    'showErrorMessage="1" sqref="C2:C6"><formula1>"XL,TJ"</formula1></dataValidation></dataValidations>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    '<ignoredErrors><ignoredError sqref="A2:A6" numberStoredAsText="1"/></ignoredErrors>'
    '<drawing r:id="rId1"/><legacyDrawing r:id="anysvml"/><tableParts count="1"><tablePart r:id="rId2"/></tableParts>'
    + X14 + "</worksheet>")

PIVOT_CACHE = (f'<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{REL}" refreshOnLoad="1" createdVersion="6" '
               'refreshedVersion="6" minRefreshableVersion="3" recordCount="5"><cacheSource type="worksheet">'
               '<worksheetSource ref="A1:F6" sheet="积分记录"/></cacheSource><cacheFields count="1">'
               '<cacheField name="规则" numFmtId="0"><sharedItems count="1"><s v="XL"/></sharedItems></cacheField>'
               "</cacheFields></pivotCacheDefinition>")
PIVOT_TABLE = (f'<pivotTableDefinition xmlns="{MAIN}" name="数据透视表1" cacheId="1" applyNumberFormats="0" '
               'applyBorderFormats="0" applyFontFormats="0" applyPatternFormats="0" applyAlignmentFormats="0" '
               'applyWidthHeightFormats="1" dataCaption="值" updatedVersion="6" minRefreshableVersion="3" '
               'createdVersion="6" indent="0" outline="1" outlineData="1">'
               '<location ref="A3:A5" firstHeaderRow="1" firstDataRow="1" firstDataCol="0"/>'
               '<pivotFields count="1"><pivotField axis="axisRow" showAll="0"><items count="2"><item x="0"/>'
               '<item t="default"/></items></pivotField></pivotFields><rowFields count="1"><field x="0"/></rowFields>'
               '<rowItems count="2"><i><x/></i><i t="grand"><x/></i></rowItems><colItems count="1"><i/></colItems>'
               '<pivotTableStyleInfo name="PivotStyleLight16" showRowHeaders="1" showColHeaders="1" '
               'showRowStripes="0" showColStripes="0" showLastColumn="1"/></pivotTableDefinition>')
THREADED = ('<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments" '
            f'xmlns:x="{MAIN}"><threadedComment ref="B2" dT="2026-03-05T10:00:00.00" '
            'personId="{6A0A5B3C-0000-4000-8000-000000000001}" id="{6A0A5B3C-0000-4000-8000-000000000002}">'
            "<text>请核对数量</text></threadedComment></ThreadedComments>")
PERSONS = ('<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments" '
           f'xmlns:x="{MAIN}"><person displayName="王芳" id="{{6A0A5B3C-0000-4000-8000-000000000001}}" '
           'userId="wangfang" providerId="None"/></personList>')
CELL_IMAGES = ('<etc:cellImages xmlns:etc="http://www.wps.cn/officeDocument/2017/etCustomData" '
               'xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing">'
               '<etc:cellImage><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="ID_0A1B"/><xdr:cNvPicPr/>'
               "</xdr:nvPicPr></xdr:pic></etc:cellImage></etc:cellImages>")
CALC_CHAIN = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<calcChain xmlns="{MAIN}">'
              '<c r="F2" i="1"/><c r="F3"/><c r="F4"/><c r="F5"/><c r="F6"/><c r="G5"/>'
              '<c r="B1" i="2"/><c r="F4" i="2"/></calcChain>')


def png() -> bytes:
    """A 2×2 red PNG, made with zlib and struct."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def rewrite(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
            stored: tuple[str, ...] = ()) -> bytes:
    """The zip with some members replaced and some added at the end; stored ones not compressed."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            kind = zipfile.ZIP_STORED if info.filename in stored else zipfile.ZIP_DEFLATED
            dst.writestr(zipfile.ZipInfo(info.filename, info.date_time),
                         replace.get(info.filename, src.read(info)), compress_type=kind)
        for name, body in add.items():
            dst.writestr(zipfile.ZipInfo(name, (2026, 3, 5, 10, 0, 0)), body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def insert(xml: bytes, before: str, text: str) -> bytes:
    assert before.encode() in xml
    return xml.replace(before.encode(), text.encode() + before.encode(), 1)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def rich_workbook(tmp_path: Path) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "积分记录"
    ws.append(STRINGS[:6])
    for row in range(2, 7):
        ws.append([f"E{row}", f"居民{row}", "XL", 10, row, f"=D{row}*E{row}"])
    ws["A1"].font = Font(bold=True)
    ws["D2"].number_format = "0.00"
    ws["B3"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["B2"].comment = Comment("请核对数量", "王芳", width=300, height=80)
    validation = DataValidation(type="list", formula1='"XL,TJ"')
    ws.add_data_validation(validation)
    validation.add("C2:C6")
    ws.conditional_formatting.add("D2:D6", CellIsRule(operator="greaterThan", formula=["5"],
                                                      fill=PatternFill("solid", fgColor="FF0000")))
    ws.add_table(Table(displayName="记录表", ref="A1:F6"))
    wb.defined_names["总分"] = DefinedName("总分", attr_text="积分记录!$F$2:$F$6")
    ws.add_image(Image(io.BytesIO(png())), "J2")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=6), titles_from_data=True)
    ws.add_chart(chart, "J8")
    pivot = wb.create_sheet("透视")
    for row, text in enumerate(["XL", "TJ", "行标签", "XL", "总计"], start=1):
        pivot.cell(row, 1, text)
    pivot["B1"] = "=1+1"
    pie = BarChart()
    pie.add_data(Reference(ws, min_col=5, min_row=1, max_row=6), titles_from_data=True)
    wb.create_chartsheet("图表").add_chart(pie)
    wb.save(tmp_path / "openpyxl.xlsx")
    data = (tmp_path / "openpyxl.xlsx").read_bytes()
    parts = members(data)
    assert 'r:id="rId1"' in parts[SHEET].decode() and 'r:id="rId2"' in parts[SHEET].decode()
    book = parts["xl/workbook.xml"].decode().replace(
        "</definedNames>", '</definedNames><calcPr calcId="191029"/><pivotCaches><pivotCache cacheId="1" '
        'r:id="rId90"/></pivotCaches>').replace('<calcPr calcId="124519" fullCalcOnLoad="1" />', "")
    rels = parts["xl/_rels/workbook.xml.rels"]
    for rid, kind, target in [("rId90", f"{REL}/pivotCacheDefinition", "pivotCache/pivotCacheDefinition1.xml"),
                              ("rId91", f"{REL}/sharedStrings", "sharedStrings.xml"),
                              ("rId92", f"{REL}/calcChain", "calcChain.xml"),
                              ("rId93", "http://schemas.microsoft.com/office/2017/10/relationships/person",
                               "persons/person.xml"),
                              ("rId94", "http://www.wps.cn/officeDocument/2020/cellImage", "cellimages.xml")]:
        rels = insert(rels, "</Relationships>", f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>')
    sheet_rels = insert(parts["xl/worksheets/_rels/sheet1.xml.rels"], "</Relationships>",
                        '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2017/10/relationships/'
                        'threadedComment" Target="../threadedComments/threadedComment1.xml"/>')
    types = parts["[Content_Types].xml"]
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    for name, kind in [("/xl/sharedStrings.xml", ct + "sharedStrings+xml"), ("/xl/calcChain.xml", ct + "calcChain+xml"),
                       ("/xl/pivotTables/pivotTable1.xml", ct + "pivotTable+xml"),
                       ("/xl/pivotCache/pivotCacheDefinition1.xml", ct + "pivotCacheDefinition+xml"),
                       ("/xl/threadedComments/threadedComment1.xml", "application/vnd.ms-excel.threadedcomments+xml"),
                       ("/xl/persons/person.xml", "application/vnd.ms-excel.person+xml")]:
        types = insert(types, "</Types>", f'<Override PartName="{name}" ContentType="{kind}"/>')
    strings = (f'<sst xmlns="{MAIN}" count="30" uniqueCount="{len(STRINGS) + 1}">'
               + "".join(f"<si><t>{t}</t></si>" for t in STRINGS) + RICH + "</sst>")
    return rewrite(data, stored=("xl/media/image1.png",), replace={
        SHEET: SHEET_XML.encode(), "xl/workbook.xml": book.encode(), "xl/_rels/workbook.xml.rels": rels,
        "xl/worksheets/_rels/sheet1.xml.rels": sheet_rels, "[Content_Types].xml": types,
    }, add={
        "xl/sharedStrings.xml": strings.encode(), CHAIN: CALC_CHAIN.encode(),
        "xl/pivotCache/pivotCacheDefinition1.xml": PIVOT_CACHE.encode(),
        "xl/pivotTables/pivotTable1.xml": PIVOT_TABLE.encode(),
        "xl/pivotTables/_rels/pivotTable1.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/pivotCacheDefinition" '
            'Target="../pivotCache/pivotCacheDefinition1.xml"/></Relationships>').encode(),
        "xl/worksheets/_rels/sheet2.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/pivotTable" Target="../pivotTables/pivotTable1.xml"/>'
            "</Relationships>").encode(),
        "xl/threadedComments/threadedComment1.xml": THREADED.encode(), "xl/persons/person.xml": PERSONS.encode(),
        "xl/cellimages.xml": CELL_IMAGES.encode(),
    })


# existing shared string with a style, new cell in an existing row, new rows (between and
# after), a formula cell, an empty styled <c/>
PLAN = {(3, 2): "王芳 & <李强>", (3, 8): "新列", (8, 2): "第八行", (12, 3): "最后", (4, 6): "不再是公式",
        (6, 7): "空格"}


@pytest.fixture
def book(tmp_path) -> bytes:
    return rich_workbook(tmp_path)


@pytest.fixture
def patched(book) -> bytes:
    return patch_cells(book, "积分记录", PLAN)


def cell_pattern(ref: str) -> str:
    return rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)'


def test_the_fixture_is_what_the_tests_say(book):
    parts = members(book)
    for name in ["xl/sharedStrings.xml", CHAIN, "xl/pivotTables/pivotTable1.xml", "xl/threadedComments/"
                 "threadedComment1.xml", "xl/media/image1.png", "xl/charts/chart1.xml", "xl/tables/table1.xml",
                 "xl/comments/comment1.xml", "xl/drawings/drawing1.xml"]:
        assert name in parts
    for name, body in parts.items():
        if name.endswith((".xml", ".rels", ".vml")):
            ElementTree.fromstring(body)
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        assert archive.getinfo("xl/media/image1.png").compress_type == zipfile.ZIP_STORED
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(book)).get_sheet_by_name("积分记录").to_python()
    assert sheet[1][5] == 20 and sheet[3][5] == 40 and sheet[2][1] == "居民3" and sheet[3][1] == "普通加粗"


def test_every_other_member_is_byte_identical(book, patched):
    before, after = members(book), members(patched)
    assert list(after) == list(before)  # same names, same order
    with zipfile.ZipFile(io.BytesIO(book)) as a, zipfile.ZipFile(io.BytesIO(patched)) as b:
        assert [i.compress_type for i in a.infolist()] == [i.compress_type for i in b.infolist()]
        assert [i.date_time for i in a.infolist()] == [i.date_time for i in b.infolist()]
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {SHEET, CHAIN}
    # only F4 of sheet 1 left the chain; F4 of sheet 2 stays
    assert after[CHAIN] == before[CHAIN].replace(b'<c r="F3"/><c r="F4"/>', b'<c r="F3"/>')


def test_calc_chain_is_untouched_without_formula_cells(book):
    after = members(patch_cells(book, "积分记录", {(3, 2): "x", (20, 1): "y"}))
    assert {name for name, body in members(book).items() if after[name] != body} == {SHEET}


def test_calc_chain_keeps_the_sheet_of_the_next_entry(book):
    """F2 carries i="1" for the entries after it: removing it must not move them to no sheet."""
    after = members(patch_cells(book, "积分记录", {(2, 6): "x"}))[CHAIN].decode()
    assert '<calcChain xmlns="' + MAIN + '"><c r="F3" i="1"/><c r="F4"/>' in after
    assert '<c r="B1" i="2"/><c r="F4" i="2"/>' in after
    ElementTree.fromstring(after)


def test_only_the_patched_cells_change_in_the_sheet(book, patched):
    before, after = members(book)[SHEET].decode(), members(patched)[SHEET].decode()
    assert '<dimension ref="A1:H12"/>' in after  # widened for H3 and row 12
    assert '<row r="3" spans="1:8" ht="30" customHeight="1" x14ac:dyDescent="0.2">' in after  # for H3
    after = after.replace('<dimension ref="A1:H12"/>', '<dimension ref="A1:G10"/>').replace(
        '<row r="3" spans="1:8"', '<row r="3" spans="1:6"')
    for ref in ["B3", "F4", "G6", "H3"]:
        before, after = re.sub(cell_pattern(ref), "", before), re.sub(cell_pattern(ref), "", after, count=1)
    after = re.sub(r'<row r="(8|12)">.*?</row>', "", after)
    assert after == before
    assert X14 in members(patched)[SHEET].decode()  # extLst byte for byte


def test_patched_cells_are_inline_strings_in_order(patched):
    sheet = members(patched)[SHEET].decode()
    preserve = '<is><t xml:space="preserve">'
    assert f'<c r="B3" s="3" t="inlineStr">{preserve}王芳 &amp; &lt;李强&gt;</t></is></c>' in sheet
    assert f'<c r="F4" s="2" t="inlineStr">{preserve}不再是公式</t></is></c>' in sheet  # <f>, <v> gone
    assert f'<c r="G6" s="3" t="inlineStr">{preserve}空格</t></is></c></row>' in sheet
    assert f'<c r="F3"><f>D3*E3</f><v>30</v></c><c r="H3" t="inlineStr">{preserve}新列</t></is></c></row>' in sheet
    rows = re.findall(r'<row r="(\d+)"', sheet)
    assert rows == ["1", "2", "3", "4", "5", "6", "8", "10", "12"]
    assert f'<row r="8"><c r="B8" t="inlineStr">{preserve}第八行</t></is></c></row><row r="10"' in sheet


def test_formula_and_value_metadata_go_with_the_formula(book):
    """A WPS DISPIMG cell (or an Excel rich value) holds cm/vm: they describe the old value."""
    xml = SHEET_XML.replace('<c r="G5" t="str">', '<c r="G5" t="str" cm="1" vm="2">')
    out = members(patch_cells(rewrite(book, replace={SHEET: xml.encode()}), "积分记录", {(5, 7): "图片已换成文字"}))
    assert '<c r="G5" t="inlineStr"><is><t xml:space="preserve">图片已换成文字</t></is></c></row>' in out[SHEET].decode()
    assert out[CHAIN] == CALC_CHAIN.replace('<c r="G5"/>', "").encode()
    assert out["xl/cellimages.xml"] == CELL_IMAGES.encode()


@pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
def test_cells_read_back_with_calamine_and_openpyxl(book, patched, tmp_path):
    path = tmp_path / "patched.xlsx"
    path.write_bytes(patched)
    (tmp_path / "book.xlsx").write_bytes(book)
    old = python_calamine.CalamineWorkbook.from_path(str(tmp_path / "book.xlsx")).get_sheet_by_name("积分记录").to_python()
    new = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("积分记录").to_python()
    for (row, column), text in PLAN.items():
        assert new[row - 1][column - 1] == text
    for r, line in enumerate(old):  # every other cell reads as before (cached values too)
        for c, value in enumerate(line):
            if (r + 1, c + 1) not in PLAN:
                assert new[r][c] == value, (r + 1, c + 1)
    assert new[1][5] == 20 and new[3][1] == "普通加粗"
    ws = openpyxl.load_workbook(path)["积分记录"]
    for (row, column), text in PLAN.items():
        assert ws.cell(row, column).value == text
    assert ws["F2"].value == "=D2*E2" and ws["B3"].fill.fgColor.rgb == "00FFFF00"
    assert ws.row_dimensions[3].height == 30
    cached = openpyxl.load_workbook(path, data_only=True)["积分记录"]
    assert cached["F3"].value == 30


def load_warnings(data: bytes) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        openpyxl.load_workbook(io.BytesIO(data))
    return sorted(str(w.message) for w in caught)


def test_openpyxl_warns_about_nothing_new(book, patched):
    # openpyxl warns about the x14 extensions it would drop: those of the input, nothing else
    assert load_warnings(patched) == load_warnings(book)


def test_plain_workbook_opens_without_warnings(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "表"
    wb.active.append(["a", 1, "=B1*2"])
    wb.save(tmp_path / "plain.xlsx")
    out = patch_cells((tmp_path / "plain.xlsx").read_bytes(), "表", {(1, 1): "新", (1, 5): "E", (3, 2): "三"})
    assert load_warnings(out) == []
    ws = openpyxl.load_workbook(io.BytesIO(out))["表"]
    assert [ws["A1"].value, ws["E1"].value, ws["B3"].value, ws["C1"].value] == ["新", "E", "三", "=B1*2"]


def test_libreoffice_reads_the_new_values(patched, tmp_path):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice is not installed")
    (tmp_path / "patched.xlsx").write_bytes(patched)
    subprocess.run([office, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(tmp_path),
                    str(tmp_path / "patched.xlsx")], check=True, capture_output=True, timeout=180)
    rows = list(csv.reader((tmp_path / "patched.csv").read_text(encoding="utf-8").splitlines()))
    for (row, column), text in PLAN.items():
        assert rows[row - 1][column - 1] == text
    assert rows[1][5] == "20"


def test_new_rows_in_an_empty_sheet_and_before_the_first_row(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "空"
    wb.create_sheet("有")["C5"] = "原有"
    wb.save(tmp_path / "e.xlsx")
    data = (tmp_path / "e.xlsx").read_bytes()
    xml = members(data)[SHEET]
    assert b"<sheetData></sheetData>" in xml
    data = rewrite(data, replace={SHEET: xml.replace(b"<sheetData></sheetData>", b"<sheetData />")})
    out = patch_cells(data, "空", {(3, 2): "b3", (1, 4): "d1", (3, 1): "a3"})
    sheet = members(out)[SHEET].decode()
    assert re.search(r'<sheetData><row r="1"><c r="D1".*</row><row r="3"><c r="A3".*<c r="B3".*</row></sheetData>',
                     sheet)
    assert '<dimension ref="A1:D3" />' in sheet
    out = patch_cells(out, "有", {(2, 1): "前", (5, 2): "中", (5, 4): "后"})
    sheet = members(out)["xl/worksheets/sheet2.xml"].decode()
    assert re.findall(r'<(?:row|c) r="(\w+)"', sheet) == ["2", "A2", "5", "B5", "C5", "D5"]
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out)).get_sheet_by_name("有")
    assert sheet.start == (1, 0)  # calamine starts at the first row with a value: row 2
    assert sheet.to_python() == [["前", "", "", ""], ["", "", "", ""], ["", "", "", ""], ["", "中", "原有", "后"]]
    wb = openpyxl.load_workbook(io.BytesIO(out))
    assert [wb["空"]["D1"].value, wb["空"]["A3"].value, wb["有"]["A2"].value] == ["d1", "a3", "前"]


def test_text_is_escaped_as_excel_does(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "表"
    wb.save(tmp_path / "t.xlsx")
    texts = {(1, 1): "a&b<c>d\"e'", (2, 1): "  前后空格  ", (3, 1): "换行\n\t制表", (4, 1): "控制\x01\x1f字符",
             (5, 1): "回车\r", (6, 1): "_x0041_ 原样", (7, 1): "]]> 以及 &amp;"}
    out = patch_cells((tmp_path / "t.xlsx").read_bytes(), "表", texts)
    sheet = members(out)[SHEET]
    ElementTree.fromstring(sheet)
    assert "控制_x0001__x001F_字符".encode() in sheet and b"_x005F_x0041_" in sheet
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out)).get_sheet_by_name("表").to_python()
    assert [row[0] for row in rows] == list(texts.values())


def test_xlsm_keeps_its_macros(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "表"
    wb.active["A1"] = "旧"
    wb.save(tmp_path / "m.xlsx")
    vba = bytes(range(256)) * 40
    parts = members((tmp_path / "m.xlsx").read_bytes())
    data = rewrite((tmp_path / "m.xlsx").read_bytes(), replace={
        "[Content_Types].xml": parts["[Content_Types].xml"].replace(
            b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
        .replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>'),
        "xl/_rels/workbook.xml.rels": insert(parts["xl/_rels/workbook.xml.rels"], "</Relationships>",
                                             '<Relationship Id="rId99" Type="http://schemas.microsoft.com/office/'
                                             '2006/relationships/vbaProject" Target="vbaProject.bin"/>'),
    }, add={"xl/vbaProject.bin": vba})
    out = patch_cells(data, "表", {(1, 1): "新"})
    assert members(out)["xl/vbaProject.bin"] == vba
    (tmp_path / "m.xlsm").write_bytes(out)
    wb = openpyxl.load_workbook(tmp_path / "m.xlsm", keep_vba=True)
    assert wb["表"]["A1"].value == "新" and wb.vba_archive.read("xl/vbaProject.bin") == vba
    wb.vba_archive.close()
    rows = python_calamine.CalamineWorkbook.from_path(str(tmp_path / "m.xlsm")).get_sheet_by_name("表").to_python()
    assert rows == [["新"]]


def test_output_is_deterministic(book):
    assert patch_cells(book, "积分记录", PLAN) == patch_cells(book, "积分记录", dict(reversed(PLAN.items())))


def test_prefixed_spreadsheetml(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "表"
    wb.active["B2"] = 5
    wb.save(tmp_path / "p.xlsx")
    data = (tmp_path / "p.xlsx").read_bytes()
    xml = members(data)[SHEET].decode()
    xml = re.sub(r"<(/?)(?=[a-zA-Z])", r"<\1x:", xml).replace(f'<x:worksheet xmlns="{MAIN}"',
                                                                f'<x:worksheet xmlns:x="{MAIN}"')
    out = patch_cells(rewrite(data, replace={SHEET: xml.encode()}), "表", {(2, 3): "c2", (1, 1): "a1"})
    sheet = members(out)[SHEET].decode()
    assert ('<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t xml:space="preserve">a1</x:t></x:is></x:c>'
            "</x:row>") in sheet
    ws = openpyxl.load_workbook(io.BytesIO(out))["表"]
    assert [ws["A1"].value, ws["B2"].value, ws["C2"].value] == ["a1", 5, "c2"]


# -- refusals ----------------------------------------------------------------------------

def refused(data: bytes, sheet: str, cells: dict, *words: str) -> PatchError:
    with pytest.raises(PatchError) as caught:
        patch_cells(data, sheet, cells)
    error = caught.value
    assert isinstance(error, KitError) and error.code == "workbook-unwritable"
    assert re.search(r"[\u4e00-\u9fff]", error.message)
    for word in words:
        assert word in error.message
    return error


def test_refuses_a_missing_sheet(book):
    refused(book, "积分纪录", {(1, 1): "x"}, "积分纪录", "没有")


def test_refuses_what_is_not_a_zip(book):
    refused(b"PK\x03\x04 not really", "表", {(1, 1): "x"}, "不是 .xlsx")
    refused(book[: len(book) // 2], "积分记录", {(1, 1): "x"}, "不是 .xlsx")


def test_refuses_an_encrypted_workbook(tmp_path, book):
    from msoffcrypto.format.ooxml import OOXMLFile

    (tmp_path / "plain.xlsx").write_bytes(book)
    with (tmp_path / "plain.xlsx").open("rb") as source, (tmp_path / "locked.xlsx").open("wb") as out:
        OOXMLFile(source).encrypt("mima123", out)
    refused((tmp_path / "locked.xlsx").read_bytes(), "积分记录", {(1, 1): "x"}, "加密")


def test_refuses_a_chartsheet(book):
    refused(book, "图表", {(1, 1): "x"}, "图表", "不是普通工作表")


def test_refuses_cells_without_a_reference(book):
    xml = SHEET_XML.replace('<c r="A10" t="s">', '<c t="s">')
    refused(rewrite(book, replace={SHEET: xml.encode()}), "积分记录", {(3, 2): "x"}, "保存一次")
    xml = SHEET_XML.replace('<row r="10" spans', '<row spans')
    refused(rewrite(book, replace={SHEET: xml.encode()}), "积分记录", {(3, 2): "x"}, "保存一次")


def test_refuses_cells_out_of_order(book):
    xml = SHEET_XML.replace(f'<c r="A3" t="s">{s("E3")}</c>', f'<c r="C3" t="s">{s("E3")}</c>')
    assert xml != SHEET_XML
    shuffled = rewrite(book, replace={SHEET: xml.encode()})
    refused(shuffled, "积分记录", {(3, 4): "x"}, "保存一次")  # where a cell would be inserted
    patch_cells(shuffled, "积分记录", {(2, 2): "x"})  # another row: calamine places those cells itself
    xml = SHEET_XML.replace('<row r="5"', '<row r="2"')
    refused(rewrite(book, replace={SHEET: xml.encode()}), "积分记录", {(9, 1): "x"}, "保存一次")


def test_refuses_part_of_a_formula_group(book):
    shared = SHEET_XML.replace("<f>D2*E2</f>", '<f t="shared" ref="F2:F3" si="0">D2*E2</f>').replace(
        "<f>D3*E3</f>", '<f t="shared" si="0"/>')
    refused(rewrite(book, replace={SHEET: shared.encode()}), "积分记录", {(2, 6): "x"}, "F2", "公式")
    out = patch_cells(rewrite(book, replace={SHEET: shared.encode()}), "积分记录", {(3, 6): "x"})  # a follower: fine
    assert '<c r="F3" t="inlineStr">' in members(out)[SHEET].decode()
    array = SHEET_XML.replace("<f>D2*E2</f>", '<f t="array" ref="F2:F3">D2:D3*E2:E3</f>')
    refused(rewrite(book, replace={SHEET: array.encode()}), "积分记录", {(3, 6): "x"}, "F3", "公式")


def test_refuses_to_rename_a_table_header(book):
    refused(book, "积分记录", {(1, 2): "名字"}, "B1", "记录表")
    out = patch_cells(book, "积分记录", {(1, 2): "姓名", (1, 7): "新标题"})  # same name, or outside the table
    assert "新标题" in members(out)[SHEET].decode()


def test_refuses_a_sheet_with_a_doctype(book):
    xml = SHEET_XML.replace("<worksheet", '<!DOCTYPE worksheet [<!ENTITY a "b">]><worksheet', 1)
    refused(rewrite(book, replace={SHEET: xml.encode()}), "积分记录", {(1, 9): "x"}, "无法解析")
