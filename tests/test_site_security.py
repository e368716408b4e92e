"""Site security (PRODUCT.md "The public site", "Privacy"): what can reach the public site
and what the site may do in a resident's browser.

1. 网站地址 is parsed, not prefix-checked; 名称/单位 refuse markup characters.
2. Every page carries one strict Content-Security-Policy, and the pages still work
   under it in headless Chromium.
3. A page script, an off-site picture and off-site settings in mkdocs.yml stop the build.
4. docs/ is an allow-list: no workbooks, PDFs or symlinks; pictures are published cleaned.
5. Outputs with personal data are never written into docs/ or site/.
6. The personal-data scan before every publish (and its decoding of tricky encodings).
7. 我的积分 takes the card number out of the address bar.

Two projects share one workbook (the privacy test's, with real card numbers): `main`
is built once and only read (static checks, the browser); `work` is a copy that tests
change and always put back, each one comparing the site before and after.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from kit.csp import check_pages, page_policy
from kit.leak_scan import Scanner, readable_text
from kit.ledger import compute
from kit.personal import personal_views
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.serve import serve
from kit.tokens import grouped
from kit.views import site_context, site_view
from tests.conftest import make_project, run_kit, write_text_xlsx, write_xlsx
from tests.test_site_offline import CHROMIUM, Visit, chromium_site, needs_chromium, search
from tests.test_site_privacy import AS_OF, RESIDENTS, SECRET, STAFF, privacy_workbook

# Card numbers made once with kit.tokens.new_token(), one per resident of RESIDENTS.
TOKENS = ["JHRVJF5V46HIO3I4RWFBP6RYCS", "BGZUDA5KOY3XTDEGKXT3OCBFVO", "CB4TOVC3ODQKNCOLPKJWE6Y2N3",
          "LRIMOF35AXOXDF2CJB2WER7PYY", "XLXCE6BDSYRQRQ6L4OWVECRFIQ", "XEI7IATX2HMSR33WDLTEMXZYXS",
          "ZHKGY2FKJCDMLMVDMM6GYI6QSH", "2BUF2P6KLPHUZZAYMYHPDFTMWN"]
FIRST_ID, FIRST_NAME, FIRST_PHONE = RESIDENTS[0][0], RESIDENTS[0][1], RESIDENTS[0][4]  # 张宝三, row 2
FIRST_TOKEN = TOKENS[0]
FIRST_ROW = "“居民”表第 2 行"
STAFF_NAME, STAFF_ROW = STAFF[0][1], "“工作人员”表第 2 行"
SITE_NAME = "幸福社区积分"
PUNYCODE_HOST = "xn--kbrv68g.xn--fiqs8s"  # 积分.中国


def security_workbook() -> dict[str, list[list[object]]]:
    """The privacy test's workbook (full names, phones, staff, notes, the secret) with a
    valid card number for every resident, so that 我的积分 has sealed files to open."""
    sheets = privacy_workbook()
    header, *rows = sheets["居民"]
    column = header.index("卡号")
    for row, token in zip(rows, TOKENS, strict=True):
        row[column] = token
    return sheets


def settings_row(sheets: dict, label: str) -> int:
    """The spreadsheet row (1-based) of a setting in 设置."""
    return next(i for i, row in enumerate(sheets["设置"], start=1) if row[0] == label)


def with_setting(label: str, value: object) -> dict[str, list[list[object]]]:
    sheets = security_workbook()
    sheets["设置"] = [[label, value] if row[0] == label else row for row in sheets["设置"]]
    return sheets


# --------------------------------------------------------------------------- projects and helpers


def build(root: Path):
    return run_kit(root, "build", "--as-of", AS_OF.isoformat())


@pytest.fixture(scope="module")
def main(tmp_path_factory) -> Path:
    """A project with its site built once; never changed by any test."""
    root = make_project(tmp_path_factory.mktemp("security") / "main", security_workbook())
    result = build(root)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "网站已更新" in result.output
    return root


@pytest.fixture(scope="module")
def site(main) -> Path:
    return main / "site"


@pytest.fixture(scope="module")
def work(main, tmp_path_factory) -> Path:
    """A copy of main (site included) for the tests that change a project; each test puts
    back what it changed."""
    root = tmp_path_factory.mktemp("security") / "work"
    shutil.copytree(main, root, symlinks=True)
    return root


@pytest.fixture(scope="module")
def book(main):
    result = validate(open_source(main / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors, result.errors
    assert {r.card_token for r in result.book.residents} == set(TOKENS)  # the tokens were accepted
    return result.book


@pytest.fixture(scope="module")
def views(book):
    ledger = compute(book, AS_OF)
    context = site_context(book, ledger)
    return personal_views(context, site_view(book, ledger, context).home.site_name)


def snapshot(folder: Path) -> dict[str, object]:
    """Every path under folder → its bytes (a symlink → its target, a folder → 'dir')."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = ("symlink", os.readlink(path))
        elif path.is_dir():
            found[name] = "dir"
        else:
            found[name] = path.read_bytes()
    return found


def assert_unchanged(before: dict[str, object], folder: Path) -> None:
    after = snapshot(folder)
    assert before, "nothing to compare: empty folder"
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"{folder.name}/ changed: {changed[:20]}"


@contextlib.contextmanager
def restoring(root: Path, *names: str) -> Iterator[None]:
    """Put the files `names` (relative to root) back as they were: rewrite the ones that
    were regular files, remove anything made where there was nothing."""
    saved = {}
    for name in names:
        path = root / name
        saved[name] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        assert saved[name] is not None or not os.path.lexists(path), f"{name} is not a plain file"
    try:
        yield
    finally:
        for name, data in saved.items():
            path = root / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            if data is not None:
                path.write_bytes(data)


def all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in sorted(folder.rglob("*"))
                     if p.is_file())


def validate_json(root: Path) -> tuple[int, list[dict]]:
    result = run_kit(root, "validate", "--format", "json", "--as-of", AS_OF.isoformat())
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def errors_of(problems: list[dict]) -> list[tuple[str, int, str, str]]:
    return [(p["sheet"], p["row"], p["column"], p["code"]) for p in problems if p["severity"] == "error"]


# --------------------------------------------------------------------------- 1. 网站地址, 名称, 单位

BAD_ADDRESSES = {
    "attribute-break": 'https://jf.example.cn/"><script>alert(1)</script>',
    "event-handler": "https://jf.example.cn/ onmouseover=alert(1)",
    "javascript": "javascript:alert(1)",
    "query-markup": "https://x.cn/?a=<b>",
    "user-info": "https://evil@x.cn/",
    "control-char": "https://jf.example.cn/\x07jifen/",
    "bidi-override": "https://jf.example.cn/\u202egnp.exe/",
}


@pytest.mark.parametrize("address", list(BAD_ADDRESSES.values()), ids=list(BAD_ADDRESSES))
def test_bad_site_address_is_an_error_at_its_cell_and_build_keeps_the_site(work, address):
    sheets = with_setting("网站地址", address)
    row = settings_row(sheets, "网站地址")
    before = snapshot(work / "site")
    with restoring(work, DEFAULT_WORKBOOK):
        write_text_xlsx(work / DEFAULT_WORKBOOK, sheets)  # control characters stored as Excel stores them
        status, problems = validate_json(work)
        assert status == 1, problems
        assert errors_of(problems) == [("设置", row, "值", "bad-setting")], problems
        message = next(p["message"] for p in problems if p["code"] == "bad-setting")
        assert "网站地址" in message
        result = build(work)
        assert result.exit_code == 1, result.output
        assert "网站没有更新" in result.output
    assert_unchanged(before, work / "site")
    assert "alert(1)" not in all_text(work / "site")


GOOD_ADDRESSES = {
    "no-trailing-slash": ("https://jf.example.cn", "https://jf.example.cn/"),
    "full-width-colon": ("https：//jf.example.cn/", "https://jf.example.cn/"),
    "full-width-everything": ("ｈｔｔｐｓ：／／ｊｆ．ｅｘａｍｐｌｅ．ｃｎ／ｊｉｆｅｎ", "https://jf.example.cn/jifen/"),
    "idn-host": ("https://积分.中国/", f"https://{PUNYCODE_HOST}/"),
    "lan-ip-port": ("http://192.168.1.10:8000", "http://192.168.1.10:8000/"),
    "upper-case": ("HTTPS://JF.Example.CN/Jf", "https://jf.example.cn/Jf/"),
}


@pytest.mark.parametrize(("typed", "expected"), list(GOOD_ADDRESSES.values()), ids=list(GOOD_ADDRESSES))
def test_good_site_address_is_accepted_and_normalised(tmp_path, typed, expected):
    path = write_xlsx(tmp_path / "ledger.xlsx", with_setting("网站地址", typed))
    result = run_kit(tmp_path, "validate", str(path), "--format", "json", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert not [p for p in json.loads(result.stdout) if p["code"] == "bad-setting"]
    assert validate(open_source(path), AS_OF).book.settings.site_url == expected


def test_normalised_address_is_what_the_site_uses(work):
    """Full-width, IDN and no trailing slash at once: pages, sitemap and robots.txt use
    the ASCII address."""
    with restoring(work, DEFAULT_WORKBOOK):
        write_xlsx(work / DEFAULT_WORKBOOK, with_setting("网站地址", "https：//积分.中国/jf"))
        result = build(work)
        assert result.exit_code == 0, result.output
        site = work / "site"
        home = (site / "index.html").read_text(encoding="utf-8")
        assert f'<link rel="canonical" href="https://{PUNYCODE_HOST}/jf/">' in home
        assert f"https://{PUNYCODE_HOST}/jf/menu/" in (site / "sitemap.xml").read_text(encoding="utf-8")
        assert "Disallow: /jf/me/" in (site / "robots.txt").read_text(encoding="utf-8").splitlines()
        assert "积分.中国" not in home and "https：" not in home


PAGE_TEXT_PAYLOADS = {"angle": "幸福<社区", "quote": '幸福"社区', "jinja": "幸福{{社区}}"}


@pytest.mark.parametrize("label", ["名称", "单位"])
@pytest.mark.parametrize("value", list(PAGE_TEXT_PAYLOADS.values()), ids=list(PAGE_TEXT_PAYLOADS))
def test_name_and_organization_refuse_markup_characters(tmp_path, label, value):
    sheets = with_setting(label, value)
    path = write_xlsx(tmp_path / "ledger.xlsx", sheets)
    result = run_kit(tmp_path, "validate", str(path), "--format", "json", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)
    assert errors_of(problems) == [("设置", settings_row(sheets, label), "值", "bad-setting")], problems
    assert label in next(p["message"] for p in problems if p["code"] == "bad-setting")


# --------------------------------------------------------------------------- 2. Content-Security-Policy


class _Scripts(HTMLParser):
    """Inline scripts a browser would run, and where each <script> starts."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self._body: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag != "script":
            return
        attrs = dict(attrs)
        kind = (attrs.get("type") or "").lower()
        if "src" not in attrs and kind in ("", "text/javascript", "module", "application/javascript"):
            self._body = []

    def handle_data(self, data):
        if self._body is not None:
            self._body.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._body is not None:
            self.inline.append("".join(self._body))
            self._body = None


def sha256_source(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            assert words[0] not in found, f"{words[0]} twice in {policy}"
            found[words[0]] = words[1:]
    return found


def test_every_page_carries_one_strict_policy_before_its_first_script(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 20  # generated pages, training pages, quizzes, 404
    wrong = []
    hashed = 0
    for page in pages:
        where = page.relative_to(site).as_posix()
        html = page.read_text(encoding="utf-8")
        metas = re.findall(r"<meta\s+http-equiv=\"Content-Security-Policy\"\s+content=\"([^\"]*)\"", html, re.I)
        if len(metas) != 1 or html.count("Content-Security-Policy") != 1:
            wrong.append(f"{where}: {len(metas)} policies")
            continue
        policy = directives(metas[0])
        first_script = html.find("<script")
        if first_script != -1 and html.find("Content-Security-Policy") > first_script:
            wrong.append(f"{where}: policy after the first <script>")
        if policy.get("default-src") != ["'self'"]:
            wrong.append(f"{where}: default-src {policy.get('default-src')}")
        script_src = policy.get("script-src", [])
        if script_src[:1] != ["'self'"] or {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(script_src):
            wrong.append(f"{where}: script-src {script_src}")
        if policy.get("object-src") != ["'none'"] or policy.get("base-uri") != ["'self'"]:
            wrong.append(f"{where}: object-src/base-uri {policy.get('object-src')} {policy.get('base-uri')}")
        parser = _Scripts()
        parser.feed(html)
        expected = {sha256_source(s) for s in parser.inline}
        hashes = {w for w in script_src if w.startswith("'sha256-")}
        if hashes != expected:
            wrong.append(f"{where}: hashes {sorted(hashes)} but inline scripts {sorted(expected)}")
        hashed += bool(expected)
        if any(re.search(r"^[a-z]+://|^//", w) for w in sum(policy.values(), [])):
            wrong.append(f"{where}: a host is allowed: {metas[0]}")
    assert not wrong, "\n".join(wrong)
    assert hashed == len(pages), "the theme writes inline scripts on every page: they must be hashed"
    assert check_pages(site) == []


def test_check_pages_notices_a_missing_or_stale_policy(site, tmp_path):
    """The kit's own last check (run before every publish) is not a rubber stamp."""
    html = (site / "menu" / "index.html").read_text(encoding="utf-8")
    assert page_policy(html) is not None
    shutil.copyfile(site / "404.html", tmp_path / "404.html")  # the theme's own scripts are read from it
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html),
                                               encoding="utf-8")
    (tmp_path / "b.html").write_text(html.replace("<script>", "<script>alert(1);", 1), encoding="utf-8")
    (tmp_path / "c.html").write_text(html.replace('<meta charset="utf-8">',
                                                  '<script src="x.js"></script><meta charset="utf-8">', 1),
                                     encoding="utf-8")
    (tmp_path / "d.html").write_text(html, encoding="utf-8")
    wrong = check_pages(tmp_path)
    assert [w.split(":")[0] for w in wrong] == ["a/index.html", "b.html", "c.html"], wrong
    assert "no single Content-Security-Policy" in wrong[0]


CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI), true);
"""


@pytest.fixture(scope="module")
def browser(site):
    """(base URL, browser) for main's site."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with chromium_site(site) as served:
        yield served


@contextlib.contextmanager
def visit(browser, url: str) -> Iterator[tuple[object, Visit]]:
    """url opened in a fresh context with CSP violations recorded (console and events);
    requests elsewhere are refused."""
    seen = Visit(url)
    context = browser.new_context()
    own = url[:url.index("/", url.index("//") + 2) + 1]
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(own) else route.abort())
    context.on("request", lambda request: seen.requests.append(request.url))
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.on("console", lambda m: m.type in ("error", "warning") and seen.console_errors.append(m.text))
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(url, wait_until="networkidle")
        yield page, seen
    finally:
        context.close()


def csp_trouble(page, seen: Visit) -> list[str]:
    found = [e for e in seen.console_errors if "Content Security Policy" in e or "Content-Security-Policy" in e]
    found += [f"violation: {v}" for v in page.evaluate("window.__csp || []")]
    return found + [f"uncaught: {e}" for e in seen.page_errors]


@needs_chromium
def test_recorder_sees_a_csp_violation(browser, tmp_path):
    """The browser checks below can fail: an unhashed inline script under the kit's kind
    of policy is reported, by the console and by the violation event."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; script-src 'self'\">"
        "</head><body><script>window.ran = 1</script></body></html>", encoding="utf-8")
    _, chromium = browser
    with serve(tmp_path, "127.0.0.1", 0) as base, visit(chromium, base) as (page, seen):
        assert page.evaluate("window.ran") is None
        trouble = csp_trouble(page, seen)
    assert any("Content Security Policy" in t for t in trouble), trouble
    assert any(t.startswith("violation: script-src") for t in trouble), trouble


@needs_chromium
def test_home_page_works_and_search_finds_rules_under_the_policy(browser):
    base, chromium = browser
    with visit(chromium, base) as (page, seen):
        assert SITE_NAME in page.title()
        search(page, "巡逻")  # waits for the search worker: the theme's scripts ran
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        hrefs = page.eval_on_selector_all(".md-search-result__link", "links => links.map(a => a.href)")
        assert any("/menu/" in h for h in hrefs), hrefs
        assert csp_trouble(page, seen) == []
        # the policy is in force on this page: a script injected into it does not run
        page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                      " document.head.appendChild(s); }")
        page.wait_for_timeout(100)
        assert page.evaluate("window.__ran") is None
        trouble = csp_trouble(page, seen)
    assert [t for t in trouble if t.startswith("violation")] == ["violation: script-src-elem inline"], trouble
    assert all(u.startswith(base) for u in seen.requests), seen.requests


@needs_chromium
def test_menu_page_works_under_the_policy(browser):
    base, chromium = browser
    with visit(chromium, base + "menu/") as (page, seen):
        assert "治安巡逻" in page.inner_text("article")
        assert csp_trouble(page, seen) == []
        assert not seen.dialogs


@needs_chromium
def test_quiz_page_works_under_the_policy(browser):
    base, chromium = browser
    with visit(chromium, base + "training/50-quiz-theory/") as (page, seen):
        first = page.locator(".kit-quiz-question").first
        assert first.locator(".kit-quiz-result").is_hidden()
        first.locator(".kit-quiz-option").first.click()
        result = first.locator(".kit-quiz-result")
        result.wait_for(state="visible", timeout=5_000)
        assert result.inner_text().startswith(("✓", "✗"))
        assert "已答 1 /" in page.inner_text(".kit-quiz-score")
        assert csp_trouble(page, seen) == []


def wait_shown(page) -> None:
    page.wait_for_function("() => { const s = document.querySelector('#kit-me .kit-me-show');"
                           " return s && !s.hidden && s.querySelector('.kit-me-balance'); }", timeout=15_000)


@needs_chromium
def test_personal_page_works_under_the_policy(browser, views):
    base, chromium = browser
    with visit(chromium, f"{base}me/#{FIRST_TOKEN}") as (page, seen):
        wait_shown(page)
        assert page.inner_text("#kit-me .kit-me-balance") == f"{views[FIRST_TOKEN].balance} 分"
        page.wait_for_function("() => !document.querySelector('.kit-me-fingerprint')"
                               ".textContent.includes('正在核对')", timeout=15_000)
        assert "核对无误" in page.inner_text(".kit-me-fingerprint")  # fetch under connect-src 'self'
        assert csp_trouble(page, seen) == []


# --------------------------------------------------------------------------- 3. refusals


def assert_refused(result, *named: str, status: int = 2) -> None:
    assert result.exit_code == status, result.output
    assert "网站已更新" not in result.output
    for name in named:
        assert name in result.output, (name, result.output)


@pytest.mark.parametrize(("page", "text", "named"), [
    ("raw-script", "# 通知\n\n<script>alert(1)</script>\n", ["raw-script/index.html", "<script>"]),
    ("evil-image", '# 图片\n\n<img src="https://evil.example/x.png">\n',
     ["evil-image/index.html", "https://evil.example/x.png"]),
], ids=["script-block", "offsite-image"])
def test_unsafe_docs_page_stops_the_build(work, page, text, named):
    before = snapshot(work / "site")
    with restoring(work, f"docs/{page}.md"):
        (work / "docs" / f"{page}.md").write_text(text, encoding="utf-8")
        result = build(work)
    assert_refused(result, *named)
    assert "unsafe-page" in result.output and "原来的网站没有改动" in result.output
    assert_unchanged(before, work / "site")
    assert not (work / "site" / page).exists()
    assert "evil.example" not in all_text(work / "site") and "alert(1)" not in all_text(work / "site")


@pytest.mark.parametrize(("setting", "named", "trace"), [
    ({"extra_javascript": ["https://cdn.example/x.js"]}, "extra_javascript", "cdn.example"),
    ({"extra": {"analytics": {"provider": "google", "property": "G-XXXX"}}}, "extra.analytics", "G-XXXX"),
    ({"repo_url": "https://github.com/x/y"}, "repo_url", "github.com/x/y"),
], ids=["extra-javascript", "analytics", "repo-url"])
def test_offsite_mkdocs_setting_stops_the_build(work, setting, named, trace):
    before = snapshot(work / "site")
    with restoring(work, "mkdocs.yml"):
        config = yaml.safe_load((work / "mkdocs.yml").read_text(encoding="utf-8"))
        config.update(copy.deepcopy(setting))
        (work / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        result = build(work)
    assert_refused(result, named, "mkdocs.yml")
    assert_unchanged(before, work / "site")
    assert trace not in all_text(work / "site")


def test_script_after_a_stray_closing_article_tag_stops_the_build(work):
    before = snapshot(work / "site")
    with restoring(work, "docs/escape.md"):
        (work / "docs" / "escape.md").write_text("# 通知\n\n</article>\n\n<script>alert(1)</script>\n",
                                                 encoding="utf-8")
        result = build(work)
        published = (work / "site" / "escape" / "index.html")
        policy = page_policy(published.read_text(encoding="utf-8")) if published.is_file() else ""
    assert sha256_source("alert(1)") not in (policy or ""), "the page's own script is allowed by its policy"
    assert_refused(result, "escape/index.html", "<script>")
    assert_unchanged(before, work / "site")


# --------------------------------------------------------------------------- 4. docs/ contents


def _copy_workbook(root: Path) -> None:
    shutil.copyfile(root / DEFAULT_WORKBOOK, root / "docs" / "ledger.xlsx")


def _link_workbook(root: Path) -> None:
    (root / "docs" / "x.xlsx").symlink_to("../sheets/ledger.xlsx")


def _link_passwd(root: Path) -> None:
    (root / "docs" / "passwd.md").symlink_to("/etc/passwd")


def _link_private(root: Path) -> None:
    assert (root / "private").is_dir()  # the build keeps its row map there
    (root / "private" / "名单.md").write_text(f"# 名单\n\n{FIRST_NAME} {FIRST_PHONE}\n", encoding="utf-8")
    (root / "docs" / "private").symlink_to("../private", target_is_directory=True)


def _cards_pdf(root: Path) -> None:
    (root / "docs" / "cards.pdf").write_bytes(b"%PDF-1.4\n% cards\n" + FIRST_NAME.encode() + b"\n%%EOF\n")


DOCS_REFUSALS = {
    "copied-workbook": (_copy_workbook, "docs/ledger.xlsx", ["ledger.xlsx"]),
    "linked-workbook": (_link_workbook, "docs/x.xlsx", ["x.xlsx"]),
    "linked-passwd": (_link_passwd, "docs/passwd.md", ["passwd"]),
    "linked-folder": (_link_private, "docs/private/", ["private", "名单"]),
    "pdf": (_cards_pdf, "docs/cards.pdf", ["cards.pdf", "cards"]),
}


@pytest.mark.parametrize(("make", "named", "traces"), list(DOCS_REFUSALS.values()), ids=list(DOCS_REFUSALS))
def test_what_is_not_a_page_or_picture_in_docs_stops_the_build(work, make, named, traces):
    before = snapshot(work / "site")
    extra = ["private/名单.md"] if make is _link_private else []
    with restoring(work, named.rstrip("/"), *extra):
        make(work)
        result = build(work)
    assert_refused(result, named, "docs/ 里只能放网页")
    assert "原来的网站没有改动" in result.output
    assert_unchanged(before, work / "site")
    published = [p.relative_to(work / "site").as_posix() for p in (work / "site").rglob("*")]
    assert not [p for p in published if any(t in p for t in traces)], published
    text = all_text(work / "site")
    assert "root:x:0:0" not in text and FIRST_PHONE not in text


def test_windows_litter_in_docs_is_skipped(work):
    litter = ["docs/Thumbs.db", "docs/training/desktop.ini", "docs/.DS_Store", "docs/~$x.md", "docs/training/Desktop.INI"]
    with restoring(work, *litter):
        for name in litter:
            (work / name).write_bytes(f"{FIRST_NAME} {FIRST_PHONE}".encode())
        (work / "docs" / "~$x.md").write_text(f"# 临时\n\n{FIRST_NAME}\n", encoding="utf-8")
        result = build(work)
    assert result.exit_code == 0, result.output
    assert "网站已更新" in result.output  # really built, not skipped as unchanged
    published = [p.relative_to(work / "site").as_posix().lower() for p in (work / "site").rglob("*")]
    assert not [p for p in published if any(w in p for w in ("thumbs", "desktop.ini", "ds_store", "~$", "临时"))]
    assert FIRST_PHONE not in all_text(work / "site")


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def _jpeg_markers(data: bytes) -> list[int]:
    markers, at = [], 2
    while data[at + 1] != 0xDA:
        markers.append(data[at + 1])
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    return markers


def _picture_files() -> dict[str, bytes]:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", f"{FIRST_ID} Zhang Baosan")  # tEXt (latin-1)
    info.add_text("Comment", f"{FIRST_NAME} 住 3 号楼")  # not latin-1: iTXt
    png = io.BytesIO()
    Image.new("RGB", (6, 4), (200, 30, 30)).save(png, "PNG", pnginfo=info)
    exif = Image.Exif()
    exif[0x013B] = f"{FIRST_ID} Zhang Baosan"  # Artist
    exif[0x010E] = "GPS 31.2304N 121.4737E"  # ImageDescription
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 8), (20, 120, 200)).save(jpeg, "JPEG", exif=exif.tobytes(), quality=90)
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
           b"<script>alert(2)</script><rect width=\"10\" height=\"10\" fill=\"red\" onclick=\"alert(3)\"/>"
           b"</svg>")
    return {"docs/pics/photo.png": png.getvalue(), "docs/pics/photo.jpg": jpeg.getvalue(),
            "docs/pics/flow.svg": svg}


@pytest.fixture(scope="module")
def pictures(work) -> dict[str, tuple[bytes, bytes]]:
    """docs/pics/… → (what was put into docs/, what the site published); one build."""
    files = _picture_files()
    with restoring(work, "docs/pics"):
        (work / "docs" / "pics").mkdir()
        for name, data in files.items():
            (work / name).write_bytes(data)
        (work / "docs" / "pics.md").write_text("# 图片\n\n![流程](pics/flow.svg)\n", encoding="utf-8")
        try:
            result = build(work)
        finally:
            (work / "docs" / "pics.md").unlink()
    assert result.exit_code == 0, result.output
    return {name: (data, (work / "site" / name.removeprefix("docs/")).read_bytes()) for name, data in files.items()}


def test_png_is_published_without_its_text_chunks(pictures):
    from PIL import Image

    source, published = pictures["docs/pics/photo.png"]
    assert {b"tEXt", b"iTXt"} <= {kind for kind, _ in _png_chunks(source)}  # the test file has them
    kinds = [kind for kind, _ in _png_chunks(published)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert not {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"} & set(kinds), kinds
    assert FIRST_ID.encode() not in published and FIRST_NAME.encode() not in published
    assert Image.open(io.BytesIO(published)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_jpeg_is_published_without_its_exif(pictures):
    from PIL import Image

    source, published = pictures["docs/pics/photo.jpg"]
    assert 0xE1 in _jpeg_markers(source)  # APP1 (EXIF) in the test file
    markers = _jpeg_markers(published)
    assert 0xE1 not in markers and not [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE], markers
    assert FIRST_ID.encode() not in published and b"GPS" not in published
    image = Image.open(io.BytesIO(published))
    assert image.size == (16, 8) and not image.getexif()
    image.load()


def test_svg_is_published_cleaned(pictures):
    _, published = pictures["docs/pics/flow.svg"]
    root = ElementTree.fromstring(published)
    names = [element.tag.rsplit("}", 1)[-1] for element in root.iter()]
    assert names == ["svg", "rect"], names
    attributes = [key for element in root.iter() for key in element.attrib]
    assert not [a for a in attributes if a.lower().startswith("on")], attributes
    assert b"alert" not in published and b"script" not in published
    assert root.find("{http://www.w3.org/2000/svg}rect").get("fill") == "red"


def test_zip_named_png_stops_the_build(work):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ledger.csv", f"{FIRST_ID},{FIRST_NAME},{FIRST_PHONE}\n")
    before = snapshot(work / "site")
    with restoring(work, "docs/fake.png"):
        (work / "docs" / "fake.png").write_bytes(buffer.getvalue())
        result = build(work)
    assert_refused(result, "docs/fake.png", "PNG", "bad-image")
    assert_unchanged(before, work / "site")
    assert not list((work / "site").rglob("fake.png"))


# --------------------------------------------------------------------------- 5. outputs stay out of docs/ and site/


@pytest.mark.parametrize("args", [
    ("cards", "-o", "docs/cards.pdf"),
    ("cards", "-o", "site/c.pdf"),
    ("handouts", "-o", "docs/h"),
    ("report", "-o", "site/r.pdf"),
    ("validate", "--annotate", "docs/a.xlsx"),
], ids=lambda args: "-".join(args).replace("/", "_"))
def test_private_output_is_not_written_into_docs_or_site(work, args):
    target = work / args[-1]
    folder = "docs" if args[-1].startswith("docs") else "site"
    before = {f: snapshot(work / f) for f in ("docs", "site", "sheets")}
    result = run_kit(work, *args)
    assert result.exit_code == 2, result.output
    assert "output-error" in result.output
    assert str(work / folder) in result.output.replace("\n", "")
    assert not os.path.lexists(target)
    for name, shot in before.items():
        assert_unchanged(shot, work / name)


# --------------------------------------------------------------------------- 6. the pre-publish scan

LEAKS = {
    "resident-name": (f"请联系{FIRST_NAME}报名。", "居民姓名", FIRST_ROW),
    "spaced-phone": (f"咨询电话 {FIRST_PHONE[:3]} {FIRST_PHONE[3:7]} {FIRST_PHONE[7:]}", "居民手机号码", FIRST_ROW),
    "card-token": (f"示例卡号：{grouped(FIRST_TOKEN)}", "积分卡卡号", FIRST_ROW),
    "staff-name": (f"值班：{STAFF_NAME}", "工作人员姓名", STAFF_ROW),
    "secret": (f"密钥 {SECRET}", "化名密钥", "“设置”表"),
}


@pytest.mark.parametrize(("text", "what", "where"), list(LEAKS.values()), ids=list(LEAKS))
def test_personal_data_in_a_docs_page_stops_the_build(work, text, what, where):
    before = snapshot(work / "site")
    with restoring(work, "docs/contact.md"):
        (work / "docs" / "contact.md").write_text(f"# 联系我们\n\n{text}\n", encoding="utf-8")
        result = build(work)
    assert_refused(result, "personal-data-on-site", f"{what}（{where}）出现在 contact/index.html", status=1)
    assert "原来的网站保持不变" in result.output
    assert_unchanged(before, work / "site")
    assert not (work / "site" / "contact").exists()


def test_public_words_let_a_name_be_published(work):
    with restoring(work, "docs/contact.md", "kit.toml"):
        (work / "docs" / "contact.md").write_text(f"# 联系我们\n\n请联系{FIRST_NAME}报名。\n", encoding="utf-8")
        with (work / "kit.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[privacy]\npublic_words = ["{FIRST_NAME}"]\n')
        result = build(work)
        assert result.exit_code == 0, result.output
        assert FIRST_NAME in (work / "site" / "contact" / "index.html").read_text(encoding="utf-8")


def test_name_split_by_markup_stops_the_build(work):
    before = snapshot(work / "site")
    split = f"{FIRST_NAME[0]}**{FIRST_NAME[1]}**{FIRST_NAME[2]}"
    with restoring(work, "docs/split.md"):
        (work / "docs" / "split.md").write_text(f"---\nsearch:\n  exclude: true\n---\n# 志愿者\n\n感谢{split}。\n",
                                                encoding="utf-8")
        result = build(work)
    assert_refused(result, "personal-data-on-site", "居民姓名", status=1)
    assert_unchanged(before, work / "site")


@pytest.fixture(scope="module")
def scanner(book) -> Scanner:
    return Scanner(book)


def hits(scanner: Scanner, name: str, data: bytes | str) -> list[tuple[str, str]]:
    data = data.encode("utf-8") if isinstance(data, str) else data
    return sorted({(s.what, s.where) for s in scanner.scan_text(readable_text(name, data))})


NAME_HIT = [("居民姓名", FIRST_ROW)]


def test_scan_decodes_json_escapes(scanner):
    data = json.dumps({"docs": [{"text": f"感谢 {FIRST_NAME}"}]}).encode()  # ensure_ascii: \u5f20…
    assert FIRST_NAME not in data.decode() and "\\u" in data.decode()
    assert scanner.scan_text(data.decode()) == []  # as bytes on disk it does not match…
    assert hits(scanner, "search/search_index.json", data) == NAME_HIT  # …as a reader sees it, it does
    assert hits(scanner, "x.json.gz", gzip.compress(data)) == NAME_HIT


def test_scan_resolves_html_entities(scanner):
    decimal = "".join(f"&#{ord(c)};" for c in FIRST_NAME)
    assert decimal.startswith("&#24352;")
    assert hits(scanner, "a/index.html", f"<p>{decimal}</p>") == NAME_HIT
    assert hits(scanner, "a/index.html", f"<p>&#24352;{FIRST_NAME[1:]}</p>") == NAME_HIT
    hexadecimal = "".join(f"&#x{ord(c):x};" for c in FIRST_NAME)
    assert hits(scanner, "a/index.html", hexadecimal) == NAME_HIT


def test_scan_removes_zero_width_spaces(scanner):
    spaced = "\u200b".join(FIRST_NAME)
    assert scanner.scan_text(spaced) == []
    assert hits(scanner, "search/search_index.json", spaced) == NAME_HIT
    assert hits(scanner, "a.html", "\u200d".join(FIRST_NAME)) == NAME_HIT
    assert hits(scanner, "a.html", "\u200b".join(FIRST_PHONE)) == [("居民手机号码", FIRST_ROW)]


def test_scan_finds_a_resident_id_alone_but_not_inside_a_word(scanner):
    alone = [("居民编号", FIRST_ROW)]
    assert hits(scanner, "a.html", f"编号{FIRST_ID}。") == alone
    assert hits(scanner, "a.html", f"<td>{FIRST_ID}</td>") == alone
    assert hits(scanner, "a.html", FIRST_ID) == alone
    for word in (f"X{FIRST_ID}", f"{FIRST_ID}9", f"a{FIRST_ID}b", f"{FIRST_ID}0"):
        assert hits(scanner, "a.html", word) == [], word


def test_scan_finds_a_card_number_in_any_case_and_grouping(scanner):
    token = [("积分卡卡号", FIRST_ROW)]
    assert hits(scanner, "a.html", FIRST_TOKEN) == token
    assert hits(scanner, "a.html", grouped(FIRST_TOKEN).lower()) == token
    assert hits(scanner, "a.html", FIRST_TOKEN[:-1]) == []  # 25 characters are not a card number


def test_scan_finds_a_card_number_grouped_by_spaces(scanner):
    assert hits(scanner, "a.html", " ".join(grouped(FIRST_TOKEN).split("-"))) == [("积分卡卡号", FIRST_ROW)]


def test_scan_finds_a_phone_in_full_width_digits(scanner):
    wide = FIRST_PHONE.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    assert hits(scanner, "a.html", wide) == [("居民手机号码", FIRST_ROW)]


# --------------------------------------------------------------------------- 7. 我的积分 and the address bar

URL_RECORDER = """
window.__urls = [];
(function () {
  var note = function (why) { window.__urls.push(why + ' ' + location.href); };
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function (state, title, url) {
      var result = original.apply(this, arguments);
      note(name + '(' + String(url) + ')');
      return result;
    };
  });
  ['hashchange', 'popstate'].forEach(function (e) { window.addEventListener(e, function () { note(e); }); });
  ['input', 'keyup', 'submit', 'click'].forEach(function (e) {
    document.addEventListener(e, function () { note(e); }, true);
  });
})();
"""


def token_spellings() -> list[str]:
    return [FIRST_TOKEN.lower(), grouped(FIRST_TOKEN).lower(), FIRST_TOKEN[:8].lower(), grouped(FIRST_TOKEN)[:9].lower()]


def carries_token(url: str) -> bool:
    lowered = url.lower()
    return any(form in lowered for form in token_spellings()) or FIRST_TOKEN.lower() in re.sub(r"[^a-z2-7]", "", lowered)


@contextlib.contextmanager
def me_page(browser, url: str) -> Iterator[tuple[object, list[str]]]:
    """The personal page with every address the main frame had recorded."""
    base, chromium = browser
    context = chromium.new_context()
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    context.add_init_script(URL_RECORDER)
    page = context.new_page()
    navigated: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigated.append(frame.url))
    try:
        page.goto(url, wait_until="networkidle")
        yield page, navigated
    finally:
        context.close()


def test_url_check_notices_a_token():
    assert carries_token(f"http://h/me/#{FIRST_TOKEN}")
    assert carries_token(f"http://h/me/?card={grouped(FIRST_TOKEN).lower()}")
    assert carries_token(f"http://h/me/?card={' '.join(grouped(FIRST_TOKEN).split('-'))}".replace(" ", "+"))
    assert not carries_token("http://h/me/")


@needs_chromium
@pytest.mark.parametrize("fragment", [FIRST_TOKEN, grouped(FIRST_TOKEN)], ids=["compact", "grouped"])
def test_card_number_leaves_the_address_bar_after_the_page_opens(browser, views, fragment):
    base, _ = browser
    with me_page(browser, f"{base}me/#{fragment}") as (page, navigated):
        wait_shown(page)
        assert page.inner_text("#kit-me .kit-me-balance") == f"{views[FIRST_TOKEN].balance} 分"
        assert page.inner_text("#kit-me .kit-me-hello").startswith(views[FIRST_TOKEN].display_name)
        href = page.evaluate("location.href")
        recorded = page.evaluate("window.__urls")
        title_url = page.evaluate("document.URL")
        assert not carries_token(page.url), page.url
    assert href == f"{base}me/", href
    assert not carries_token(href) and not carries_token(title_url)
    assert any(r.startswith("replaceState") for r in recorded), recorded  # me.js did take it out
    after = recorded[next(i for i, r in enumerate(recorded) if r.startswith("replaceState")):]
    assert not [r for r in after if carries_token(r)], after
    assert navigated and not carries_token(navigated[-1]), navigated


@needs_chromium
def test_card_number_typed_into_the_form_never_reaches_the_address_bar(browser, views):
    base, _ = browser
    with me_page(browser, f"{base}me/") as (page, navigated):
        page.wait_for_selector("#kit-me .kit-me-input", state="visible")
        page.click("#kit-me .kit-me-input")
        page.keyboard.type(grouped(FIRST_TOKEN))
        page.keyboard.press("Enter")
        wait_shown(page)
        assert page.inner_text("#kit-me .kit-me-balance") == f"{views[FIRST_TOKEN].balance} 分"
        page.wait_for_load_state("networkidle")
        href = page.evaluate("location.href")
        recorded = page.evaluate("window.__urls")
        assert page.input_value("#kit-me .kit-me-input") == ""  # not left on the page either
    assert href == f"{base}me/"
    assert len(recorded) >= len(grouped(FIRST_TOKEN)), recorded  # every key press was watched
    assert not [r for r in recorded if carries_token(r)], recorded
    assert navigated == [f"{base}me/"], navigated  # no navigation to me/?card=…
