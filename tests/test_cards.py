"""`kit cards`: card tokens written safely into the staff's workbook, and the printable A4 PDF.

Everything goes through the real command in a real project folder; the PDF is
checked by rendering it (pypdfium2) and decoding the QR codes with zbar, a
different QR implementation from the one that drew them.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import os
import re
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as zbar_decode

from kit.card_tokens import plan_tokens, token_columns
from kit.write_back import WorkbookChanged, file_digest, write_columns
from kit.cards import cards_for, write_cards_pdf
from kit.pipeline import open_source, validate
from kit.privacy import public_names
from kit.tokens import file_id, normalize
from tests.conftest import AS_OF, BASE, make_project, run_kit, write_ods

SITE_URL = "https://jf.example.cn/"
SECRET = dict((row[0], row[1]) for row in BASE["设置"][1:])["化名密钥"]
WORKBOOK = Path("sheets") / "ledger.xlsx"
A4_POINTS = (595, 842)
CARDS_PER_PAGE = 10

# Residents already holding tokens, in the forms staff may have typed them.
HELD = {
    "R3": ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "R4": ("2345 67AB CDEF GH1J KLMN 0PQR ST", "234567ABCDEFGHIJKLMNOPQRST"),  # spaced, 1/0 for I/O
    "R8": ("mnop-qrst-uvwx-yz23-4567-abcd-ef", "MNOPQRSTUVWXYZ234567ABCDEF"),  # grouped, lower case
}

# id, name, grid, status; names are two distinct characters so none is part of another.
RESIDENTS = [
    ("R1", "张三", "G1", "在册"),
    ("R2", "李四", "G2", "在册"),
    ("R3", "王五", "G1", "在册"),
    ("R4", "赵六", "G2", "在册"),
    ("R5", "钱七", "G1", "迁出"),
    ("R6", "孙八", "G1", "在册"),
    ("R7", "周九", "G2", "在册"),
    ("R8", "吴十", "G1", "在册"),
    ("R9", "郑一", "G2", "在册"),
    ("R10", "冯二", "G1", "在册"),
    ("R11", "陈强", "G2", "在册"),
    ("R12", "褚红", "G1", "在册"),
    ("R13", "卫东", "G2", "在册"),
]
ACTIVE = [rid for rid, _, _, status in RESIDENTS if status == "在册"]
NAMES = {rid: name for rid, name, _, _ in RESIDENTS}
GRID_NAMES = {"G1": "第一网格", "G2": "第二网格"}


def ledger_sheets(site_url: str | None = SITE_URL, card_column: bool = True) -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    if site_url is not None:
        sheets["设置"].append(["网站地址", site_url])
    header = sheets["居民"][0]
    assert header[6] == "卡号"
    rows = [header]
    for index, (rid, name, grid, status) in enumerate(RESIDENTS):
        token = HELD[rid][0] if rid in HELD else None
        rows.append([rid, name, grid, 1950 + index, None, "否", token, status])
    if not card_column:
        rows = [row[:6] + row[7:] for row in rows]
    sheets["居民"] = rows
    return sheets


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "幸福社区", ledger_sheets())


# --- helpers --------------------------------------------------------------------------------


def validated(project: Path):
    return validate(open_source(project / WORKBOOK), AS_OF)


def tokens_in_workbook(project: Path) -> dict[str, str | None]:
    """resident id → card token, as the kit reads it back from the workbook."""
    result = validated(project)
    assert result.errors == (), [p.code for p in result.errors]
    return {r.resident_id: r.card_token for r in result.book.residents}


def cells(path: Path) -> dict[tuple[str, int, int], object]:
    """Every non-empty cell of every sheet: (sheet, row, column) → value."""
    wb = openpyxl.load_workbook(path)
    found = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    found[(ws.title, cell.row, cell.column)] = cell.value
    return found


def header_row(path: Path, sheet: str = "居民") -> list[object]:
    ws = openpyxl.load_workbook(path)[sheet]
    return [c.value for c in ws[1]]


def backups(project: Path) -> list[Path]:
    folder = project / "sheets" / "备份"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def tree(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under folder (hidden files included), except
    the kept parse in .kit-cache/ (the kit's own, rebuilt from the workbook at will)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".kit-cache" not in p.relative_to(folder).parts}


def pdf_pages_qr(pdf_path: Path, expected: int | None = None) -> list[list[str]]:
    """The QR codes zbar finds on each page rendered at scale 4.

    zbar now and then misses one code of a full page; when fewer than `expected`
    codes were found, pages short of a full sheet are decoded again at other scales
    and the finds are merged (a code is never invented, only found again)."""
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        def scan(page, scale: int) -> set[str]:
            image = page.render(scale=scale).to_pil()
            return {d.data.decode("utf-8") for d in zbar_decode(image, symbols=[ZBarSymbol.QRCODE])}

        pages = [scan(page, 4) for page in pdf]
        for scale in (3, 5, 6, 8):
            if expected is None or sum(map(len, pages)) >= expected:
                break
            for index, found in enumerate(pages):
                if len(found) < CARDS_PER_PAGE:
                    found |= scan(pdf[index], scale)
        return [sorted(found) for found in pages]
    finally:
        pdf.close()


def pdf_sizes(pdf_path: Path) -> list[tuple[int, int]]:
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [tuple(round(v) for v in page.get_size()) for page in pdf]
    finally:
        pdf.close()


def pdf_text(pdf_path: Path) -> str:
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def pdf_fonts_embedded(pdf_path: Path) -> list[bool]:
    """For every text object on every page: is its font embedded in the PDF?"""
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        found = []
        for page in pdf:
            for obj in page.get_objects():
                if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
                    font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
                    found.append(bool(pdfium_c.FPDFFont_GetIsEmbedded(font)))
        return found
    finally:
        pdf.close()


def expected_urls(project: Path, resident_ids) -> set[str]:
    tokens = tokens_in_workbook(project)
    return {f"{SITE_URL}me/#{tokens[rid]}" for rid in resident_ids}


def pseudonyms(project: Path) -> dict[str, str]:
    result = validated(project)
    return dict(public_names(SECRET, result.book.residents, dt.date.today()).pseudonym)  # printed today


def printed_pdf(result, project: Path) -> Path:
    """The PDF path the command reports on its ✓ line."""
    match = re.search(r"✓ .*?：(.+\.pdf)\s*$", result.stdout, re.MULTILINE)
    assert match, result.output
    return Path(match.group(1))


def assert_cards_for(project: Path, pdf: Path, chosen: list[str]) -> None:
    """The PDF holds exactly the chosen residents' cards: QR URLs, names, grids and pseudonyms."""
    pages = pdf_pages_qr(pdf, len(chosen))
    found = [url for page in pages for url in page]
    assert len(found) == len(set(found)) == len(chosen), pages
    assert set(found) == expected_urls(project, chosen)
    assert all(len(page) <= CARDS_PER_PAGE for page in pages)
    assert len(pages) == -(-len(chosen) // CARDS_PER_PAGE)
    assert pdf_sizes(pdf) == [A4_POINTS] * len(pages)
    text = pdf_text(pdf)
    names = pseudonyms(project)
    grid_of = {rid: grid for rid, _, grid, _ in RESIDENTS}
    for rid in chosen:
        assert NAMES[rid] in text, rid
        assert GRID_NAMES[grid_of[rid]] in text, rid
        assert names[rid] in text, rid
    for rid in set(NAMES) - set(chosen):
        assert NAMES[rid] not in text, rid
        assert names[rid] not in text, rid
    for grid, grid_name in GRID_NAMES.items():
        if all(grid_of[rid] != grid for rid in chosen):
            assert grid_name not in text


def run_ok(project: Path, *args: str):
    result = run_kit(project, "cards", *args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def refused(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(r"[\u4e00-\u9fff]", result.stderr), result.stderr
    return result.stderr


# --- tokens written into the workbook ---------------------------------------------------------


def test_cards_fills_missing_tokens_safely(project):
    workbook = project / WORKBOOK
    before_bytes = workbook.read_bytes()
    before_cells = cells(workbook)
    before_book = validated(project)
    assert before_book.errors == ()
    before_tokens = {r.resident_id: r.card_token for r in before_book.book.residents}
    missing = sorted(rid for rid, token in before_tokens.items() if token is None)
    assert set(missing) == set(NAMES) - set(HELD)

    result = run_ok(project)

    # every resident now has a valid token; those who had one keep it
    after_tokens = tokens_in_workbook(project)
    assert set(after_tokens) == set(NAMES)
    for rid, token in after_tokens.items():
        assert token is not None and normalize(token) == token, (rid, token)
    for rid, (_, canonical) in HELD.items():
        assert after_tokens[rid] == canonical
    assert len(set(after_tokens.values())) == len(after_tokens)  # no two residents share one

    # the output says how many were written and names the backup
    assert f"{len(missing)} 位居民" in result.stdout
    [backup] = backups(project)
    assert backup.suffix == ".xlsx"
    assert backup.name in result.stdout
    assert backup.read_bytes() == before_bytes

    # only the empty 卡号 cells changed; the held tokens stay as the staff typed them
    after_cells = cells(workbook)
    card_column = header_row(workbook).index("卡号") + 1
    rows = {r.resident_id: r.row for r in before_book.book.residents}
    new_cells = {("居民", rows[rid], card_column) for rid in missing}
    assert {key: after_cells[key] for key in new_cells} == {("居民", rows[rid], card_column): after_tokens[rid]
                                                            for rid in missing}
    assert {k: v for k, v in after_cells.items() if k not in new_cells} == before_cells
    for rid, (typed, _) in HELD.items():
        assert after_cells[("居民", rows[rid], card_column)] == typed

    # the workbook still validates, with the same data apart from the new tokens
    after_book = validated(project)
    assert after_book.errors == ()
    assert [p.code for p in after_book.problems] == [p.code for p in before_book.problems]
    stripped = tuple(dataclasses.replace(r, card_token=None) for r in after_book.book.residents)
    assert dataclasses.replace(after_book.book, residents=stripped) == dataclasses.replace(
        before_book.book, residents=tuple(dataclasses.replace(r, card_token=None)
                                          for r in before_book.book.residents))

    # nothing else left beside the workbook (no temporary file)
    assert sorted(os.listdir(project / "sheets")) == ["ledger.xlsx", "备份"]
    assert os.listdir(project / "sheets" / "备份") == [backup.name]

    # the PDF went to the private folder, not the site
    pdf = printed_pdf(result, project)
    assert pdf.is_file()
    assert pdf.resolve().is_relative_to((project / "private").resolve())
    assert pdf.suffix == ".pdf"
    assert not (project / "site").exists() or not list((project / "site").rglob("*.pdf"))


def test_missing_card_column_is_added(tmp_path):
    project = make_project(tmp_path / "p", ledger_sheets(card_column=False))
    workbook = project / WORKBOOK
    before_header = header_row(workbook)
    assert "卡号" not in before_header
    before_cells = cells(workbook)
    before_bytes = workbook.read_bytes()

    result = run_ok(project)

    assert header_row(workbook) == before_header + ["卡号"]
    tokens = tokens_in_workbook(project)
    assert set(tokens) == set(NAMES)
    assert all(token is not None and normalize(token) == token for token in tokens.values())
    assert len(set(tokens.values())) == len(tokens)
    after_cells = cells(workbook)
    column = len(before_header) + 1
    added = {k for k in after_cells if k[0] == "居民" and k[2] == column}
    assert len(added) == 1 + len(NAMES)  # header and one token per resident
    assert {k: v for k, v in after_cells.items() if k not in added} == before_cells
    [backup] = backups(project)
    assert backup.read_bytes() == before_bytes
    assert backup.name in result.stdout
    assert sorted(os.listdir(project / "sheets")) == ["ledger.xlsx", "备份"]


def test_second_run_writes_nothing_new(project):
    first = run_ok(project, "-o", "private/first.pdf")
    assert "备份" in first.stdout
    tokens = tokens_in_workbook(project)
    workbook_bytes = (project / WORKBOOK).read_bytes()
    saved = backups(project)
    assert len(saved) == 1

    second = run_ok(project, "-o", "private/second.pdf")

    assert (project / WORKBOOK).read_bytes() == workbook_bytes
    assert backups(project) == saved
    assert "备份" not in second.output
    assert "已写入" not in second.output
    assert tokens_in_workbook(project) == tokens
    first_pages = pdf_pages_qr(project / "private" / "first.pdf", len(ACTIVE))
    second_pages = pdf_pages_qr(project / "private" / "second.pdf", len(ACTIVE))
    assert sorted(u for p in second_pages for u in p) == sorted(u for p in first_pages for u in p)
    assert_cards_for(project, project / "private" / "second.pdf", ACTIVE)
    assert sorted(os.listdir(project / "sheets")) == ["ledger.xlsx", "备份"]


def test_reissue_replaces_one_token_and_the_old_file_disappears_at_the_next_build(project):
    run_ok(project)
    built = run_kit(project, "build", "--as-of", AS_OF.isoformat())
    assert built.exit_code == 0, built.output
    before = tokens_in_workbook(project)
    files = project / "site" / "me" / "d"
    old = before["R1"]
    assert (files / f"{file_id(old)}.bin").is_file()
    pre_reissue = (project / WORKBOOK).read_bytes()
    saved = backups(project)

    result = run_ok(project, "--reissue", "R1")

    assert "补办" in result.stdout
    after = tokens_in_workbook(project)
    assert after["R1"] != old
    assert normalize(after["R1"]) == after["R1"]
    assert {k: v for k, v in after.items() if k != "R1"} == {k: v for k, v in before.items() if k != "R1"}
    new_backups = [b for b in backups(project) if b not in saved]
    assert [b.read_bytes() for b in new_backups] == [pre_reissue]
    assert new_backups[0].name in result.stdout
    # the reissued card alone is printed
    assert_cards_for(project, printed_pdf(result, project), ["R1"])

    rebuilt = run_kit(project, "build", "--as-of", AS_OF.isoformat())
    assert rebuilt.exit_code == 0, rebuilt.output
    assert not (files / f"{file_id(old)}.bin").exists()
    assert (files / f"{file_id(after['R1'])}.bin").is_file()
    for rid in ACTIVE:
        if rid != "R1":
            assert (files / f"{file_id(after[rid])}.bin").is_file(), rid


def test_reissuing_an_unknown_resident_changes_nothing(project):
    run_ok(project)
    workbook_bytes = (project / WORKBOOK).read_bytes()
    saved = backups(project)
    message = refused(run_kit(project, "cards", "--reissue", "R99"))
    assert "R99" in message
    assert (project / WORKBOOK).read_bytes() == workbook_bytes
    assert backups(project) == saved


def test_every_run_keeps_its_own_backup(project):
    """Runs in quick succession (here about 0.3 s each) must not overwrite each other's backup:
    each backup is the only copy of the workbook as it was before that run."""
    run_ok(project)
    states = []
    for _ in range(4):
        states.append((project / WORKBOOK).read_bytes())
        run_ok(project, "--reissue", "R1", "--resident", "R1")
    kept = {hashlib.sha256(b.read_bytes()).hexdigest() for b in backups(project)}
    lost = [index + 1 for index, state in enumerate(states) if hashlib.sha256(state).hexdigest() not in kept]
    assert lost == [], f"the backups made by reissue runs {lost} were overwritten by later runs"


# --- safety: never overwrite someone else's changes, never write a file we cannot write ---------


def test_workbook_changed_after_reading_is_not_overwritten(project):
    workbook = project / WORKBOOK
    digest = file_digest(workbook)  # what `kit cards` records when it reads the file
    result = validate(open_source(workbook), AS_OF)
    plan = plan_tokens(result.book.residents, set())
    assert plan.new
    rows = {r.resident_id: r.row for r in result.book.residents}
    layout = result.tables.layout("residents")

    # meanwhile someone edits the workbook in Excel and saves it
    wb = openpyxl.load_workbook(workbook)
    wb["积分记录"]["G2"] = "有人刚刚在 Excel 里改过"
    wb.save(workbook)
    edited = workbook.read_bytes()
    assert file_digest(workbook) != digest

    backup = workbook.parent / "备份" / "ledger-test.xlsx"
    with pytest.raises(WorkbookChanged):
        write_columns(workbook, digest, layout, token_columns(plan, rows), backup, "卡号")
    assert workbook.read_bytes() == edited
    assert not backup.exists()
    assert not backup.parent.exists()
    assert os.listdir(workbook.parent) == ["ledger.xlsx"]

    # with the digest of the file as it is now, the same call writes (so the refusal above was the check)
    write_columns(workbook, file_digest(workbook), layout, token_columns(plan, rows), backup, "卡号")
    assert backup.read_bytes() == edited
    tokens = tokens_in_workbook(project)
    assert all(tokens[rid] == token for rid, token in plan.new.items())
    assert openpyxl.load_workbook(workbook)["积分记录"]["G2"].value == "有人刚刚在 Excel 里改过"


def test_ods_source_is_refused_without_writing(project):
    ods = write_ods(project / "sheets" / "台账.ods", ledger_sheets())
    assert validate(open_source(ods), AS_OF).errors == ()  # a good workbook, only not writable
    before = tree(project)

    message = refused(run_kit(project, "cards", "sheets/台账.ods"))

    assert "台账.ods" in message and ".xlsx" in message
    assert tree(project) == before  # no backup, no token, no PDF
    assert not (project / "sheets" / "备份").exists()
    assert not (project / "private").exists() or not any((project / "private").iterdir())


def test_without_site_url_nothing_is_written(tmp_path):
    project = make_project(tmp_path / "p", ledger_sheets(site_url=None))
    before = tree(project)
    message = refused(run_kit(project, "cards"))
    assert "网站地址" in message
    assert tree(project) == before
    assert not (project / "private").exists()


@pytest.mark.parametrize("target", ["site/x.pdf", "site/me/cards.pdf", "private/../site/x.pdf"])
def test_pdf_inside_the_site_is_refused_and_nothing_written(project, target):
    built = run_kit(project, "build", "--as-of", AS_OF.isoformat())
    assert built.exit_code == 0, built.output
    before = tree(project)

    message = refused(run_kit(project, "cards", "-o", target))

    assert "site" in message or "网站" in message
    assert not (project / "site" / "x.pdf").exists()
    assert not list((project / "site").rglob("*.pdf"))
    assert not list((project / "site").rglob("*.part"))
    # a refused command leaves the workbook (and everything else) as it was
    assert tree(project / "sheets") == {k[len("sheets/"):]: v for k, v in before.items()
                                        if k.startswith("sheets/")}, "tokens were written although the PDF was refused"
    assert tree(project) == before


# --- the PDF ------------------------------------------------------------------------------------


def test_pdf_of_all_active_residents(project):
    result = run_ok(project)
    pdf = printed_pdf(result, project)
    assert pdf.parent.resolve() == (project / "private").resolve()
    pages = pdf_pages_qr(pdf, len(ACTIVE))
    assert [len(p) for p in pages] == [10, 2]  # 12 active residents, ten cards a page
    assert_cards_for(project, pdf, ACTIVE)  # the moved resident R5 gets a token but no card
    assert "R5" not in ACTIVE and tokens_in_workbook(project)["R5"]


def test_pdf_embeds_its_chinese_font(project):
    pdf = printed_pdf(run_ok(project, "--resident", "R1"), project)
    raw = pdf.read_bytes()
    assert re.search(rb"/FontFile[23]?\b", raw)
    embedded = pdf_fonts_embedded(pdf)
    assert embedded and all(embedded)


@pytest.mark.parametrize("grid", ["G1", "第一网格"])
def test_pdf_for_one_grid(project, grid):
    pdf = printed_pdf(run_ok(project, "--grid", grid), project)
    chosen = [rid for rid, _, g, status in RESIDENTS if g == "G1" and status == "在册"]
    assert len(chosen) == 6
    assert_cards_for(project, pdf, chosen)


def test_pdf_for_named_residents(project):
    result = run_ok(project, "--resident", "R1", "--resident", "R2")
    pdf = printed_pdf(result, project)
    assert_cards_for(project, pdf, ["R1", "R2"])
    # both residents had no token: they were written first and the cards carry the new ones
    assert [b.name for b in backups(project)] and "备份" in result.stdout


def test_pdf_with_output_option_goes_where_asked(project, tmp_path):
    target = tmp_path / "elsewhere" / "cards.pdf"
    result = run_ok(project, "-o", str(target))
    assert target.is_file()
    assert printed_pdf(result, project).resolve() == target.resolve()
    assert not (project / "private").exists() or not list((project / "private").rglob("*.pdf"))
    assert_cards_for(project, target, ACTIVE)


def test_same_cards_on_the_same_day_give_identical_pdfs(project, tmp_path):
    run_ok(project)
    book = validated(project).book
    created = dt.datetime(2026, 6, 30, tzinfo=dt.timezone.utc)
    cards = cards_for(book, ACTIVE, dt.date.today())
    first = tmp_path / "a" / "cards.pdf"
    second = tmp_path / "b" / "other-name.pdf"
    assert write_cards_pdf(cards, first, project / "site", created) == 2
    assert write_cards_pdf(cards_for(book, ACTIVE, dt.date.today()), second, project / "site", created) == 2
    assert first.read_bytes() == second.read_bytes()
    assert not list(first.parent.glob(".*")) and not list(second.parent.glob(".*"))  # no .part left
    assert_cards_for(project, first, ACTIVE)
