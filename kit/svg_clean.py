"""Sanitise SVG images from docs/ before they are published on the public site.

Allow-list only: known SVG drawing elements and their plain attributes survive; script,
event handlers, external references, foreign namespaces (editor data, metadata with
author names), comments and processing instructions are dropped. A DTD is refused.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from kit.errors import KitError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XLINK_HREF = f"{{{XLINK_NS}}}href"
XML_NS = "http://www.w3.org/XML/1998/namespace"
KEPT_XML_ATTRS = {f"{{{XML_NS}}}space", f"{{{XML_NS}}}lang"}  # not xml:base: it re-targets "#id"
MAX_DEPTH = 200  # drawing programs nest a few dozen levels; deeper is an attack on recursion

ELEMENTS = frozenset("""
    svg g defs symbol use path rect circle ellipse line polyline polygon text tspan textPath
    title desc linearGradient radialGradient stop clipPath mask pattern marker filter image
    feBlend feColorMatrix feComponentTransfer feComposite feConvolveMatrix feDiffuseLighting
    feDisplacementMap feDistantLight feDropShadow feFlood feFuncA feFuncB feFuncG feFuncR
    feGaussianBlur feImage feMerge feMergeNode feMorphology feOffset fePointLight
    feSpecularLighting feSpotLight feTile feTurbulence
""".split())

FRAGMENT = re.compile(r"#[\w.:-]+")
DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|webp);base64,[A-Za-z0-9+/=\s]+")
URL_CALL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)")
BAD_CSS = ("expression(", "@import", "\\")  # a backslash can spell any of these in CSS escapes
SQUEEZE = re.compile(r"[\s\x00-\x1f]+")  # browsers ignore these inside "java script:"


class UnsafeSvg(KitError):
    code = "unsafe-image"


def clean_svg(data: bytes, where: str) -> bytes:
    """A sanitised, deterministic UTF-8 copy of the SVG `data`; `where` names it in messages."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UnsafeSvg(f"{where} 不是安全的 SVG 图片（含有 DOCTYPE/实体声明），"
                        "请用绘图软件重新导出为普通 SVG。") from None
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else "?"
        raise UnsafeSvg(f"{where} 不是有效的 SVG 图片（XML 格式错误，第 {line} 行），"
                        "请用绘图软件重新导出为普通 SVG。") from None
    ns, name = _split(root.tag)
    if name != "svg" or ns not in ("", SVG_NS):
        raise UnsafeSvg(f"{where} 不是 SVG 图片（根元素是 <{name}>，应为 <svg>），"
                        "请用绘图软件重新导出为普通 SVG。")
    out = _copy(root, ns, where, 0)
    # Names are written as plain text (tags unprefixed, "xlink:href"), so declare them here.
    declare = {"xmlns": SVG_NS}
    if any("xlink:href" in el.attrib for el in out.iter()):
        declare["xmlns:xlink"] = XLINK_NS
    out.attrib = {**declare, **out.attrib}
    return tostring(out, encoding="utf-8", xml_declaration=True)


def _split(tag: object) -> tuple[str, str]:
    """("namespace", "local") of an element tag; comments and PIs have no string tag."""
    if not isinstance(tag, str):
        return "?", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _copy(src: Element, ns: str, where: str, depth: int) -> Element:
    """A new (unprefixed) element holding only the allowed parts of `src`."""
    if depth > MAX_DEPTH:
        raise UnsafeSvg(f"{where} 的元素嵌套超过 {MAX_DEPTH} 层，不像绘图软件导出的 SVG 图片，"
                        "请重新导出。")
    local = _split(src.tag)[1]
    out = Element(local)
    for key, value in src.attrib.items():
        if _attr_ok(local, key, value):
            out.set("xlink:href" if key == XLINK_HREF else key, value)
    out.text = src.text
    last: Element | None = None
    for child in src:
        if _element_ok(child, ns):
            last = _copy(child, ns, where, depth + 1)
            last.tail = child.tail
            out.append(last)
        elif child.tail:  # text after a dropped element still belongs to the parent
            if last is None:
                out.text = (out.text or "") + child.tail
            else:
                last.tail = (last.tail or "") + child.tail
    return out


def _element_ok(el: Element, ns: str) -> bool:
    child_ns, local = _split(el.tag)
    if child_ns != ns or local not in ELEMENTS:
        return False
    if local == "image":  # only embedded raster pictures, never a fetched or nested document
        href = el.get("href", el.get(XLINK_HREF, ""))
        return DATA_IMAGE.fullmatch(href.strip()) is not None
    return True


def _attr_ok(element: str, key: str, value: str) -> bool:
    attr_ns, name = _split(key)
    if attr_ns and key != XLINK_HREF and key not in KEPT_XML_ATTRS:
        return False  # inkscape:, sodipodi:, rdf:, xml:base ...
    if name.lower().startswith("on"):
        return False
    if name == "href":
        if element == "image":
            return DATA_IMAGE.fullmatch(value.strip()) is not None
        return FRAGMENT.fullmatch(value.strip()) is not None
    return _value_ok(value)


def _value_ok(value: str) -> bool:
    """No script and no external url(...) in style or presentation attributes (fill, filter...)."""
    flat = SQUEEZE.sub("", value).lower()
    if "javascript:" in flat or any(bad in flat for bad in BAD_CSS):
        return False
    if "url(" in flat:
        targets = [m.group(2) for m in URL_CALL.finditer(flat)]
        return len(targets) == flat.count("url(") and all(t.startswith("#") for t in targets)
    return True
