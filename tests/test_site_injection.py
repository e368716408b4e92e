"""Workbook text reaches the public site as text, never as markup or code.

Every text field that can reach the site (site name, organization, grid names,
rule name/category/unit/audience/description, bonus names and category, reward
names/descriptions, consenting residents' names) is filled with HTML, Markdown
and Jinja payloads — once inline, once split by blank lines (which would end a
raw-HTML block in Markdown) and once as a complete Markdown table. The built
HTML (and the search index, which the theme renders as HTML) is parsed and
checked, and every page is opened in headless Chromium to see that no dialog
ever opens.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kit.serve import serve
from tests.conftest import make_project, run_kit
from tests.test_site_offline import CHROMIUM, PAGES, chromium_site, needs_chromium, open_page, search

AS_OF = dt.date(2026, 6, 30)
JINJA = "测{{ 7*7 }}试"  # rendered by a template engine it would read 测49试
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
            "| a | b |", "**粗体**", JINJA, "{% raw %}"]
INLINE = " ".join(PAYLOADS)
BLOCKS = "\n\n" + "\n\n".join(PAYLOADS) + "\n\n"  # each payload alone between blank lines
TABLE = "| a | b |\n|---|---|\n| c | d |"
SETTING_PAYLOAD = " alert(1) onerror=alert(1) **粗体** [x](javascript:alert(1)) | a | b | #标题 _斜体_"  # Markdown: allowed, never markup


def injection_workbook() -> dict[str, list[list[object]]]:
    residents = [[f"R{i}", payload, "G1" if i % 2 else "G2", 1960 + i, None, "是", None, "在册"]
                 for i, payload in enumerate(PAYLOADS, 1)]
    entries = []
    for i in range(1, len(PAYLOADS) + 1):
        for month in (5, 6):
            day = dt.date(2026, 6, 23 + i) if month == 6 else dt.date(2026, 5, i)
            entries.append([f"E{month}{i}", day, dt.time(21, 0), f"R{i}", "XL" if i % 2 else "TJ", 1, INLINE,
                            "S1", "S2", "S3", "通过"])
    return {
        # < > " ' ` \ { } in these two are errors at their cells (tests/test_site_security.py)
        "设置": [["项目", "值"], ["名称", "幸福社区积分" + SETTING_PAYLOAD], ["单位", "街道中心" + SETTING_PAYLOAD],
                 ["网站地址", "https://jf.example.cn/"], ["化名密钥", "1a7ec7ed5ec2e7b3c4d5e6f708192a3b"],
                 ["最小公布人数", 1]],  # nothing hidden: every payload reaches a page
        "网格": [["网格编号", "网格名称", "所属社区"], ["G1", "一网格" + INLINE, INLINE], ["G2", "二网格" + BLOCKS, INLINE]],
        "工作人员": [["工号", "姓名", "角色"], ["S1", "王芳", "登记员"], ["S2", "李强", "审核员"], ["S3", "赵敏", "管理员"]],
        "居民": [["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态"], *residents],
        "积分规则": [
            ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"],
            ["XL", "巡逻" + INLINE, "平安" + INLINE, 10, "小时" + INLINE, 40, "否", INLINE, INLINE, "是"],
            ["TJ", "调解" + BLOCKS, "调解类" + BLOCKS, 20, "**粗体**", None, "是", TABLE, BLOCKS + TABLE, "是"],
        ],
        "加分规则": [
            ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
            ["夜间" + INLINE, None, "XL", None, None, dt.time(20, 0), dt.time(6, 0), 2],
            ["**粗体**" + BLOCKS, "平安" + INLINE, None, dt.date(2026, 6, 1), None, None, None, 1.5],
            [TABLE, "调解类" + BLOCKS, None, None, None, None, None, 1.2],
        ],
        "积分记录": [["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2",
                      "状态"], *entries],
        "奖品": [["编码", "名称", "类型", "所需积分", "库存", "说明"],
                 ["J1", "毛巾" + INLINE, "物质", 30, 10, INLINE],
                 ["J2", BLOCKS, "服务", 50, None, BLOCKS + TABLE],
                 ["J3", "[x](javascript:alert(1))", "精神", 60, None, "<img src=x onerror=alert(1)>"]],
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("injection") / "project", injection_workbook())
    result = run_kit(root, "build", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, (result.output, result.exception)
    return root / "site"


# --------------------------------------------------------------------------- parsing

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)
    cells: int = 0  # for <tr>: how many td/th
    cell_texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Tree(HTMLParser):
    """Every element with its attributes and full text (entities decoded)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []
        self.data: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag in ("td", "th"):
            for open_ in reversed(self.stack):
                if open_.tag == "tr":
                    open_.cells += 1
                    break
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                closed = self.stack[index]
                del self.stack[index:]
                if tag in ("td", "th"):
                    for open_ in reversed(self.stack):
                        if open_.tag == "tr":
                            open_.cell_texts.append(closed.text.strip())
                            break
                return

    def handle_data(self, data):
        self.data.append(data)
        for element in self.stack:
            element.parts.append(data)

    def text(self) -> str:
        return "".join(self.data)

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag
                and all(v in e.attrs.get(k.rstrip("_"), "").split() for k, v in attrs.items())]


URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcdoc")


def markup_problems(markup: str, where: str) -> list[str]:
    """What in markup shows that workbook text became markup or code."""
    tree = Tree(markup)
    found = []
    for e in tree.elements:
        if e.tag == "script" and ("alert" in e.text or "alert" in e.attrs.get("src", "")):
            found.append(f"{where}: <script> with alert: {e.text[:80]!r} {e.attrs}")
        for name, value in e.attrs.items():
            if name.startswith("on"):
                found.append(f"{where}: <{e.tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES:
                squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if squeezed.startswith(("javascript:", "vbscript:", "data:text/html")):
                    found.append(f"{where}: <{e.tag} {name}={value!r}>")
        if e.tag == "img" and e.attrs.get("src", "").strip() == "x":
            found.append(f"{where}: <img src=x> {e.attrs}")
        if e.tag in ("iframe", "object", "embed", "base", "frame", "frameset"):
            found.append(f"{where}: <{e.tag}> element {e.attrs}")
        if e.tag in ("strong", "em", "b", "i") and e.text.strip() in ("粗体", "*粗体*"):
            found.append(f"{where}: markdown emphasis became <{e.tag}>{e.text}</{e.tag}>")
        if e.tag == "a" and e.text.strip() == "x":
            found.append(f"{where}: markdown link became <a href={e.attrs.get('href')!r}>x</a>")
        if e.tag in ("td", "th") and e.text.strip() in ("a", "b", "c", "d", "---"):
            found.append(f"{where}: markdown table cell <{e.tag}>{e.text.strip()}</{e.tag}>")
    if "测49试" in tree.text() or "测49试" in markup:
        found.append(f"{where}: {JINJA!r} was rendered as a template (测49试)")
    return found


def _html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# --------------------------------------------------------------------------- static checks


def test_payloads_reach_the_pages_as_plain_text(site):
    """Guard: the data really is on the pages (as text), so the checks below mean something."""
    menu = Tree((site / "menu/index.html").read_text(encoding="utf-8")).text()
    rewards = Tree((site / "rewards/index.html").read_text(encoding="utf-8")).text()
    ranking = Tree((site / "ranking/index.html").read_text(encoding="utf-8")).text()
    notice = Tree((site / "notice/index.html").read_text(encoding="utf-8")).text()
    dashboard = Tree((site / "dashboard/index.html").read_text(encoding="utf-8")).text()
    for payload in PAYLOADS:
        assert payload in menu, f"{payload!r} not shown as text on the menu page"
        assert payload in rewards, f"{payload!r} not shown as text on the rewards page"
        assert payload in ranking, f"{payload!r} (grid name) not shown as text on the ranking page"
        assert payload in notice, f"{payload!r} (rule / grid name) not shown as text on the notice page"
    assert "| a | b |\n|---|---|\n| c | d |" in menu  # the whole table text, as text
    assert "一网格" in dashboard and "<script>alert(1)</script>" in dashboard  # grid names in tables and charts
    assert "调解类" in dashboard
    # consenting residents' masked names (first character, *, last character) in the 居民 column
    names = {r.cell_texts[1] for r in Tree((site / "ranking/index.html").read_text(encoding="utf-8")).find("tr")
             if len(r.cell_texts) == 4}
    assert {"<*>", "[*)", "|*|", "***", "测*试", "{*}"} <= names, names


@pytest.mark.parametrize("page", ["index.html", *(f"{p}index.html" for p in PAGES[1:]), "404.html"])
def test_no_markup_or_code_from_data(site, page):
    markup = (site / page).read_text(encoding="utf-8")
    problems = markup_problems(markup, page)
    assert not problems, "\n".join(problems)


def test_every_html_file_is_clean(site):
    """Same checks on every HTML file the build wrote, whatever its name."""
    files = _html_files(site)
    assert len(files) >= len(PAGES) + 1
    problems = [p for f in files for p in markup_problems(f.read_text(encoding="utf-8"), str(f.relative_to(site)))]
    assert not problems, "\n".join(problems)


def test_search_index_fragments_are_clean(site):
    """The theme renders search titles and texts as HTML: they must be escaped too."""
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    assert any("alert(1)" in d["text"] for d in index["docs"])  # the payloads are indexed
    problems = []
    for doc in index["docs"]:
        for key in ("title", "text"):
            fragment = doc[key].replace("\u200b", "")
            problems += markup_problems(fragment, f"search index {doc['location']!r} {key}")
            if re.search(r"<\s*(script|img|iframe|svg|object)\b", fragment, flags=re.I):
                problems.append(f"search index {doc['location']!r} {key}: raw tag in {fragment[:120]!r}")
    assert not problems, "\n".join(problems)


def test_template_syntax_is_not_evaluated(site):
    for page in ("menu/index.html", "rewards/index.html", "notice/index.html", "ranking/index.html"):
        text = Tree((site / page).read_text(encoding="utf-8")).text()
        assert JINJA in text and "{% raw %}" in text, page
        assert "测49试" not in text, page
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".xml"):
            assert "测49试" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("page", [f"{p}index.html" for p in PAGES[1:6]])
def test_tables_keep_their_shape(site, page):
    """`| a | b |` in a cell never becomes extra rows or cells: every row of a table has
    as many cells as its header, and no table beyond those the template writes."""
    expected_width = {"menu": 6, "rewards": 5, "ranking": 4, "notice": 7, "dashboard": 4}[page.split("/")[0]]
    markup = (site / page).read_text(encoding="utf-8")
    article = markup[markup.index("<article"):markup.index("</article>")]
    tree = Tree(article)
    rows = tree.find("tr")
    assert rows, f"no table on {page}"
    bad = [f"{page}: row with {r.cells} cells {r.cell_texts}" for r in rows if r.cells != expected_width]
    assert not bad, "\n".join(bad)
    tables = tree.find("table")
    header_rows = [r for r in rows if r.cell_texts and r.cell_texts[0] in ("活动", "奖品", "名次", "日期", "网格", "年龄段")]
    assert len(tables) == len(header_rows), f"{page}: {len(tables)} tables, {len(header_rows)} header rows"


def _site_name_texts(site: Path, page: str) -> dict[str, str]:
    markup = (site / page).read_text(encoding="utf-8")
    tree = Tree(markup)
    found = {"<title>": tree.find("title")[0].text}
    found["raw <title>"] = re.search(r"<title>(.*?)</title>", markup, flags=re.S).group(1)
    topic = re.search(r'<div class="md-header__topic">\s*<span class="md-ellipsis">(.*?)</span>', markup, re.S)
    found["header name (raw)"] = topic.group(1)
    found["header name"] = html.unescape(topic.group(1))
    for logo in tree.find("a", class_="md-logo"):
        found["logo title"] = logo.attrs.get("title", "")
        found["logo aria-label"] = logo.attrs.get("aria-label", "")
    for footer in tree.find("div", class_="md-copyright__highlight"):
        found["footer"] = footer.text
    return found


@pytest.mark.parametrize("page", ["index.html", "menu/index.html", "notice/index.html"])
def test_title_and_header_name_have_no_markup(site, page):
    texts = _site_name_texts(site, page)
    assert {"<title>", "header name", "logo title", "footer"} <= set(texts), texts
    assert "幸福社区积分" in texts["<title>"] and "幸福社区积分" in texts["header name"]
    assert "街道中心" in texts["footer"]
    for where, text in texts.items():
        for bad in ("<", ">", "&lt;", "&gt;", "&amp;lt", "**", "{{", "{%", "](", "|", "测49试"):
            assert bad not in text, f"{page} {where}: {bad!r} in {text.strip()!r}"


def test_checker_catches_injected_markup():
    """markup_problems does flag each way a payload could have turned into markup."""
    bad_pages = [
        "<p><script>alert(1)</script></p>",
        '<p><img src=x onerror="alert(1)"></p>',
        '<p><a href="javascript:alert(1)">x</a></p>',
        '<p><a href=" JaVa&#x09;script:alert(1)">link</a></p>',
        "<p><strong>粗体</strong></p>",
        "<p>测49试</p>",
        "<table><tr><td>a</td><td>b</td></tr></table>",
        '<div onclick="x()">hi</div>',
    ]
    for page in bad_pages:
        assert markup_problems(page, "sample"), page
    assert not markup_problems("<p>&lt;script&gt;alert(1)&lt;/script&gt; **粗体** 测{{ 7*7 }}试</p>"
                               "<li><strong>夜间 **粗体**</strong></li>", "sample")


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def served(site):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with chromium_site(site) as pair:
        yield pair


@needs_chromium
def test_no_page_opens_a_dialog(served):
    base, browser = served
    problems = []
    for path in (*PAGES, "404.html"):
        with open_page(browser, base + path) as (page, visit):
            page.wait_for_timeout(300)  # onerror handlers and deferred scripts get their chance
            assert page.locator("article").count() == 1, path
            problems += [f"{path or 'index'}: dialog {d}" for d in visit.dialogs]
            problems += [f"{path or 'index'}: uncaught error {e}" for e in visit.page_errors]
            injected = page.evaluate("""() => [...document.querySelectorAll('*')].filter(e =>
                [...e.attributes].some(a => a.name.startsWith('on'))
                || (e.tagName === 'IMG' && e.getAttribute('src') === 'x')
                || (e.tagName === 'SCRIPT' && e.textContent.includes('alert'))).map(e => e.outerHTML.slice(0, 120))""")
            problems += [f"{path or 'index'}: live DOM has {h}" for h in injected]
    assert not problems, "\n".join(problems)


@needs_chromium
@pytest.mark.parametrize("word", ["alert", "onerror", "粗体"])
def test_search_results_show_payloads_as_text(served, word):
    """Search results render indexed text as HTML: searching the payloads opens no dialog
    and puts no live element from the data into the page."""
    base, browser = served
    with open_page(browser, base) as (page, visit):
        search(page, word)
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        page.wait_for_timeout(300)
        results = page.locator(".md-search-result")
        assert "alert(1)" in results.inner_text()  # the payload is shown, as text
        injected = page.evaluate("""() => [...document.querySelectorAll('.md-search-result *')].filter(e =>
            [...e.attributes].some(a => a.name.startsWith('on')) || ['IMG', 'SCRIPT', 'IFRAME'].includes(e.tagName)
            || (e.tagName === 'A' && (e.getAttribute('href') || '').trim().toLowerCase().startsWith('javascript:'))
            ).map(e => e.outerHTML.slice(0, 120))""")
        assert not injected, injected
        assert not visit.dialogs, visit.dialogs
        assert not visit.page_errors, visit.page_errors


@needs_chromium
def test_browser_check_sees_an_injected_dialog(served, tmp_path):
    """The dialog recorder works: a page with the payload unescaped does open one."""
    _, browser = served
    (tmp_path / "index.html").write_text("<!doctype html><article><img src=x onerror=alert(1)></article>",
                                         encoding="utf-8")
    with serve(tmp_path, "127.0.0.1", 0) as base, open_page(browser, base) as (page, visit):
        page.wait_for_timeout(300)
    assert visit.dialogs == ["alert: 1"]


def test_control_and_bidi_characters_never_reach_a_page(tmp_path):
    """A U+202E in a consenting resident's name would show the masked name reversed."""
    import copy

    from tests.conftest import BASE, make_project, run_kit

    sheets = copy.deepcopy(BASE)
    sheets["居民"][1][1] = "张\u202e三丰"
    sheets["积分规则"][1][1] = "治安_x0007_巡逻\u2066"  # as Excel stores a BEL
    root = make_project(tmp_path / "社区", sheets)
    result = run_kit(root, "build", "--as-of", "2026-06-30")
    assert result.exit_code == 0, result.output
    pages = [p.read_text(encoding="utf-8") for p in (root / "site").rglob("*.html")]
    assert not any(ch in page for page in pages for ch in ("\u202e", "\u2066", "\x07"))
    menu = (root / "site" / "menu" / "index.html").read_text(encoding="utf-8")
    assert "治安\ufffd巡逻\ufffd" in menu
