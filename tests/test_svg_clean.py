"""kit/svg_clean.py: only a sanitised copy of a trainer's SVG reaches the public site."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from kit.errors import KitError
from kit.svg_clean import MAX_DEPTH, UnsafeSvg, clean_svg

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
WHERE = "docs/training/流程.svg"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

INKSCAPE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg width="210mm" height="100mm" viewBox="0 0 210 100" version="1.1" id="svg5"
   inkscape:version="1.2.2 (b0a8486541, 2022-12-01)" sodipodi:docname="流程.svg"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns="http://www.w3.org/2000/svg" xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <sodipodi:namedview id="namedview7" pagecolor="#ffffff" inkscape:zoom="0.7" />
  <defs id="defs2">
    <linearGradient id="grad1"><stop offset="0" style="stop-color:#1f77b4" /></linearGradient>
  </defs>
  <metadata id="metadata1">
    <rdf:RDF><cc:Work rdf:about="">
      <dc:creator><cc:Agent><dc:title>张伟</dc:title></cc:Agent></dc:creator>
    </cc:Work></rdf:RDF>
  </metadata>
  <g inkscape:label="图层 1" inkscape:groupmode="layer" id="layer1">
    <rect id="rect1" x="10" y="10" width="60" height="30" style="fill:url(#grad1);stroke:#000"
       inkscape:export-filename="/home/zhangwei/Desktop/a.png" />
    <path id="arrow" d="M 70,25 H 100" style="stroke:#000;stroke-width:1" sodipodi:nodetypes="cc" />
    <text xml:space="preserve" x="15" y="28" id="text1"><tspan sodipodi:role="line" id="t1">登记积分</tspan></text>
  </g>
</svg>
"""


def clean(body: str, *, attrs: str = "") -> ElementTree.Element:
    """Clean an SVG wrapped around `body` and parse the output back."""
    src = (f'<svg xmlns="{SVG}" xmlns:xlink="{XLINK}" viewBox="0 0 10 10"{attrs}>'
           f'{body}</svg>').encode()
    return ElementTree.fromstring(clean_svg(src, WHERE))


def tags(root: ElementTree.Element) -> list[str]:
    return [el.tag.removeprefix(f"{{{SVG}}}") for el in root.iter()]


def refused(data: bytes | str) -> str:
    with pytest.raises(UnsafeSvg) as info:
        clean_svg(data.encode() if isinstance(data, str) else data, WHERE)
    assert info.value.code == "unsafe-image" and isinstance(info.value, KitError)
    assert WHERE in info.value.message
    return info.value.message


def test_inkscape_export_keeps_drawing_and_loses_editor_data_and_metadata():
    out = clean_svg(INKSCAPE.encode(), WHERE)
    text = out.decode("utf-8")
    root = ElementTree.fromstring(out)
    assert root.tag == f"{{{SVG}}}svg"
    assert root.get("viewBox") == "0 0 210 100" and root.get("width") == "210mm"
    assert tags(root) == ["svg", "defs", "linearGradient", "stop", "g", "rect", "path", "text", "tspan"]
    rect = root.find(f".//{{{SVG}}}rect")
    assert rect.attrib == {"id": "rect1", "x": "10", "y": "10", "width": "60", "height": "30",
                           "style": "fill:url(#grad1);stroke:#000"}
    assert root.find(f".//{{{SVG}}}path").get("d") == "M 70,25 H 100"
    assert root.find(f".//{{{SVG}}}text").get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
    assert "".join(root.find(f".//{{{SVG}}}text").itertext()) == "登记积分"
    # the author's name, home folder, editor namespaces and the comment are all gone
    for gone in ("张伟", "zhangwei", "inkscape", "sodipodi", "rdf", "metadata", "dc:", "Created with"):
        assert gone not in text, gone
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"")


def test_output_is_deterministic_and_stable():
    once = clean_svg(INKSCAPE.encode(), WHERE)
    assert clean_svg(INKSCAPE.encode(), WHERE) == once
    assert clean_svg(once, WHERE) == once  # cleaning a clean copy changes nothing


def test_script_and_event_handlers_are_removed():
    root = clean('<script>alert(1)</script><script type="text/ecmascript"><![CDATA[fetch("/")]]></script>'
                 '<rect width="5" height="5" onclick="alert(2)" ONMOUSEOVER="alert(3)" fill="red"/>',
                 attrs=' onload="alert(0)"')
    assert tags(root) == ["svg", "rect"]
    assert root.attrib == {"viewBox": "0 0 10 10"}
    assert root.find(f"{{{SVG}}}rect").attrib == {"width": "5", "height": "5", "fill": "red"}
    assert "alert" not in ElementTree.tostring(root, encoding="unicode")


def test_foreign_object_with_html_is_removed_with_its_children():
    root = clean('<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">'
                 '<iframe src="https://evil.example/"></iframe><p>秘密</p></div></foreignObject>'
                 '<circle r="3"/>')
    assert tags(root) == ["svg", "circle"]
    assert "秘密" not in "".join(root.itertext())


def test_external_links_and_references_are_removed():
    root = clean('<a href="https://evil.example/"><rect width="1" height="1"/></a>'
                 '<a xlink:href="javascript:alert(1)"><text>点我</text></a>'
                 '<use href="https://evil.example/sprite.svg#x"/>'
                 '<use xlink:href="https://evil.example/sprite.svg#y"/>'
                 '<use href="#local" x="1"/><use xlink:href="#other"/>')
    assert tags(root) == ["svg", "use", "use", "use", "use"]
    uses = root.findall(f"{{{SVG}}}use")
    assert [u.attrib for u in uses] == [{}, {}, {"href": "#local", "x": "1"}, {f"{{{XLINK}}}href": "#other"}]
    text = clean_svg(ElementTree.tostring(root), WHERE).decode()
    assert "evil" not in text and '<use xlink:href="#other" />' in text
    assert f'xmlns:xlink="{XLINK}"' in text


def test_only_embedded_raster_images_are_kept():
    root = clean('<image href="https://evil.example/track.png" width="1" height="1"/>'
                 '<image xlink:href="http://evil.example/a.jpg"/>'
                 '<image href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="/>'
                 '<image href="data:text/html;base64,PHNjcmlwdD4="/>'
                 f'<image id="logo" href="{PNG}" width="1" height="1"/>'
                 f'<image xlink:href="{PNG.replace("png", "jpeg", 1)}"/>')
    images = root.findall(f"{{{SVG}}}image")
    assert [i.get("href") or i.get(f"{{{XLINK}}}href") for i in images] == [PNG, PNG.replace("png", "jpeg", 1)]
    assert images[0].attrib == {"id": "logo", "href": PNG, "width": "1", "height": "1"}


def test_dangerous_style_and_url_values_are_dropped():
    root = clean('<rect id="a" style="fill:url(https://evil.example/x.svg#g)"/>'
                 '<rect id="b" style="background:url( \'//evil.example/p\' )"/>'
                 '<rect id="c" style="width:expression(alert(1))"/>'
                 '<rect id="d" style="@import \'https://evil.example/a.css\'"/>'
                 '<rect id="e" style="fill:u\\72l(https://evil.example/)"/>'
                 '<rect id="f" style="fill:url(#g1);stroke:url(\'#g2\')"/>'
                 '<rect id="g" fill="url(https://evil.example/#p)" filter="url(#blur)"/>'
                 '<rect id="h" class="java&#9;script:alert(1)" title="JavaScript:x"/>')
    found = {r.get("id"): {k: v for k, v in r.attrib.items() if k != "id"}
             for r in root.findall(f"{{{SVG}}}rect")}
    assert found == {"a": {}, "b": {}, "c": {}, "d": {}, "e": {},
                     "f": {"style": "fill:url(#g1);stroke:url('#g2')"},
                     "g": {"filter": "url(#blur)"}, "h": {}}


def test_style_elements_other_namespaces_comments_and_pis_are_dropped():
    root = clean('<!-- 作者：张伟 --><?xml-stylesheet href="https://evil.example/a.css"?>'
                 '<style>@import url(https://evil.example/a.css);</style>'
                 '<x:thing xmlns:x="urn:x"><rect/></x:thing>'
                 '<svg:g xmlns:svg="http://www.w3.org/2000/svg" id="g"><ellipse rx="1" ry="1"/></svg:g>'
                 '<animate attributeName="href" to="javascript:alert(1)"/><set attributeName="x" to="1"/>'
                 '<text>前<metadata>私密</metadata>后</text>')
    assert tags(root) == ["svg", "g", "ellipse", "text"]
    assert root.find(f"{{{SVG}}}text").text == "前后"  # text beside a dropped element survives
    out = ElementTree.tostring(root, encoding="unicode")
    for gone in ("张伟", "evil", "私密", "<!--", "<?"):
        assert gone not in out


def test_svg_without_namespace_is_published_in_the_svg_namespace():
    out = clean_svg(b'<svg viewBox="0 0 4 4"><circle r="2" onclick="x()"/></svg>', WHERE)
    root = ElementTree.fromstring(out)
    assert tags(root) == ["svg", "circle"] and root.find(f"{{{SVG}}}circle").attrib == {"r": "2"}


@pytest.mark.parametrize("doc", [
    # XXE: an external entity reading a local file
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<svg xmlns="{SVG}"><text>&xxe;</text></svg>',
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "哈哈哈哈哈哈哈哈哈哈">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + f']><svg xmlns="{SVG}"><text>&j;</text></svg>',
    # a plain DOCTYPE as old editors wrote it
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
    f'<svg xmlns="{SVG}"/>',
])
def test_dtd_and_entities_are_refused(doc):
    message = refused(doc)
    assert message == f"{WHERE} 不是安全的 SVG 图片（含有 DOCTYPE/实体声明），请用绘图软件重新导出为普通 SVG。"


@pytest.mark.parametrize("doc", [b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"<svg><rect></svg>",
                                 "<svg>&nbsp;</svg>".encode(), b"not xml at all"])
def test_not_xml_is_refused(doc):
    message = refused(doc)
    assert "不是有效的 SVG 图片" in message and "XML 格式错误" in message


@pytest.mark.parametrize("doc, root", [
    ('<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "html"),
    ('<svg xmlns="urn:not-svg"/>', "svg"),
    ('<x:svg xmlns:x="http://example.com/"/>', "svg"),
])
def test_non_svg_root_is_refused(doc, root):
    assert refused(doc) == (f"{WHERE} 不是 SVG 图片（根元素是 <{root}>，应为 <svg>），"
                            "请用绘图软件重新导出为普通 SVG。")


def test_absurd_nesting_is_refused_not_a_crash():
    deep = f'<svg xmlns="{SVG}">' + "<g>" * (MAX_DEPTH + 5) + "</g>" * (MAX_DEPTH + 5) + "</svg>"
    assert "嵌套超过" in refused(deep)
    ok = f'<svg xmlns="{SVG}">' + "<g>" * 50 + "<rect/>" + "</g>" * 50 + "</svg>"
    assert tags(ElementTree.fromstring(clean_svg(ok.encode(), WHERE))).count("g") == 50
