"""`kit handouts`: print-ready PDFs with the community's own rules, a QR code to the site,
the date and the site address, and no personal data on the public poster.

PDFs are read back the way a reader sees them: text extracted with pypdfium2, pages
rendered and the QR code decoded with zbar (not the library that drew it).
One project's handouts are made once per module and shared.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from pyzbar.pyzbar import ZBarSymbol, decode

from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.views import site_view
from tests.conftest import BASE, make_project, run_kit
from tests.test_site_privacy import RESIDENTS, SITE_URL, STAFF, privacy_workbook

AS_OF = dt.date(2026, 6, 30)
LEAFLET, CARD, AGENDA, POSTER = "居民宣传单.pdf", "工作人员速查卡.pdf", "培训日程.pdf", "公示栏海报.pdf"
HANDOUTS = (LEAFLET, CARD, AGENDA, POSTER)
ONE_PAGE = (LEAFLET, CARD, POSTER)
A4, A3 = (595, 842), (842, 1191)  # points
COMMUNITY = "幸福社区积分"


def make_handouts(project: Path, out: Path, as_of: dt.date = AS_OF):
    return run_kit(project, "handouts", "-o", str(out), "--as-of", as_of.isoformat())


def pdf_pages(path: Path) -> list[tuple[tuple[int, int], str]]:
    """(size in points, extracted text) of every page."""
    pdf = pdfium.PdfDocument(path)
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            width, height = page.get_size()
            pages.append(((round(width), round(height)), page.get_textpage().get_text_range()))
        return pages
    finally:
        pdf.close()


def pdf_text(path: Path) -> str:
    return "\n".join(text for _, text in pdf_pages(path))


def compact(text: str) -> str:
    """Without whitespace: table cells and lines wrap differently from the source."""
    return re.sub(r"\s+", "", text.replace("\u00a0", " ").replace("\u3000", " "))


def qr_codes(path: Path, scale: float = 3) -> list[bytes]:
    pdf = pdfium.PdfDocument(path)
    try:
        image = pdf[0].render(scale=scale).to_pil()
    finally:
        pdf.close()
    return [symbol.data for symbol in decode(image, symbols=[ZBarSymbol.QRCODE])]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("handouts") / "project", privacy_workbook())


@pytest.fixture(scope="module")
def out(project) -> Path:
    folder = project / "handouts-out"
    result = make_handouts(project, folder)
    assert result.exit_code == 0, (result.output, result.exception)
    return folder


@pytest.fixture(scope="module")
def book_and_view(project):
    result = validate(open_source(project / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors, result.errors
    return result.book, site_view(result.book, result.ledger)


@pytest.fixture(scope="module")
def texts(out) -> dict[str, str]:
    return {name: pdf_text(out / name) for name in HANDOUTS}


def test_four_pdfs_are_made(out):
    assert sorted(p.name for p in out.iterdir()) == sorted(HANDOUTS)


def test_page_sizes_and_counts(out):
    for name in HANDOUTS:
        pages = pdf_pages(out / name)
        assert pages, name
        expected = A3 if name == POSTER else A4
        assert all(size == expected for size, _ in pages), (name, [s for s, _ in pages])
        if name in ONE_PAGE:
            assert len(pages) == 1, (name, len(pages))


def test_every_handout_carries_community_date_and_site_address(texts):
    for name, text in texts.items():
        flat = compact(text)
        assert COMMUNITY in flat, name
        assert AS_OF.isoformat() in flat, name
        assert SITE_URL in flat, name


def test_leaflet_has_the_workbooks_menu_rewards_and_bonuses(texts, book_and_view):
    book, _ = book_and_view
    flat = compact(texts[LEAFLET])
    for rule in book.rules:
        assert compact(f"{rule.name}{rule.points}分") in flat, rule.name
    for reward in book.rewards:
        assert compact(f"{reward.name}") in flat and compact(f"{reward.cost}分") in flat, reward.name
    for bonus in book.bonuses:
        assert bonus.name in flat, bonus.name
    assert str(book.settings.notice_days) in flat and str(book.settings.decay_after_months) in flat


def test_staff_card_names_the_double_review_rules(texts, book_and_view):
    book, _ = book_and_view
    flat = compact(texts[CARD])
    doubles = [r.name for r in book.rules if r.double_review and r.active]
    assert doubles and all(name in flat for name in doubles)
    assert compact(f"公示{book.settings.notice_days}天") in flat or str(book.settings.notice_days) in flat


def test_agenda_follows_the_course_page(project, texts):
    """The trainer's agenda is docs/training/40-course.md with its placeholders filled."""
    course = (project / "docs" / "training" / "40-course.md").read_text(encoding="utf-8")
    flat = compact(texts[AGENDA])
    headings = [line.lstrip("#").strip() for line in course.splitlines() if line.startswith("## ")]
    assert headings
    for heading in headings:
        if "{{" not in heading:
            assert compact(re.sub(r"[*`]", "", heading)) in flat, heading
    assert "{{" not in flat and "}}" not in flat


def test_poster_shows_the_notice_by_code_and_rankings_by_display_name(texts, book_and_view):
    _, view = book_and_view
    flat = compact(texts[POSTER])
    notice = view.notice.lines
    assert notice, "the workbook should have entries in the notice window"
    shown = notice[:min(len(notice), 22)]
    for line in shown:  # the same suppressed notice as the site: codes, no names
        assert compact(line.code) in flat, line.code
        assert compact(line.activity) in flat, line.activity
    boards = [b for b in view.ranking.community if not b.suppressed]
    assert boards, "the workbook should have rankings"
    for board in boards:
        for row in board.rows[:8]:
            assert compact(row.name) in flat, (board.title, row.name)
    assert any(line.under_appeal for line in shown) and "申诉中" in flat  # an open appeal is marked, as on the site


def test_no_handout_carries_personal_data(texts):
    staff_names = [name for _, name, _ in STAFF]
    for name, text in texts.items():
        flat = compact(text)
        for rid, full_name, _grid, _birth, phone, _consent, token, _status in RESIDENTS:
            assert full_name not in flat, (name, full_name)
            assert phone not in flat, (name, phone)
            assert rid not in flat and token not in flat, (name, rid)
        for staff in staff_names:
            assert staff not in flat, (name, staff)


def test_each_first_page_has_a_qr_code_to_the_site(out):
    for name in HANDOUTS:
        assert qr_codes(out / name, scale=3) == [SITE_URL.encode()], name


def test_font_is_embedded(out):
    for name in HANDOUTS:
        data = (out / name).read_bytes()
        assert b"/FontFile" in data, name


def test_same_inputs_give_byte_identical_pdfs(project, out, tmp_path):
    again = tmp_path / "again"
    result = make_handouts(project, again)
    assert result.exit_code == 0, result.output
    for name in HANDOUTS:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_the_date_is_the_as_of_date(project, tmp_path):
    result = make_handouts(project, tmp_path / "later", AS_OF + dt.timedelta(days=1))
    assert result.exit_code == 0, result.output
    flat = compact(pdf_text(tmp_path / "later" / LEAFLET))
    assert (AS_OF + dt.timedelta(days=1)).isoformat() in flat and AS_OF.isoformat() not in flat


def test_without_the_course_page_handouts_stop_with_a_clear_error(tmp_path):
    sheets = copy.deepcopy(BASE)
    sheets["设置"].append(["网站地址", SITE_URL])
    root = make_project(tmp_path / "project", sheets)
    (root / "docs" / "training" / "40-course.md").unlink()
    result = make_handouts(root, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "docs/training/40-course.md" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half made


# --------------------------------------------------------------------------- a long menu still fits


def big_workbook() -> dict[str, list[list[object]]]:
    """16 rules and 10 rewards with long names, 6 bonuses, 30 residents with entries in the notice window."""
    sheets = copy.deepcopy(BASE)
    sheets["设置"] += [["网站地址", SITE_URL], ["单位", "幸福街道综合治理中心"]]
    sheets["积分规则"] = [sheets["积分规则"][0]] + [
        [f"R{i:02d}", f"社区公益活动第{i + 1}项（含楼道清洁与垃圾分类督导）", f"类别{i % 5}", 5 + i,
         "小时" if i % 2 else "次", 40 if i % 3 else None, "是" if i % 4 == 0 else "否",
         "所有居民、青年志愿者、退休党员", "每次活动请在服务站签到并拍照留存", "是"]
        for i in range(16)]
    sheets["奖品"] = [["编码", "名称", "类型", "所需积分", "库存", "说明"]] + [
        [f"JP{i}", f"生活用品大礼包第{i + 1}号（洗衣液、大米、食用油）", "物质", 30 + 10 * i, 100, None]
        for i in range(10)]
    sheets["加分规则"] = [["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"]] + [
        [f"加分活动{i}（春节平安积分、夜间巡逻双倍）", None, f"R{i:02d}", None, None, dt.time(20, 0), dt.time(6, 0), 2]
        for i in range(6)]
    residents, entries = [sheets["居民"][0]], [sheets["积分记录"][0]]
    for i in range(30):
        residents.append([f"P{i + 1:03d}", f"居民{chr(0x4e00 + i * 7)}{chr(0x4e00 + i * 13)}", "G1" if i % 2 else "G2",
                          1950 + i, f"139{i:08d}", "是" if i % 3 else "否", None, "在册"])
        for day in (20, 26, 28):
            code = f"R{i % 16:02d}"
            entries.append([f"E{len(entries)}", dt.date(2026, 6, day), dt.time(10, 0), f"P{i + 1:03d}", code, 1, None,
                            "S1", "S2", "S3" if (i % 16) % 4 == 0 else None, "通过"])
    sheets["居民"], sheets["积分记录"] = residents, entries
    return sheets


@pytest.fixture(scope="module")
def big_out(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("big") / "project", big_workbook())
    result = validate(open_source(root / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors, result.errors
    folder = root / "out"
    made = make_handouts(root, folder)
    assert made.exit_code == 0, (made.output, made.exception)
    return folder


def test_long_menu_leaflet_card_and_poster_stay_on_one_sheet(big_out):
    for name in ONE_PAGE:
        pages = pdf_pages(big_out / name)
        assert len(pages) == 1, (name, len(pages))
        assert pages[0][0] == (A3 if name == POSTER else A4), name


def test_long_menu_leaflet_still_lists_the_menu(big_out):
    flat = compact(pdf_text(big_out / LEAFLET))
    names = [row[1] for row in big_workbook()["积分规则"][1:]]
    shown = [name for name in names if compact(name) in flat]
    assert len(shown) >= 14, shown  # 14 rules fit on the sheet; more are on the site
    rewards = [row[1] for row in big_workbook()["奖品"][1:]]
    assert len([r for r in rewards if compact(r) in flat]) >= 8
    assert SITE_URL in flat and qr_codes(big_out / LEAFLET) == [SITE_URL.encode()]


def test_long_notice_poster_has_names_but_no_personal_data(big_out):
    flat = compact(pdf_text(big_out / POSTER))
    for _rid, full_name, *_rest in big_workbook()["居民"][1:]:
        assert full_name not in flat, full_name
    for row in big_workbook()["居民"][1:]:
        assert row[4] not in flat, row[4]
    assert qr_codes(big_out / POSTER) == [SITE_URL.encode()]
