"""我的积分 (issue 5, PRODUCT.md "Privacy"): a resident's card token opens their own
sealed data file on the static site, in a real browser, and nowhere else.

One project is built three times for the module: twice from the same workbook
(the sealed files must come out byte for byte the same), then once more after a
card is reissued (the old token must stop working). The last build is the site
under test. Expected values come from the same workbook through the kit's own
pipeline (kit.pipeline.validate → kit.ledger.compute → kit.personal.personal_views).

(1) headless Debian chromium (playwright, executable_path) against kit.serve, over
    http://kit.test:PORT (not a secure context: no crypto.subtle) and over
    http://127.0.0.1:PORT, with every request recorded;
(2) the files under site/me/d: count, names, padding, no plain text, sealed per card,
    deterministic;
(3) noindex / no-referrer meta tags, robots.txt, search index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography.exceptions import InvalidTag

from kit.ledger import compute
from kit.personal import PersonalView, personal_views
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.serve import serve
from kit.tokens import file_id, grouped, normalize, unseal
from kit.views import site_context, site_view
from tests.conftest import make_project, run_kit, write_xlsx

AS_OF = dt.date(2026, 6, 30)
SECRET = "9f2c41a7e3b5d0c8f6a4e2b1d9c7a5e3"
SITE_URL = "https://jf.example.test/"
NONCE, TAG = 12, 16

# Fixed tokens (made once with kit.tokens.new_token()) so that failures are reproducible.
T1 = "EY5GHMDHQWU52D3X5DFMB6AQUK"
T2 = "GZJ7E6O2KOUWMNG5KXSP3L7XLU"
T3_OLD = "JLE2U65WHTRNDX5YJHBTJ5DCBU"  # reissued before the last build: must stop working
T3 = "FE26HDP4AFWO6GYJW6TXRGMCV4"
T6 = "EVBHZQCDEO4CZCZXGXA6XQLYLM"
NOT_ISSUED = "75ICEXN6NZNGGTCE7HCR6OQVK7"  # well-formed, never given to anyone
BAD_TOKEN = "NOT-A-CARD-1"  # in the workbook, but not a token: a warning, and no file

STAFF = [("STFPX01", "职员甲秘名", "登记员"), ("STFPX02", "职员乙秘名", "审核员"), ("STFPX03", "职员丙秘名", "管理员")]
# resident_id, name, grid, birth year, phone, consent, token, status
RESIDENTS = [
    ("RIDPX001", "张三丰", "G1", 1950, "13911112222", "是", T1, "在册"),
    ("RIDPX002", "欧阳秘华", "G2", 1948, "15822223333", "否", T2, "在册"),
    ("RIDPX003", "龚秘秀", "G1", 1960, "18633334444", "是", T3, "在册"),
    ("RIDPX004", "霍秘甲", "G2", 1970, "13744445555", "否", None, "在册"),
    ("RIDPX005", "薛秘乙", "G1", 1980, "17755556666", "否", BAD_TOKEN, "在册"),
    ("RIDPX006", "宁秘丙", "G2", 1990, "19966667777", "否", T6, "迁出"),
]
VALID_TOKENS = {T1: "RIDPX001", T2: "RIDPX002", T3: "RIDPX003", T6: "RIDPX006"}
NOTE = "备注秘密内容{}"
REASONS = ["申诉理由秘密一", "申诉理由秘密二", "申诉理由秘密三"]


def _entries() -> list[list[object]]:
    D, T = dt.date, dt.time
    rows = [
        # R1: two old lots that decay, one that expires within 30 days, a capped day, a night
        # bonus, an entry under appeal, a corrected one, a pending and a rejected one.
        ("EPX01", D(2025, 2, 1), None, "RIDPX001", "XL", 1, "通过"),
        ("EPX02", D(2025, 3, 10), None, "RIDPX001", "XL", 2, "通过"),
        ("EPX03", D(2025, 7, 15), None, "RIDPX001", "XL", 1, "通过"),
        ("EPX04", D(2026, 2, 1), None, "RIDPX001", "XL", 5, "通过"),
        ("EPX05", D(2026, 3, 5), T(21, 0), "RIDPX001", "XL", 1, "通过"),
        ("EPX06", D(2026, 4, 10), None, "RIDPX001", "TJ", 1, "通过"),
        ("EPX07", D(2026, 5, 1), None, "RIDPX001", "ZY", 2, "通过"),
        ("EPX08", D(2026, 6, 20), None, "RIDPX001", "XL", 1, "待审核"),
        ("EPX09", D(2026, 6, 21), None, "RIDPX001", "XL", 1, "驳回"),
        # R2 (pseudonym): a decayed lot, a bonus exactly at the cap, an appeal, a pending one
        ("EPX10", D(2025, 5, 5), None, "RIDPX002", "ZY", 4, "通过"),
        ("EPX11", D(2026, 1, 15), T(22, 0), "RIDPX002", "XL", 2, "通过"),
        ("EPX12", D(2026, 6, 25), None, "RIDPX002", "TJ", 1, "通过"),
        ("EPX13", D(2026, 6, 26), None, "RIDPX002", "XL", 1, "待审核"),
        # R3: points only last year: no rank this year
        ("EPX20", D(2025, 1, 10), None, "RIDPX003", "XL", 3, "通过"),
        # others, so the ranking has people in it
        ("EPX30", D(2026, 2, 2), None, "RIDPX004", "XL", 2, "通过"),
        ("EPX31", D(2026, 3, 3), None, "RIDPX005", "ZY", 1, "通过"),
        ("EPX32", D(2026, 1, 20), None, "RIDPX006", "XL", 1, "通过"),
    ]
    header = ["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"]
    return [header] + [[eid, day, time, rid, code, qty, NOTE.format(i), "STFPX01", "STFPX02",
                        "STFPX03" if code == "TJ" else None, status]
                       for i, (eid, day, time, rid, code, qty, status) in enumerate(rows)]


def workbook(r3_token: str = T3, r3_retired: str | None = None) -> dict[str, list[list[object]]]:
    residents = [list(r) + [None] for r in RESIDENTS]
    residents[2][6] = r3_token
    residents[2][8] = r3_retired  # 旧卡号: what kit cards --reissue writes
    return {
        "设置": [["项目", "值"], ["名称", "幸福社区积分"], ["单位", "幸福街道综治中心"], ["网站地址", SITE_URL],
                 ["积分有效期(月)", 12], ["衰减比例", 0.5], ["化名密钥", SECRET]],
        "网格": [["网格编号", "网格名称", "所属社区"], ["G1", "第一网格", "幸福社区"], ["G2", "第二网格", "幸福社区"]],
        "工作人员": [["工号", "姓名", "角色"], *[list(s) for s in STAFF]],
        "居民": [["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态", "旧卡号"], *residents],
        "积分规则": [
            ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"],
            ["XL", "治安巡逻", "平安巡防", 10, "小时", 40, "否", "所有居民", None, "是"],
            ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", None, None, "是"],
            ["ZY", "志愿服务", "志愿服务", 5, "小时", 20, "否", None, None, "是"],
        ],
        "加分规则": [
            ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
            ["夜间巡逻双倍", None, "XL", None, None, dt.time(20, 0), dt.time(6, 0), 2],
        ],
        "积分记录": _entries(),
        "奖品": [
            ["编码", "名称", "类型", "所需积分", "库存", "说明"],
            ["JPX1", "环保购物袋", "物质", 30, 100, None],
            ["JPX2", "爱心鸡蛋", "物质", 15, 100, None],
        ],
        "兑换记录": [
            ["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
            ["RDPX1", dt.date(2026, 5, 20), "RIDPX001", "JPX2", 1, "STFPX01"],
            ["RDPX2", dt.date(2026, 6, 1), "RIDPX002", "JPX2", 2, "STFPX01"],
            ["RDPX3", dt.date(2025, 6, 1), "RIDPX003", "JPX2", 1, "STFPX01"],
        ],
        "申诉": [
            ["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"],
            ["APPX1", dt.date(2026, 4, 15), "RIDPX001", "EPX06", REASONS[0], "受理中", None, None],
            ["APPX2", dt.date(2026, 5, 3), "RIDPX001", "EPX07", REASONS[1], "更正", 5, dt.date(2026, 5, 10)],
            ["APPX3", dt.date(2026, 6, 28), "RIDPX002", "EPX12", REASONS[2], "受理中", None, None],
        ],
    }


def _sealed(site: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((site / "me" / "d").iterdir())}


def _build(root: Path) -> None:
    result = run_kit(root, "build", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, (result.output, result.exception)


@dataclass
class Project:
    root: Path
    site: Path
    first: dict[str, bytes]  # site/me/d after the first build (R3 holds T3_OLD)
    second: dict[str, bytes]  # after a second build of the same workbook
    final: dict[str, bytes]  # after R3's card was reissued (R3 holds T3)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = make_project(tmp_path_factory.mktemp("personal") / "project", workbook(T3_OLD))
    _build(root)
    first = _sealed(root / "site")
    _build(root)
    second = _sealed(root / "site")
    write_xlsx(root / DEFAULT_WORKBOOK, workbook(T3, T3_OLD))  # the reissue: a new token in 卡号, the old in 旧卡号
    _build(root)
    return Project(root, root / "site", first, second, _sealed(root / "site"))


@pytest.fixture(scope="module")
def site(project) -> Path:
    return project.site


@pytest.fixture(scope="module")
def validated(project):
    return validate(open_source(project.root / DEFAULT_WORKBOOK), AS_OF)


@pytest.fixture(scope="module")
def views(validated) -> dict[str, PersonalView]:
    """card token → the view the kit computes for it, from the workbook the site was built from."""
    assert not validated.errors, validated.errors
    book = validated.book
    ledger = compute(book, AS_OF)
    context = site_context(book, ledger)
    return personal_views(context, site_view(book, ledger, context).home.site_name)


def _secrets() -> dict[str, str]:
    """Every string that must never be readable in a personal file → what it is."""
    found = {}
    for rid, name, _grid, _birth, phone, _consent, token, _status in RESIDENTS:
        found[name] = f"name of {rid}"
        found[rid] = "resident id"
        found[phone] = f"phone of {rid}"
    for token in (T1, T2, T3, T3_OLD, T6):
        for form in (token, grouped(token)):
            found[form] = "card token"
            found[form.lower()] = "card token (lower case)"
    for i in range(len(_entries()) - 1):
        found[NOTE.format(i)] = "note"
    found.update({s[1]: "staff name" for s in STAFF})
    found.update({s[0]: "staff id" for s in STAFF})
    found.update({r: "appeal reason" for r in REASONS})
    found[SECRET] = "pseudonym secret"
    return found


# --------------------------------------------------------------------------- the workbook itself


def test_workbook_exercises_every_status(validated, views):
    """The expected values are the kit's own, so first check by hand that they are the
    ones this workbook means (otherwise the browser test could compare nonsense)."""
    assert [p.code for p in validated.problems if p.code == "bad-card-token"] == ["bad-card-token"]
    assert set(views) == set(VALID_TOKENS)
    one = views[T1]
    assert (one.balance, one.earned, one.redeemed, one.decayed, one.expiring_30d) == (95, 125, 15, 15, 5)
    assert (one.rank, one.ranked, one.display_name, one.grid) == (1, 5, "张*丰", "第一网格")  # R6 moved: counted
    statuses = [line.status for line in one.entries]
    assert statuses == ["未通过", "待审核", "申诉后更正（原 10 分）", "申诉中", "已计分",
                        "已计分（超过每日上限，少计 10 分）", "已计分", "已计分", "已计分"]
    assert [line.points for line in one.entries][:2] == [None, None]
    assert "治安巡逻 1 小时（×2）" in [line.text for line in one.entries]
    assert [(c.date, c.points, c.status) for c in one.changes] == [
        ("2026-05-20", -15, "已兑换"), ("2026-03-10", -10, "已衰减"), ("2026-02-01", -5, "已衰减")]
    two = views[T2]
    assert (two.balance, two.earned, two.redeemed, two.decayed, two.expiring_30d) == (40, 80, 30, 10, 0)
    assert (two.rank, two.display_name) == (2, two.pseudonym)
    assert {"申诉中", "待审核"} <= {line.status for line in two.entries}
    assert [c.text for c in two.changes if c.status == "已兑换"] == ["兑换 爱心鸡蛋 ×2"]
    three = views[T3]
    assert (three.balance, three.decayed, three.rank) == (7, 8, None)


# --------------------------------------------------------------------------- (1) real browser

CHROMIUM = Path("/usr/bin/chromium")
LOCAL_HOST = "kit.test"  # mapped to 127.0.0.1 inside chromium only: http://kit.test is not a secure context
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync", f"--host-resolver-rules=MAP {LOCAL_HOST} 127.0.0.1"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
PHONE = dict(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)


@dataclass
class Servers:
    lan: str  # http://kit.test:PORT/ — like a plain-HTTP server on the community's network
    local: str  # http://127.0.0.1:PORT/ — a secure context
    browser: object


@pytest.fixture(scope="module")
def servers(site) -> Iterator[Servers]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with serve(site, "127.0.0.1", 0) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield Servers(base.replace("127.0.0.1", LOCAL_HOST), base, browser)
        finally:
            browser.close()


@dataclass
class Sent:
    url: str
    headers: dict[str, str]
    post_data: str | None


@dataclass
class Visit:
    requests: list[Sent] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def open_me(servers: Servers, url: str) -> Iterator[tuple[object, Visit]]:
    """Open url in a fresh phone-sized context, recording every request (page and workers);
    requests to any other host are recorded, then refused."""
    visit = Visit()
    raw = []
    own = url[:url.index("/", url.index("//") + 2) + 1]
    context = servers.browser.new_context(**PHONE)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(own) else route.abort())
    context.on("request", lambda request: raw.append(request))
    page = context.new_page()
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    try:
        page.goto(url, wait_until="networkidle")
        yield page, visit
        page.wait_for_load_state("networkidle")
        for request in raw:
            visit.requests.append(Sent(request.url, request.all_headers(), request.post_data))
    finally:
        context.close()


# Which part of #kit-me is showing, once the page has settled (not while it is loading).
STATE = """() => {
  const root = document.getElementById('kit-me');
  if (!root) { return null; }
  const shown = ['ask', 'wait', 'missing', 'show'].filter(n => !root.querySelector('.kit-me-' + n).hidden);
  // "not found" keeps the form beside it, so the number can be typed again
  if (shown.length === 2 && shown.includes('missing') && shown.includes('ask')) { return 'missing'; }
  return shown.length === 1 && shown[0] !== 'wait' ? shown[0] : null;
}"""

SHOWN = """() => {
  const show = document.querySelector('#kit-me .kit-me-show');
  const text = sel => { const n = show.querySelector(sel); return n ? n.textContent : null; };
  return {
    hello: text('.kit-me-hello'),
    balance: text('.kit-me-balance'),
    expiring: text('.kit-me-expiring'),
    facts: Array.from(show.querySelectorAll('.kit-me-facts li'), li => li.textContent),
    blocks: Array.from(show.querySelectorAll('.kit-me-block'), b => ({
      title: b.querySelector('h2').textContent,
      rows: Array.from(b.querySelectorAll('tbody tr'), tr => Array.from(tr.querySelectorAll('td'), td => td.textContent)),
    })),
  };
}"""


def settle(page) -> str:
    return page.wait_for_function(STATE, timeout=15_000).json_value()


def _signed(points: int | None) -> str:
    if points is None:
        return "—"
    return f"+{points}" if points > 0 else str(points)


def expected_page(v: PersonalView) -> dict:
    """What the page must show for view v."""
    name = ("排行榜上的名字：" + v.display_name + (f"（化名 {v.pseudonym}）" if v.display_name != v.pseudonym else "")
            + "；化名每年 1 月 1 日更换")
    rank = (f"今年全社区排名：第 {v.rank} 名（共 {v.ranked} 人有积分）" if v.rank
            else "今年还没有积分，快来参加活动吧")
    return {
        "hello": f"{v.display_name}，您好",
        "balance": f"{v.balance} 分",
        "expiring": f"注意：30 天内有 {v.expiring_30d} 分将到期减少，请尽早兑换。" if v.expiring_30d > 0 else None,
        "facts": [f"累计获得 {v.earned} 分，已兑换 {v.redeemed} 分，到期减少 {v.decayed} 分", name, rank,
                  f"所在网格：{v.grid}", f"数据更新至 {v.as_of}"],
        "blocks": [{"title": title, "rows": [[line.date, line.text + (f"公示编码 {line.code}" if line.code else ""),
                                              _signed(line.points), line.status]
                                             for line in lines]}
                   for title, lines in (("积分记录", v.entries), ("兑换和到期", v.changes))],
    }


def token_forms(token: str) -> set[str]:
    """The token in every spelling that could leak, compared case-insensitively."""
    return {token.lower(), grouped(token).lower(), " ".join(grouped(token).split("-")).lower(),
            grouped(token).replace("-", "%2d").lower()}


def assert_private(visit: Visit, own: str, tokens: list[str]) -> None:
    """Every request went to own, and none carries a token in its URL, headers or body."""
    assert visit.requests, "no request recorded"
    leaks = []
    for sent in visit.requests:
        if not sent.url.startswith(own):
            leaks.append(f"request to another host: {sent.url}")
        if "#" in sent.url:
            leaks.append(f"fragment sent: {sent.url}")
        referer = {k.lower(): v for k, v in sent.headers.items()}.get("referer")
        if referer is not None and (not referer.startswith(own) or "#" in referer):
            leaks.append(f"Referer {referer} sent with {sent.url}")
        if "/me/d/" in sent.url and referer is not None:  # the page fetches the file with no-referrer
            leaks.append(f"Referer {referer} sent with the personal file {sent.url}")
        where = [sent.url, unquote(sent.url), *sent.headers.keys(), *sent.headers.values(), sent.post_data or ""]
        haystack = "\n".join(where).lower()
        compact = re.sub(r"[\s\-_.%]", "", haystack)
        for token in tokens:
            if any(form in haystack for form in token_forms(token)) or token.lower() in compact:
                leaks.append(f"token {token} in request {sent.url} {sent.headers} {sent.post_data!r}")
    assert not leaks, "\n".join(leaks)


def test_leak_check_catches_a_token():
    """assert_private itself flags what it is meant to flag."""
    own = "http://kit.test:1/"
    fine = Sent(own + f"me/d/{file_id(T1)}.bin", {"accept": "*/*"}, None)
    assert_private(Visit([fine]), own, [T1])
    for leak in (Sent(own + f"me/?t={grouped(T1).lower()}", {}, None),
                 Sent(own + "me/", {"referer": own + f"me/#{T1}"}, None),
                 Sent(own + "log", {"x-card": " ".join(grouped(T1).split("-"))}, None),
                 Sent(own + "log", {}, f"card={grouped(T1).replace('-', '%2D')}"),
                 Sent("http://other.example/", {}, None),
                 Sent(own + f"me/d/{file_id(T1)}.bin", {"referer": own + "me/"}, None)):
        with pytest.raises(AssertionError):
            assert_private(Visit([leak]), own, [T1])


def _assert_shows(page, visit: Visit, view: PersonalView) -> None:
    assert settle(page) == "show"
    assert page.locator("#kit-me .kit-me-show").is_visible()
    assert not page.locator("#kit-me .kit-me-missing").is_visible()
    assert not page.locator("#kit-me .kit-me-ask").is_visible()
    assert page.evaluate(SHOWN) == expected_page(view)
    assert not visit.page_errors, visit.page_errors


def _fetched(visit: Visit, token: str) -> bool:
    return any(s.url.endswith(f"/me/d/{file_id(token)}.bin") for s in visit.requests)


@needs_chromium
@pytest.mark.parametrize("token", [T1, T2, T3], ids=["consenting", "pseudonym", "no-rank"])
def test_card_url_shows_the_ledgers_numbers_on_plain_http(servers, views, token):
    """http://kit.test:PORT/me/#TOKEN: a non-secure context without crypto.subtle, like a
    plain-HTTP server on the community's network."""
    url = f"{servers.lan}me/#{token}"
    with open_me(servers, url) as (page, visit):
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("typeof (window.crypto && window.crypto.subtle)") == "undefined"
        _assert_shows(page, visit, views[token])
    assert _fetched(visit, token), [s.url for s in visit.requests]
    assert_private(visit, servers.lan, list(VALID_TOKENS) + [T3_OLD])


@needs_chromium
def test_card_url_shows_every_history_line(servers, views):
    """Line by line, the two tables are the ledger's history and changes, in order, with
    every status the product names (待审核, 申诉中, capped, 已衰减, 已兑换)."""
    with open_me(servers, f"{servers.lan}me/#{T1}") as (page, visit):
        assert settle(page) == "show"
        shown = page.evaluate(SHOWN)
    entries, changes = shown["blocks"][0]["rows"], shown["blocks"][1]["rows"]
    view = views[T1]
    assert len(entries) == len(view.entries) == 9 and len(changes) == len(view.changes) == 3
    for row, line in zip(entries + changes, view.entries + view.changes):
        assert row == [line.date, line.text + (f"公示编码 {line.code}" if line.code else ""), _signed(line.points),
                       line.status]
    codes = [line.code for line in view.entries if line.points is not None]
    assert all(codes) and len(set(codes)) == len(codes)  # each counted entry's code in the notice
    statuses = " ".join(row[3] for row in entries + changes)
    for word in ("待审核", "申诉中", "超过每日上限", "已衰减", "已兑换", "申诉后更正", "未通过"):
        assert word in statuses, (word, statuses)


@needs_chromium
def test_card_number_typed_grouped_in_lower_case_works(servers, views):
    typed = grouped(T2).lower()  # gzj7-e6o2-…
    assert normalize(typed) == T2
    with open_me(servers, f"{servers.lan}me/#{typed}") as (page, visit):
        _assert_shows(page, visit, views[T2])
    assert _fetched(visit, T2)
    assert_private(visit, servers.lan, [T2])


@needs_chromium
def test_secure_context_works_as_well(servers, views):
    with open_me(servers, f"{servers.local}me/#{T1}") as (page, visit):
        assert page.evaluate("window.isSecureContext") is True
        _assert_shows(page, visit, views[T1])
    assert _fetched(visit, T1)
    assert_private(visit, servers.local, [T1])


@needs_chromium
@pytest.mark.parametrize("token", [NOT_ISSUED, T3_OLD], ids=["wrong", "revoked"])
def test_wrong_or_revoked_card_gets_the_friendly_message(project, servers, token):
    if token == T3_OLD:  # it did work before the card was reissued
        assert f"{file_id(T3_OLD)}.bin" in project.first and f"{file_id(T3_OLD)}.bin" not in project.final
    with open_me(servers, f"{servers.lan}me/#{token}") as (page, visit):
        assert settle(page) == "missing"
        assert page.locator("#kit-me .kit-me-missing").is_visible()
        assert "没有找到这张卡的积分信息" in page.locator("#kit-me .kit-me-missing").inner_text()
        assert not page.locator("#kit-me .kit-me-show").is_visible()
        assert page.locator("#kit-me .kit-me-show").inner_text() == ""
        assert not visit.page_errors, visit.page_errors
    assert _fetched(visit, token)
    assert_private(visit, servers.lan, [token])


@needs_chromium
@pytest.mark.parametrize("fragment", [T1[:-1], T1 + "Q", grouped(T1)[:-3]],
                         ids=["one-character-short", "one-character-long", "torn-off"])
def test_damaged_card_url_gets_the_friendly_message(servers, fragment):
    """A card URL whose token is damaged (a torn or smudged QR code, a mistyped link) is a
    wrong token too: the resident is told the card was not found."""
    with open_me(servers, f"{servers.lan}me/#{fragment}") as (page, visit):
        assert settle(page) == "missing", "no 'card not found' message for a damaged token"
        assert page.locator("#kit-me .kit-me-missing").is_visible()
    assert_private(visit, servers.lan, [T1])


@needs_chromium
def test_page_without_fragment_asks_for_the_card_number(servers, views):
    with open_me(servers, f"{servers.lan}me/") as (page, visit):
        assert settle(page) == "ask"
        assert page.locator("#kit-me .kit-me-ask").is_visible()
        assert page.locator("#kit-me .kit-me-input").is_visible()
        assert not page.locator("#kit-me .kit-me-missing").is_visible()
        page.fill("#kit-me .kit-me-input", grouped(T2))  # as printed on the card
        page.click("#kit-me .kit-me-form button[type=submit]")
        _assert_shows(page, visit, views[T2])
    assert _fetched(visit, T2)
    assert_private(visit, servers.lan, [T2])


@needs_chromium
def test_card_number_typed_into_the_form_in_lower_case_works(servers, views):
    with open_me(servers, f"{servers.lan}me/") as (page, visit):
        assert settle(page) == "ask"
        page.fill("#kit-me .kit-me-input", " ".join(grouped(T1).lower().split("-")))
        page.press("#kit-me .kit-me-input", "Enter")
        _assert_shows(page, visit, views[T1])
    assert_private(visit, servers.lan, [T1])


@needs_chromium
@pytest.mark.parametrize("typed", [grouped(NOT_ISSUED), "ABCD-EFGH"], ids=["not-issued", "too-short"])
def test_wrong_number_typed_into_the_form_can_be_corrected(servers, views, typed):
    """A mistyped card number gets the friendly message, and the box to type it again stays
    on the page (the message says 请核对卡号: there must be somewhere to correct it)."""
    with open_me(servers, f"{servers.lan}me/") as (page, visit):
        assert settle(page) == "ask"
        page.fill("#kit-me .kit-me-input", typed)
        page.click("#kit-me .kit-me-form button[type=submit]")
        page.wait_for_function("() => !document.querySelector('#kit-me .kit-me-missing').hidden", timeout=15_000)
        page.wait_for_load_state("networkidle")
        assert page.locator("#kit-me .kit-me-missing").is_visible()
        assert page.locator("#kit-me .kit-me-input").is_visible(), "the card number box is gone after a typo"
        page.fill("#kit-me .kit-me-input", grouped(T1))
        page.click("#kit-me .kit-me-form button[type=submit]")
        _assert_shows(page, visit, views[T1])
    assert_private(visit, servers.lan, [T1, NOT_ISSUED])


# --------------------------------------------------------------------------- (2) the sealed files


def test_one_file_per_valid_token(site, validated):
    holders = [r for r in validated.book.residents if r.card_token]
    files = sorted((site / "me" / "d").iterdir())
    assert len(files) == len(holders) == len(VALID_TOKENS) == 4
    assert all(p.is_file() and re.fullmatch(r"[0-9a-f]{32}\.bin", p.name) for p in files), files
    assert {p.stem for p in files} == {file_id(t) for t in VALID_TOKENS}
    assert sorted(p.relative_to(site).as_posix() for p in (site / "me").rglob("*")) == sorted(
        ["me/index.html", "me/d"] + [f"me/d/{p.name}" for p in files])


def _simple_hashes(value: str) -> set[str]:
    found = set()
    for form in {value, value.lower(), value.upper()}:
        data = form.encode("utf-8")
        for algorithm in ("md5", "sha1", "sha224", "sha256", "sha512", "sha3_256", "blake2b", "blake2s"):
            digest = hashlib.new(algorithm, data).hexdigest()
            found |= {digest[:32], digest[-32:]}
        for key in (SECRET.encode(), b""):
            digest = hmac.new(key, data, hashlib.sha256).hexdigest()
            found |= {digest[:32], digest[-32:]}
    return found


def test_file_names_are_not_simple_hashes(site):
    names = {p.stem for p in (site / "me" / "d").iterdir()}
    guesses = set()
    for rid, name, _grid, _birth, phone, _consent, token, _status in RESIDENTS:
        for value in (rid, name, phone, token, token and grouped(token)):
            if value:
                guesses |= _simple_hashes(value)
    assert not names & guesses
    for token, rid in VALID_TOKENS.items():
        assert file_id(token) != hashlib.sha256(token.encode()).hexdigest()[:32]
        assert file_id(token) != hashlib.md5(token.encode()).hexdigest()
        assert file_id(token) != hashlib.md5(rid.encode()).hexdigest()


def test_no_other_file_lists_the_personal_files(site):
    ids = [file_id(t) for t in VALID_TOKENS]
    found = []
    sealed = site / "me" / "d"
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p.parent != sealed):
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{path.relative_to(site)} names {i}" for i in ids if i in text]
    assert not found, found


def test_raw_files_carry_no_readable_personal_data(site, views):
    secrets = _secrets()
    for view in views.values():
        secrets.update({view.display_name: "display name", view.pseudonym: "pseudonym"})
    for path in sorted((site / "me" / "d").iterdir()):
        raw = path.read_bytes()
        for secret, what in secrets.items():
            for encoding in ("utf-8", "utf-16-le", "gb18030"):
                try:
                    encoded = secret.encode(encoding)
                except UnicodeEncodeError:
                    continue
                assert encoded not in raw, f"{what} {secret!r} readable in {path.name} ({encoding})"
        for word in (b"balance", b"entries", b"as_of", "已计分".encode()):
            assert word not in raw, f"{word!r} readable in {path.name}"
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        with pytest.raises(ValueError):
            json.loads(raw)


def test_each_file_opens_with_its_own_token_only(site, views):
    fields = {f.name for f in dataclasses.fields(PersonalView)}
    secrets = _secrets()
    for token in VALID_TOKENS:
        raw = (site / "me" / "d" / f"{file_id(token)}.bin").read_bytes()
        plain = unseal(token, raw)
        data = json.loads(plain.decode("utf-8"))
        assert set(data) == fields
        expected = json.loads(json.dumps(dataclasses.asdict(views[token])))
        # the fingerprint proofs depend on the published history (tests/test_fingerprint.py)
        fingerprint, _ = data.pop("fingerprint"), expected.pop("fingerprint")
        assert set(fingerprint) == {"checkpoint", "salt", "records", "leaves"}
        assert data == expected
        text = plain.decode("utf-8")
        leaked = [f"{what} {s!r}" for s, what in secrets.items() if s in text]
        assert not leaked, leaked
        for other in [*VALID_TOKENS, T3_OLD, NOT_ISSUED]:
            if other != token:
                with pytest.raises(InvalidTag):
                    unseal(other, raw)


def test_file_sizes_come_in_a_few_fixed_sizes(site):
    """A file's size must not tell how many records its resident has: powers of two from 4 KB."""
    sizes = {path.stat().st_size for path in (site / "me" / "d").iterdir()}
    assert sizes and all(size >= 4096 and size & (size - 1) == 0 for size in sizes), sizes


def test_sealed_sizes_hide_the_number_of_records():
    """Plain sizes from a resident with no records to one with ~150 fall into 4 buckets."""
    from kit.site import sealed_size

    assert [sealed_size(n) for n in (0, 500, 4068, 4069, 9000, 30_000)] == [4096, 4096, 4096, 8192, 16384, 32768]
    assert len({sealed_size(n) for n in range(500, 30_000, 100)}) == 4


def test_rebuild_gives_identical_files(project):
    assert project.first and project.first == project.second
    old, new = f"{file_id(T3_OLD)}.bin", f"{file_id(T3)}.bin"
    # the reissue replaced R3's file and changed nobody else's
    assert set(project.final) == set(project.first) - {old} | {new}
    for name in set(project.first) - {old}:
        assert project.final[name] == project.first[name], name
    before, after = (json.loads(unseal(token, data)) for token, data in
                     ((T3_OLD, project.first[old]), (T3, project.final[new])))
    assert after.pop("pseudonym") != before.pop("pseudonym")  # a new card, a new pseudonym
    old_fp, new_fp = before.pop("fingerprint"), after.pop("fingerprint")
    assert new_fp.pop("salt") != old_fp.pop("salt")  # and a new salt for new records
    assert new_fp == old_fp  # the published ones keep theirs
    assert after == before


# --------------------------------------------------------------------------- (3) meta, robots, search


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "meta":
            self.meta.append({k: v or "" for k, v in attrs})


def _metas(path: Path) -> dict[str, list[str]]:
    parser = _Meta()
    parser.feed(path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for meta in parser.meta:
        if "name" in meta:
            found.setdefault(meta["name"].lower(), []).append(meta.get("content", ""))
    return found


def test_personal_page_is_noindex_and_no_referrer(site):
    metas = _metas(site / "me" / "index.html")
    assert metas.get("robots") == ["noindex, nofollow"]
    assert metas.get("referrer") == ["no-referrer"]


def test_other_pages_are_no_referrer_but_indexed(site):
    pages = sorted(p for p in site.rglob("*.html") if p.relative_to(site).as_posix() != "me/index.html")
    assert len(pages) >= 7
    for page in pages:
        metas = _metas(page)
        assert metas.get("referrer") == ["no-referrer"], page.relative_to(site)
        assert "robots" not in metas, page.relative_to(site)


def test_robots_txt_keeps_the_personal_page_out(site):
    lines = (site / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /me/" in lines


def test_robots_txt_follows_a_site_url_path(tmp_path):
    sheets = workbook()
    sheets["设置"] = [row if row[0] != "网站地址" else ["网站地址", "https://example.cn/jf/"] for row in sheets["设置"]]
    root = make_project(tmp_path / "project", sheets)
    _build(root)
    lines = (root / "site" / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /jf/me/" in lines
    assert "Disallow: /me/" not in lines
    assert len(list((root / "site" / "me" / "d").iterdir())) == len(VALID_TOKENS)


def test_search_index_has_no_personal_page(site):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["docs"], "empty search index"
    locations = [d["location"] for d in index["docs"]]
    assert not [loc for loc in locations if loc.split("#")[0] in ("me/", "me/index.html", "me")], locations
    text = json.dumps(index, ensure_ascii=False)
    assert "卡号只在您的手机上使用" not in text
    assert "kit-me" not in text


def test_sealed_data_is_the_view_as_asdict_gives_it(views):
    import dataclasses as dc

    for view in list(views.values())[:20]:
        same = dict(ensure_ascii=False, sort_keys=True)
        assert json.dumps(view.to_data(), **same) == json.dumps(dc.asdict(view), **same)
    assert any(view.entries and view.changes for view in views.values())
