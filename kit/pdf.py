"""What every printed PDF shares: the embedded Chinese font, QR images, fixed dates."""

from __future__ import annotations

import datetime as dt
import importlib.resources
from pathlib import Path

import zxingcpp
from fpdf import FPDF
from PIL import Image

FONT = "noto"


def font_path() -> Path:
    """Noto Sans SC (SIL OFL), installed with the kit: prints on machines without Chinese fonts."""
    return Path(str(importlib.resources.files("pylopdf_fonts_zh_cn") / "NotoSansSC-Regular.otf"))


def new_pdf(page_format: str, title: str, created: dt.datetime) -> FPDF:
    """A document with the Chinese font under every style (HTML headings ask for bold)."""
    pdf = FPDF(format=page_format, unit="mm")
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    pdf.output(str(tmp))
    tmp.replace(out)
