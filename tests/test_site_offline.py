"""The public site works offline and from mainland China (PRODUCT.md, "The public site"):
no request to any host but its own (no Google Fonts, no CDN), and search finds
Chinese words.

(a) static scan of every .html/.css/.js file, (b) every page loaded in headless
Chromium with every request recorded, (c) Chinese search, in the index and in the
browser. One site is built for the module.

The browser helpers here (`chromium_site`, `open_page`, `PAGES`) are reused by
test_site_injection.py.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kit.serve import serve
from tests.conftest import make_project, run_kit
from tests.test_site_privacy import AS_OF, SITE_URL, privacy_workbook

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")

PHONE = dict(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
# Every public page, relative to the site root.
PAGES = ("", "menu/", "rewards/", "ranking/", "notice/", "dashboard/", "privacy/")

FONT_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com")
CDN_HOSTS = FONT_HOSTS + (
    "ajax.googleapis.com", "unpkg.com", "cdn.jsdelivr.net", "fastly.jsdelivr.net", "cdnjs.cloudflare.com",
    "code.jquery.com", "stackpath.bootstrapcdn.com", "maxcdn.bootstrapcdn.com", "use.fontawesome.com",
    "kit.fontawesome.com", "polyfill.io", "cdn.bootcdn.net", "cdn.bootcss.com", "lib.baomitu.com",
    "cdn.staticfile.org", "cdn.staticfile.net", "cdn.tailwindcss.com", "gitcdn.link", "rawgit.com",
    "www.googletagmanager.com", "www.google-analytics.com", "hm.baidu.com",
)
ALLOWED_HOST = urlsplit(SITE_URL).hostname


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("offline") / "project", privacy_workbook())
    result = run_kit(root, "build", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, (result.output, result.exception)
    return root / "site"


# --------------------------------------------------------------------------- (a) static


def foreign(url: str) -> str | None:
    """Why url points at another host, or None when it stays on this site."""
    url = url.strip().strip("'\"").strip()
    if not url:
        return None
    lowered = url.lower()
    if lowered.startswith(("data:", "mailto:", "tel:", "#", "about:blank")):
        return None
    if lowered.startswith("//") or lowered.startswith("\\\\"):
        host = urlsplit("http:" + url.replace("\\", "/")).hostname
        return None if host == ALLOWED_HOST else f"protocol-relative URL to {host}"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ws", "wss", "ftp"):
        return None if parts.hostname == ALLOWED_HOST else f"absolute URL to {parts.hostname}"
    if parts.scheme and parts.scheme not in ("javascript",):  # javascript: is test_site_injection's business
        return f"URL with scheme {parts.scheme}:"
    return None


def css_urls(text: str) -> list[str]:
    """Targets of url(...) and @import in CSS (or CSS inside JS), quoted or not;
    data: URIs with parentheses or quotes inside are skipped over whole."""
    found = []
    for match in re.finditer(r"url\(\s*", text, flags=re.I):
        at = match.end()
        if at < len(text) and text[at] in "'\"":
            quote = text[at]
            end = at + 1
            while end < len(text) and text[end] != quote:
                end += 2 if text[end] == "\\" else 1
            found.append(text[at + 1:end])
        else:
            end = text.find(")", at)
            found.append(text[at:end if end >= 0 else len(text)])
    found += re.findall(r"@import\s*['\"]([^'\"]+)", text, flags=re.I)  # @import url(...) is above
    return found


URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "background", "xlink:href",
                  "cite", "manifest", "ping", "longdesc", "usemap", "icon", "codebase", "archive"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []  # (where, url)
        self.css: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                self.urls.append((f"<{tag} {name}>", value))
            elif name in ("srcset", "imagesrcset"):
                for candidate in value.split(","):
                    if candidate.strip():
                        self.urls.append((f"<{tag} {name}>", candidate.split()[0]))
            elif name == "style":
                self.css.append(value)
            elif tag == "meta" and name == "content" and "url=" in value.lower():
                self.urls.append(("<meta refresh>", value.lower().split("url=", 1)[1]))
        if tag in ("style", "script"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.css.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def _files(site: Path, *suffixes: str) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.is_file() and p.suffix in suffixes)


def test_html_references_no_other_host(site):
    pages = _files(site, ".html")
    assert len(pages) >= len(PAGES)
    bad = []
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.urls, f"no links parsed in {page}"  # the parser really sees the page
        for where, url in parser.urls:
            if why := foreign(url):
                bad.append(f"{page.relative_to(site)} {where} {url!r}: {why}")
        for css in parser.css:
            for url in css_urls(css):
                if why := foreign(url):
                    bad.append(f"{page.relative_to(site)} <style> url({url[:80]!r}): {why}")
        for script in parser.scripts:
            for url in re.findall(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s'"<>)]*""", script):
                if why := foreign(url):
                    bad.append(f"{page.relative_to(site)} inline <script> {url!r}: {why}")
        text = page.read_text(encoding="utf-8").lower()
        bad += [f"{page.relative_to(site)} mentions {host}" for host in CDN_HOSTS if host in text]
    assert not bad, "\n".join(bad)


def test_css_references_no_other_host(site):
    sheets = _files(site, ".css")
    assert any(p.name == "kit.css" for p in sheets)
    assert any(p.name.startswith("main.") for p in sheets)
    bad = []
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8")
        for url in css_urls(text):
            if why := foreign(url):
                bad.append(f"{sheet.relative_to(site)} url({url[:80]!r}): {why}")
        bad += [f"{sheet.relative_to(site)} mentions {host}" for host in CDN_HOSTS if host in text.lower()]
    assert not bad, "\n".join(bad)


def test_js_loads_nothing_from_other_hosts(site):
    """JavaScript is scanned for url(...) / @import only.

    The theme's bundle carries absolute-URL string literals that a current browser
    never requests: https://unpkg.com/mermaid@11/... (only for mermaid diagrams,
    which the kit never writes), https://unpkg.com/resize-observer-polyfill (only
    when the browser lacks ResizeObserver), https://api.github.com/... (only with a
    repo_url, which the kit removes), plus licence and documentation links in
    comments. Scanning every literal would flag those forever; the browser test
    below checks what is really requested.
    """
    scripts = _files(site, ".js")
    assert any(p.name.startswith("bundle.") for p in scripts)
    bad = []
    for script in scripts:
        text = script.read_text(encoding="utf-8", errors="replace")
        for url in css_urls(text):
            if why := foreign(url):
                bad.append(f"{script.relative_to(site)} url({url[:80]!r}): {why}")
    assert not bad, "\n".join(bad)


def test_no_google_fonts_anywhere(site):
    """Google Fonts are blocked in mainland China: not even a mention in any file."""
    bad = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace").lower()
        bad += [f"{path.relative_to(site)} mentions {host}" for host in FONT_HOSTS if host in text]
    assert not bad, "\n".join(bad)


def test_scanner_catches_foreign_references():
    """The helpers above do flag what they are meant to flag."""
    assert foreign("https://fonts.googleapis.com/css?family=Roboto")
    assert foreign("//cdn.jsdelivr.net/npm/x.js")
    assert foreign("http://evil.example.com/a.png")
    assert foreign(SITE_URL + "menu/") is None
    assert foreign("assets/kit.css") is None and foreign("../menu/") is None
    assert foreign("data:image/svg+xml;charset=utf-8,<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    css = ("a{background:url(\"data:image/svg+xml;charset=utf-8,<svg>(c) https://x.org</svg>\")} "
           "@import url(https://fonts.googleapis.com/css2?family=Noto); b{src:url(//cdn.example.net/f.woff2)} "
           "@import 'https://cdn.example.org/x.css';")
    urls = css_urls(css)
    assert [u for u in urls if foreign(u)] == ["https://fonts.googleapis.com/css2?family=Noto",
                                               "//cdn.example.net/f.woff2", "https://cdn.example.org/x.css"]
    parser = _Links()
    parser.feed('<link href="https://fonts.gstatic.com" rel="preconnect"><img src="//cdn.x.com/a.png">')
    assert [foreign(u) for _, u in parser.urls] == ["absolute URL to fonts.gstatic.com",
                                                    "protocol-relative URL to cdn.x.com"]


# --------------------------------------------------------------------------- (b) browser


@dataclass
class Visit:
    """What happened while a page was open."""

    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # HTTP >= 400 or network failure


@contextlib.contextmanager
def chromium_site(site_dir: Path) -> Iterator[tuple[str, object]]:
    """Serve site_dir with kit.serve on a free port; yield (base URL, browser)."""
    from playwright.sync_api import sync_playwright

    with serve(site_dir, "127.0.0.1", 0) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield base, browser
        finally:
            browser.close()


@contextlib.contextmanager
def open_page(browser, url: str, **context_options) -> Iterator[tuple[object, Visit]]:
    """Open url in a fresh context (no cache, no storage) recording every request of the
    page and its workers, console errors, uncaught errors and dialogs (dismissed)."""
    visit = Visit(url)
    context = browser.new_context(**context_options)
    own = url[:url.index("/", url.index("//") + 2) + 1]
    # Requests elsewhere are recorded (the "request" event fires first) and then refused,
    # so a test never waits on, or reaches, the internet.
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(own) else route.abort())
    context.on("request", lambda request: visit.requests.append(request.url))
    context.on("requestfailed", lambda request: visit.failed.append(f"{request.url}: {request.failure}"))
    context.on("response", lambda response: response.status >= 400 and visit.failed.append(
        f"{response.url}: HTTP {response.status}"))
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and visit.console_errors.append(message.text))
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))

    def on_dialog(dialog):
        visit.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.goto(url, wait_until="networkidle")
        yield page, visit
    finally:
        context.close()


def wait_for_search_ready(page) -> None:
    """Material shows 正在初始化搜索引擎 until its search worker has built the index; a query
    typed before that is dropped (the box then shows 键入以开始搜索 until the next key)."""
    page.wait_for_function(
        "() => { const m = document.querySelector('.md-search-result__meta');"
        " return m && m.textContent.trim() && !m.textContent.includes('正在初始化'); }",
        timeout=15_000)


def search(page, word: str, open_with_keyboard: bool = True) -> None:
    """Open the search (the / shortcut, or the header button on a phone) and type word.

    Material reads the box on keyup. Playwright enters Chinese characters as inserted
    text (no key events), so the End key stands in for the key that ends a real input
    method's composition; it does not change the query."""
    wait_for_search_ready(page)
    if open_with_keyboard:
        page.keyboard.press("/")  # material's shortcut focuses the search box
        page.keyboard.type(word)
    else:
        page.click("label.md-header__button[for=__search]")
        page.fill(".md-search__input", word)
    page.keyboard.press("End")


@pytest.fixture(scope="module")
def served(site):
    """(base URL, browser) for the module's site; skipped without chromium."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with chromium_site(site) as pair:
        yield pair


def _all_pages(site: Path) -> list[str]:
    found = {p.parent.relative_to(site).as_posix() + "/" for p in site.rglob("index.html")}
    found = {"" if f == "./" else f for f in found}
    missing = set(PAGES) - found
    assert not missing, f"pages not built: {missing}"
    return sorted(found)


@needs_chromium
def test_pages_request_nothing_but_their_own_server(site, served):
    base, browser = served
    problems = []
    for path in _all_pages(site):
        with open_page(browser, base + path) as (page, visit):
            wait_for_search_ready(page)  # the search worker has fetched its index
            assert visit.requests and visit.requests[0] == base + path
            foreign_requests = [u for u in visit.requests if not u.startswith(base)]
            problems += [f"{path or 'index'} requested {u}" for u in foreign_requests]
            problems += [f"{path or 'index'} console error: {e}" for e in visit.console_errors]
            problems += [f"{path or 'index'} uncaught error: {e}" for e in visit.page_errors]
            problems += [f"{path or 'index'} failed request: {e}" for e in visit.failed]
            # the page really ran the theme: stylesheet, bundle and search index were fetched
            assert any("/assets/stylesheets/main." in u for u in visit.requests), visit.requests
            assert any("/assets/javascripts/bundle." in u for u in visit.requests), visit.requests
            assert any(u.endswith("/search/search_index.json") for u in visit.requests), visit.requests
    assert not problems, "\n".join(problems)


@needs_chromium
def test_pages_on_a_phone_request_nothing_but_their_own_server(served):
    """Same on a phone-sized screen (the drawer and header buttons are laid out differently)."""
    base, browser = served
    problems = []
    for path in ("", "ranking/", "dashboard/"):
        with open_page(browser, base + path, **PHONE) as (page, visit):
            page.click("label.md-header__button[for=__drawer]")
            page.wait_for_timeout(200)
            problems += [f"{path or 'index'} requested {u}" for u in visit.requests if not u.startswith(base)]
            problems += [f"{path or 'index'} error: {e}" for e in visit.console_errors + visit.page_errors]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- (c) search


def _tokens(site: Path) -> dict[str, set[str]]:
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    tokens: dict[str, set[str]] = {}
    for doc in index["docs"]:
        text = re.sub(r"<[^>]+>", " ", doc["title"] + " " + doc["text"])
        tokens.setdefault(doc["location"].split("#")[0], set()).update(t for t in separator.split(text) if t)
    return tokens


def test_search_index_is_segmented_into_chinese_words(site):
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == ["zh"]
    assert "\\u200b" in index["config"]["separator"]
    menu_text = " ".join(d["text"] for d in index["docs"] if d["location"].startswith("menu/"))
    assert "\u200b" in menu_text, "no word boundaries inserted: Chinese text is not segmented"
    tokens = _tokens(site)
    # the workbook's rule names 治安巡逻 / 矛盾调解 are split into words on the menu page
    assert {"巡逻", "调解", "治安", "矛盾"} <= tokens["menu/"], sorted(tokens["menu/"])[:80]
    assert "巡逻" in tokens[""] and "调解" in tokens[""]


@needs_chromium
@pytest.mark.parametrize("word", ["巡逻", "调解"])
def test_search_box_finds_chinese_word(served, word):
    base, browser = served
    with open_page(browser, base) as (page, visit):
        search(page, word)
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        assert page.locator(".md-search-result__item").count() >= 1
        links = page.locator(".md-search-result__link")
        hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        assert any("menu/" in href for href in hrefs), hrefs  # the workbook's rules are found
        assert word in page.locator(".md-search-result").inner_text()
        assert not visit.console_errors and not visit.page_errors
        assert all(u.startswith(base) for u in visit.requests), visit.requests


@needs_chromium
def test_search_opens_from_the_header_button_on_a_phone(served):
    base, browser = served
    with open_page(browser, base, **PHONE) as (page, visit):
        search(page, "巡逻", open_with_keyboard=False)
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        assert page.locator(".md-search-result__item").count() >= 1
        assert all(u.startswith(base) for u in visit.requests), visit.requests


@needs_chromium
def test_search_for_an_unknown_word_finds_nothing(served):
    """The result check above can fail: a word that is nowhere gives no result."""
    base, browser = served
    with open_page(browser, base) as (page, visit):
        search(page, "潜水艇")
        page.wait_for_function("() => document.querySelector('.md-search-result__meta').textContent"
                               ".includes('没有找到')", timeout=15_000)
        assert page.locator(".md-search-result__item").count() == 0


@needs_chromium
def test_browser_check_sees_foreign_requests_errors_and_dialogs(served, tmp_path):
    """The recorder used above notices a foreign request, a console error and a dialog."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><link rel="stylesheet" href="https://fonts.googleapis.com/css?family=X">'
        '</head><body><img src="//cdn.jsdelivr.net/x.png"><script>console.error("boom"); alert(1)</script>'
        "</body></html>", encoding="utf-8")
    _, browser = served
    with serve(tmp_path, "127.0.0.1", 0) as base, open_page(browser, base) as (page, visit):
        page.wait_for_timeout(200)
    assert any(u.startswith("https://fonts.googleapis.com/") for u in visit.requests), visit.requests
    assert any(u.startswith("http://cdn.jsdelivr.net/") for u in visit.requests), visit.requests  # scheme of the page
    assert any("boom" in e for e in visit.console_errors), visit.console_errors
    assert visit.dialogs == ["alert: 1"]
