"""Printable QR cards (A4, ten business-card-size cards a page, with cut marks).

Cards carry the resident's name, so they are written to the private folder and
handed out on paper; nothing here is ever published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from kit.errors import KitError, OutputError
from kit.model import Book
from kit.pdf import FONT, new_pdf, qr_image, save_pdf
from kit.privacy import public_names
from kit.tokens import grouped

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
CARD_W, CARD_H = 85.0, 54.0  # ISO/IEC 7810 ID-1, a business card
COLUMNS, ROWS = 2, 5
LEFT = (PAGE_W - COLUMNS * CARD_W) / 2
TOP = (PAGE_H - ROWS * CARD_H) / 2
QR_SIZE = 30.0
MARK = 4.0  # length of a cut mark, mm
PERSONAL_PAGE = "me/"


@dataclass(frozen=True)
class Card:
    community: str
    name: str
    grid: str
    pseudonym: str  # this year's: pseudonyms change every year (kit/privacy.py)
    token: str
    url: str
    year: int = 0


def card_url(site_url: str, token: str) -> str:
    """The personal page with the token in the fragment, which browsers never send."""
    return f"{site_url}{PERSONAL_PAGE}#{token}"


def cards_for(book: Book, resident_ids: Iterable[str], on: dt.date) -> list[Card]:
    """Cards of the given residents (who must hold tokens), in the order given, printed on `on`."""
    names = public_names(book.settings.pseudonym_secret, book.residents, on)
    residents = {r.resident_id: r for r in book.residents}
    grids = {g.grid_id: g.grid_name for g in book.grids}
    cards = []
    for rid in resident_ids:
        resident = residents[rid]
        cards.append(Card(book.settings.site_name, resident.name, grids.get(resident.grid_id, resident.grid_id),
                          names.pseudonym[rid], resident.card_token,
                          card_url(book.settings.site_url, resident.card_token), on.year))
    return cards


def choose_residents(book: Book, grid: str | None, residents: tuple[str, ...], reissued: set[str]) -> list[str]:
    """Whose cards to print: a grid's active residents, the ones named, the reissued, or everyone active."""
    known = {r.resident_id for r in book.residents}
    missing = [r for r in residents if r.strip() not in known]
    if missing:
        raise KitError(f"“居民”表中没有这些居民编号（或那一行有错误）：{'、'.join(missing)}。")
    if grid is not None:
        grid_ids = {g.grid_id for g in book.grids if grid.strip() in (g.grid_id, g.grid_name)}
        if not grid_ids:
            raise KitError(f"没有编号或名称为“{grid}”的网格。")
        return [r.resident_id for r in book.residents if r.grid_id in grid_ids and r.status == "active"
                and (not residents or r.resident_id in residents)]
    if residents:
        return [r.strip() for r in residents]
    if reissued:
        return sorted(reissued)
    return [r.resident_id for r in book.residents if r.status == "active"]


def check_output(out: Path, site_dir: Path) -> Path:
    """Where the cards may go: a .pdf anywhere but under the published site."""
    out = Path(out).resolve()
    if out.is_relative_to(Path(site_dir).resolve()):
        raise OutputError(f"积分卡印有居民姓名，不能放进公开网站的文件夹 {site_dir}。请换一个位置（默认是 private/）。")
    if out.suffix.lower() != ".pdf":
        raise OutputError(f"积分卡文件请用 .pdf 作扩展名（现在是“{out.name}”）。")
    return out


def write_cards_pdf(cards: list[Card], out: Path, site_dir: Path, created: dt.datetime,
                    progress: Callable[[int], None] = lambda done: None) -> int:
    """Write the cards to out (never under the published site); returns the page count."""
    out = check_output(out, site_dir)
    pdf = new_pdf("A4", "积分卡", created)
    pdf.set_auto_page_break(False)
    for index, card in enumerate(cards):
        slot = index % (COLUMNS * ROWS)
        if slot == 0:
            pdf.add_page()
            _cut_marks(pdf)
        x = LEFT + (slot % COLUMNS) * CARD_W
        y = TOP + (slot // COLUMNS) * CARD_H
        _card(pdf, card, x, y)
        progress(index + 1)
    save_pdf(pdf, out)
    return pdf.pages_count


def _card(pdf: FPDF, card: Card, x: float, y: float) -> None:
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.1)
    pdf.rect(x + 1, y + 1, CARD_W - 2, CARD_H - 2)  # a faint border inside the cut
    pdf.set_text_color(45, 90, 158)
    pdf.set_font(FONT, size=9)
    pdf.text(x + 4, y + 7, _fit(pdf, card.community, CARD_W - 8))
    pdf.image(qr_image(card.url), x=x + 2.5, y=y + 9.5, w=QR_SIZE + 3, h=QR_SIZE + 3)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT, size=6.5)
    pdf.text(x + 4, y + 46.5, "手机扫码查看我的积分")
    right = x + 38
    pdf.set_font(FONT, size=15)
    pdf.text(right, y + 18, _fit(pdf, card.name, CARD_W - 41))
    pdf.set_font(FONT, size=8)
    pdf.text(right, y + 25, _fit(pdf, card.grid, CARD_W - 41))
    pdf.text(right, y + 31, f"{card.year} 年化名：{card.pseudonym}")
    pdf.set_font(FONT, size=6)
    token = grouped(card.token)
    pdf.text(right, y + 37, "卡号 " + token[:19])
    pdf.text(right + 6.3, y + 40.5, token[20:])
    pdf.set_text_color(90, 90, 90)
    pdf.text(right, y + 46.5, "请妥善保管，丢失请到社区补办")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    while text and pdf.get_string_width(text) > width:
        text = text[:-1]
    return text


def _cut_marks(pdf: FPDF) -> None:
    """Short lines in the margins along every cut, so the sheet can be trimmed with a guillotine."""
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    for column in range(COLUMNS + 1):
        cx = LEFT + column * CARD_W
        pdf.line(cx, TOP - MARK - 1, cx, TOP - 1)
        pdf.line(cx, TOP + ROWS * CARD_H + 1, cx, TOP + ROWS * CARD_H + MARK + 1)
    for row in range(ROWS + 1):
        cy = TOP + row * CARD_H
        pdf.line(LEFT - MARK - 1, cy, LEFT - 1, cy)
        pdf.line(LEFT + COLUMNS * CARD_W + 1, cy, LEFT + COLUMNS * CARD_W + MARK + 1, cy)
