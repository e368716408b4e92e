"""What every printed PDF shares: the embedded Chinese font, QR images, fixed dates."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
from pathlib import Path

import zxingcpp
from fpdf import FPDF

from kit.files import atomic_write
from PIL import Image

FONT = "noto"
TEXT_NODE = re.compile(r">([^<]+)<")


def font_path() -> Path:
    """Noto Sans SC (SIL OFL), installed with the kit: prints on machines without Chinese fonts."""
    return Path(str(importlib.resources.files("pylopdf_fonts_zh_cn") / "NotoSansSC-Regular.otf"))


class KitPDF(FPDF):
    footer_line = ""  # printed at the foot of every page, with the page number

    def footer(self) -> None:
        if not self.footer_line:
            return
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_line}　第 {self.page_no()}/{{nb}} 页")
        self.set_text_color(0, 0, 0)


def new_pdf(page_format: str, title: str, created: dt.datetime, footer: str = "") -> KitPDF:
    """A document with the Chinese font under every style (HTML headings ask for bold)."""
    pdf = KitPDF(format=page_format, unit="mm")
    pdf.footer_line = footer
    pdf.set_creation_date(created)  # no hidden clock: same input and date, same file
    pdf.set_title(title)
    for style in ("", "B", "I", "BI"):
        pdf.add_font(FONT, style=style, fname=str(font_path()))
    pdf.set_font(FONT, size=11)
    return pdf


def qr_image(text: str, scale: int = 8) -> Image.Image:
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    matrix = code.to_image(scale=scale, add_quiet_zones=True)
    height, width = matrix.shape
    return Image.frombuffer("L", (width, height), bytes(matrix), "raw", "L", 0, 1)


def save_pdf(pdf: FPDF, out: Path) -> None:
    """Write beside the target and rename, so a half-written PDF never sits in its place."""
    atomic_write(out, lambda tmp: pdf.output(str(tmp)), "PDF 文件")


def keep_together(html: str) -> str:
    """fpdf2 wraps at spaces when a line has any, which tears Chinese sentences such as
    “公示 7 天” apart; with no-break spaces it wraps between characters instead."""
    return TEXT_NODE.sub(lambda m: ">" + m.group(1).replace(" ", "\u00a0") + "<", html)
