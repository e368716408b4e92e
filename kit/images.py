"""Pictures that trainers put in docs/ are published only as what they claim to be,
and without their metadata (camera, author, GPS position, editing history)."""

from __future__ import annotations

import struct

from kit.errors import KitError
from kit.svg_clean import clean_svg

RASTER = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP"}
IMAGES = (*RASTER, ".svg")
MAX_IMAGE_MB = 5
_PNG = b"\x89PNG\r\n\x1a\n"
# PNG chunks that only carry text, time or camera data; everything needed to draw the picture stays
_PNG_DROPPED = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


class BadImage(KitError):
    code = "bad-image"


def clean_image(data: bytes, suffix: str, where: str) -> bytes:
    """data checked against its file type and stripped of metadata; BadImage otherwise."""
    if len(data) > MAX_IMAGE_MB * 1024 * 1024:
        raise BadImage(f"{where} 有 {len(data) / 1e6:.1f} MB，网站上的图片不能超过 {MAX_IMAGE_MB} MB"
                       "（手机打开会很慢）。请缩小图片后再放进 docs/。")
    suffix = suffix.lower()
    if suffix == ".svg":
        return clean_svg(data, where)
    try:
        if suffix == ".png" and data.startswith(_PNG):
            return _png(data)
        if suffix in (".jpg", ".jpeg") and data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if suffix == ".webp" and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError, ValueError):
        pass
    raise BadImage(f"{where} 不是完好的 {RASTER.get(suffix, suffix)} 图片（文件内容和扩展名不符，或者文件已损坏）。"
                   "请用看图软件打开后重新另存为 PNG 或 JPG。")


def _png(data: bytes) -> bytes:
    out, at = [_PNG], len(_PNG)
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 12 + length
        if end > len(data):
            raise ValueError("truncated chunk")
        if kind not in _PNG_DROPPED:
            out.append(data[at:end])
        at = end
        if kind == b"IEND":
            return b"".join(out)
    raise ValueError("no IEND")


def _jpeg(data: bytes) -> bytes:
    """Drop APP1–APP15 (EXIF, XMP, Photoshop…) and comments; keep APP0 (JFIF) and the image."""
    out, at = [b"\xff\xd8"], 2
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("not a marker")
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the rest is the picture
            out.append(data[at:])
            return b"".join(out)
        if marker in (0x01, *range(0xD0, 0xD8)):
            out.append(data[at:at + 2])
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xE1 <= marker <= 0xEF or marker == 0xFE:
            at += 2 + length
            continue
        out.append(data[at:at + 2 + length])
        at += 2 + length
    raise ValueError("no image data")


def _webp(data: bytes) -> bytes:
    chunks, at = [], 12
    while at + 8 <= len(data):
        kind, length = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        end = at + 8 + length + (length & 1)
        if at + 8 + length > len(data):
            raise ValueError("truncated chunk")
        if kind not in (b"EXIF", b"XMP "):
            chunk = bytearray(data[at:end])
            if kind == b"VP8X":
                chunk[8] &= ~0x0C & 0xFF  # no EXIF, no XMP
            chunks.append(bytes(chunk))
        at = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
