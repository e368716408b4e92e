"""The public site never publishes personal data (PRODUCT.md, "Privacy").

One site is built (module scope) from a workbook full of distinctive personal
data — full names, phones, resident ids, birth years, notes, appeal reasons,
staff names and ids, card tokens, the pseudonym secret — with data on every
page (bonuses, rewards, redemptions, an open and a corrected appeal, entries
inside the notice window). Then every file under site/ is scanned for it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from kit import leak_scan
from kit.pipeline import open_source, validate
from kit.privacy import masked_name, public_names
from kit.project import DEFAULT_WORKBOOK
from tests.conftest import make_project, run_kit

AS_OF = dt.date(2026, 6, 30)
SECRET = "5ec2e7ca7f3a9c1e5b2d46800d1e2f3a"
SITE_URL = "https://jf.example.cn/"

STAFF = [
    ("STFZQX01", "职员秘名丙", "登记员"),
    ("STFZQX02", "职员秘名丁", "审核员"),
    ("STFZQX03", "职员秘名戊", "管理员"),
]
# resident_id, name, grid, birth year, phone, consent, card token, status
RESIDENTS = [
    ("RIDZQX0001", "张宝三", "G1", 1937, "13912345678", "是", "TOKENSECRETQWERTY0001", "在册"),
    ("RIDZQX0002", "欧阳振华", "G1", 1948, "15887654321", "是", "TOKENSECRETQWERTY0002", "在册"),
    ("RIDZQX0003", "龚秀", "G2", 1952, "18600001111", "是", "TOKENSECRETQWERTY0003", "在册"),
    ("RIDZQX0004", "霍秘甲", "G1", 1961, "13700002222", "否", "TOKENSECRETQWERTY0004", "在册"),
    ("RIDZQX0005", "薛秘乙", "G2", 1973, "17711113333", "否", "TOKENSECRETQWERTY0005", "在册"),
    ("RIDZQX0006", "宁秘丙", "G1", 1984, "19922224444", "否", "TOKENSECRETQWERTY0006", "在册"),
    ("RIDZQX0007", "柯秘丁", "G2", 1995, "14533335555", "否", "TOKENSECRETQWERTY0007", "在册"),
    ("RIDZQX0008", "卜秘戊", "G2", 1929, "16644446666", "否", "TOKENSECRETQWERTY0008", "迁出"),
]
CONSENTING = [r for r in RESIDENTS if r[5] == "是"]
NOT_CONSENTING = [r for r in RESIDENTS if r[5] == "否"]
NOTES = ["备注机密内容甲", "备注机密内容甲二", "备注机密内容甲三"]
REASONS = ["申诉理由机密乙", "申诉理由机密乙二"]


def _entries() -> list[list[object]]:
    """One approved patrol per resident per month (Jan–Jun), one more in the notice
    window (06-24 … 06-30), plus pending and rejected rows, all with notes."""
    rows = [["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"]]
    number = 0

    def add(day, time, rid, code, qty, note, status="通过"):
        nonlocal number
        number += 1
        second = "STFZQX03" if code == "TJ" else None
        rows.append([f"EZQX{number:04d}", day, time, rid, code, qty, note, "STFZQX01", "STFZQX02", second, status])

    for index, (rid, *_rest) in enumerate(RESIDENTS):
        for month in range(1, 7):
            add(dt.date(2026, month, 3 + index), dt.time(21, 0) if month % 2 else None, rid, "XL", 2,
                NOTES[(index + month) % len(NOTES)])
        add(dt.date(2026, 6, 24 + index % 7), dt.time(10, 0), rid, "TJ" if index % 2 else "ZY", 1,
            NOTES[index % len(NOTES)])
    add(dt.date(2026, 6, 29), None, "RIDZQX0001", "XL", 1, "备注机密内容甲 待审核", "待审核")
    add(dt.date(2026, 6, 28), None, "RIDZQX0004", "XL", 3, "备注机密内容甲 驳回", "驳回")
    return rows


def privacy_workbook() -> dict[str, list[list[object]]]:
    entries = _entries()
    open_entry = next(r[0] for r in entries[1:] if r[3] == "RIDZQX0004" and r[1] >= dt.date(2026, 6, 24))
    corrected_entry = next(r[0] for r in entries[1:] if r[3] == "RIDZQX0005" and r[1].month == 3)
    return {
        "设置": [
            ["项目", "值"],
            ["名称", "幸福社区积分"],
            ["单位", "幸福街道综治中心"],
            ["网站地址", SITE_URL],
            ["积分有效期(月)", 12],
            ["公示天数", 7],
            ["最小公布人数", 5],
            ["化名密钥", SECRET],
        ],
        "网格": [["网格编号", "网格名称", "所属社区"], ["G1", "第一网格", "幸福社区"], ["G2", "第二网格", "幸福社区"]],
        "工作人员": [["工号", "姓名", "角色"], *[list(s) for s in STAFF]],
        "居民": [["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态"],
                 *[list(r) for r in RESIDENTS]],
        "积分规则": [
            ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"],
            ["XL", "治安巡逻", "平安巡防", 10, "小时", 40, "否", "所有居民", "夜间巡逻请结伴", "是"],
            ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", "老党员", "调解邻里纠纷", "是"],
            ["ZY", "志愿服务", "志愿服务", 5, "小时", 20, "否", None, None, "是"],
        ],
        "加分规则": [
            ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
            ["夜间巡逻双倍", None, "XL", None, None, dt.time(20, 0), dt.time(6, 0), 2],
            ["志愿服务月", "志愿服务", None, dt.date(2026, 6, 1), dt.date(2026, 7, 31), None, None, 1.5],
        ],
        "积分记录": entries,
        "奖品": [
            ["编码", "名称", "类型", "所需积分", "库存", "说明"],
            ["JPZQ1", "环保购物袋", "物质", 30, 100, "可重复使用"],
            ["JPZQ2", "优秀志愿者证书", "精神", 100, None, "年度表彰"],
            ["JPZQ3", "优先预约理发", "服务", 50, 10, "每月一次"],
        ],
        "兑换记录": [
            ["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
            ["RDZQX001", dt.date(2026, 5, 20), "RIDZQX0001", "JPZQ1", 1, "STFZQX01"],
            ["RDZQX002", dt.date(2026, 6, 2), "RIDZQX0004", "JPZQ3", 1, "STFZQX03"],
            ["RDZQX003", dt.date(2026, 6, 5), "RIDZQX0002", "JPZQ1", 2, "STFZQX01"],
        ],
        "申诉": [
            ["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"],
            ["APZQX001", dt.date(2026, 6, 29), "RIDZQX0004", open_entry, REASONS[0], "受理中", None, None],
            ["APZQX002", dt.date(2026, 3, 10), "RIDZQX0005", corrected_entry, REASONS[1], "更正", 5,
             dt.date(2026, 3, 15)],
        ],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Project folder with a freshly built site/ (built once for the module)."""
    root = make_project(tmp_path_factory.mktemp("privacy") / "project", privacy_workbook())
    result = run_kit(root, "build", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, (result.output, result.exception)
    assert (root / "site" / "index.html").is_file()
    return root


@pytest.fixture(scope="module")
def site(built) -> Path:
    return built / "site"


@pytest.fixture(scope="module")
def book(built):
    result = validate(open_source(built / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors, result.errors
    return result.book




def readable_text(path: Path) -> str:
    """A file's text as a reader or a search engine would see it (gzip opened, JSON decoded,
    entities resolved, zero-width spaces removed): the kit's own pre-publish reading."""
    return leak_scan.readable_text(path.name, path.read_bytes())


def visible_text(path: Path) -> str:
    """Text of a generated page without tags/attributes (for numbers like birth years,
    which would otherwise match SVG coordinates or asset hashes)."""
    text = readable_text(path)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    return re.sub(r"<[^>]*>", " ", text)


@pytest.fixture(scope="module")
def texts(site) -> dict[str, str]:
    files = sorted(p for p in site.rglob("*") if p.is_file())
    assert files, "empty site"
    return {p.relative_to(site).as_posix(): readable_text(p) for p in files}


def _secrets() -> dict[str, str]:
    """Every secret string → what it is."""
    found: dict[str, str] = {}
    for rid, name, _grid, _birth, phone, _consent, token, _status in RESIDENTS:
        found[name] = f"full name of {rid}"
        found[rid] = "resident id"
        found[phone] = f"phone of {rid}"
        found[token] = f"card token of {rid}"
    for sid, name, _role in STAFF:
        found[name] = "staff name"
        # PRODUCT.md lists staff names; staff ids are internal too and have no business on the site.
        found[sid] = "staff id"
    for note in NOTES:
        found[note] = "entry note"
    for reason in REASONS:
        found[reason] = "appeal reason"
    found[SECRET] = "pseudonym secret (化名密钥)"
    found["备注机密"] = "entry note (fragment)"
    found["申诉理由机密"] = "appeal reason (fragment)"
    found["职员秘名"] = "staff name (fragment)"
    found["TOKENSECRETQWERTY"] = "card token (fragment)"
    found["5ec2e7ca7f3a9c1e"] = "pseudonym secret (fragment)"
    return found


MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_site_has_data_on_every_page(site):
    """Guard: the scan below is only meaningful if the pages actually show the data."""
    for page in ("index.html", "menu/index.html", "rewards/index.html", "ranking/index.html",
                 "notice/index.html", "dashboard/index.html", "privacy/index.html"):
        assert (site / page).is_file(), page
    notice = visible_text(site / "notice/index.html")
    assert "申诉中" in notice  # the open appeal is inside the notice window
    # 8 lines; 矛盾调解 and 志愿服务 have 4 residents each (fewer than 5) and read 其他活动
    assert len(re.findall(r"\b[A-Z]{6}\b", notice)) >= 8 and notice.count("其他活动") >= 8
    ranking = visible_text(site / "ranking/index.html")
    assert "全社区" in ranking and "不公布" not in ranking.split("全社区")[1][:200]
    assert "夜间巡逻双倍" in visible_text(site / "menu/index.html")
    assert "优先预约理发" in visible_text(site / "rewards/index.html")


def test_no_personal_data_in_any_file(texts):
    # the scan really reads every kind of file: the gzipped sitemap is opened, the
    # search index decoded (its Chinese is \uXXXX-escaped and split by zero-width spaces)
    assert "https://jf.example.cn/menu/" in texts["sitemap.xml.gz"]
    assert "治安巡逻" in texts["search/search_index.json"]
    assert len(texts) >= 40
    leaks = []
    for secret, what in _secrets().items():
        for name, text in texts.items():
            if secret in text:
                at = text.index(secret)
                leaks.append(f"{what} {secret!r} in {name}: …{text[max(0, at - 60):at + 60]!r}…")
    assert not leaks, "\n".join(leaks)


def test_no_mobile_number_in_any_file(texts):
    leaks = [f"{m.group()} in {name}" for name, text in texts.items() for m in MOBILE.finditer(text)]
    assert not leaks, "\n".join(leaks)


def test_phone_digits_not_published_in_another_shape(texts):
    """A phone printed as 139 1234 5678 or 139-1234-5678 is still a phone."""
    leaks = []
    for rid, _name, _grid, _birth, phone, *_ in RESIDENTS:
        spaced = re.compile(r"(?<!\d)" + r"[\s\-]?".join(phone) + r"(?!\d)")
        for name, text in texts.items():
            if spaced.search(text):
                leaks.append(f"phone of {rid} in {name}")
        # the last 8 digits alone are identifying enough to count as a leak
        for name, text in texts.items():
            if re.search(r"(?<!\d)" + phone[-8:] + r"(?!\d)", text):
                leaks.append(f"last 8 digits of phone of {rid} in {name}")
    assert not leaks, "\n".join(leaks)


def test_no_birth_year_in_page_text(site):
    pages = [p for p in site.rglob("*") if p.is_file() and (p.suffix == ".html" or p.name == "search_index.json")]
    assert len(pages) >= 8
    leaks = []
    for page in pages:
        text = re.sub(r"[\u4e00-\u9fff]{2}\d{4}", " ", visible_text(page))  # a pseudonym's number is not a year
        for rid, _name, _grid, birth, *_ in RESIDENTS:
            if re.search(rf"(?<!\d){birth}(?!\d)", text):
                leaks.append(f"birth year {birth} of {rid} in {page.relative_to(site)}")
    assert not leaks, "\n".join(leaks)


def test_consenting_residents_appear_masked(site):
    shown = visible_text(site / "ranking/index.html") + visible_text(site / "notice/index.html")
    for rid, name, *_ in CONSENTING:
        masked = masked_name(name)
        assert "*" in masked and masked != name
        assert masked in shown, f"{rid} consented: expected {masked!r} on the ranking or notice page"
    # the masking rule itself, on the names used here
    assert {masked_name(r[1]) for r in CONSENTING} == {"张*三", "欧阳*华", "龚*"}


def test_non_consenting_residents_appear_only_as_pseudonyms(site, texts, book):
    names = public_names(SECRET, book.residents, AS_OF)
    shown = visible_text(site / "ranking/index.html") + visible_text(site / "notice/index.html")
    for rid, name, *_ in NOT_CONSENTING:
        pseudonym = names.pseudonym[rid]
        assert names.display[rid] == pseudonym
        assert re.fullmatch(r"\w{2}\d{4}", pseudonym), pseudonym
        assert pseudonym in shown, f"{rid} did not consent: expected pseudonym {pseudonym!r} on ranking/notice"
        masked = masked_name(name)
        offenders = [f for f, text in texts.items() if masked in text]
        assert not offenders, f"{rid} did not consent but masked name {masked!r} is in {offenders}"


def test_pseudonyms_come_from_the_workbook_secret(site, book):
    """Pseudonyms computed with another secret must not be what the site shows."""
    shown = visible_text(site / "ranking/index.html") + visible_text(site / "notice/index.html")
    other = public_names("some-other-secret-0000000", book.residents, AS_OF)
    right = public_names(SECRET, book.residents, AS_OF)
    for rid, *_ in NOT_CONSENTING:
        if other.pseudonym[rid] != right.pseudonym[rid]:
            assert other.pseudonym[rid] not in shown


def test_no_bulk_data_file_under_a_guessable_name(site):
    """No public file lists many residents' data: apart from the theme's assets, the
    pages, the sitemap and the search index there is nothing, and the only JSON is the
    search index (which excludes the ranking and notice pages)."""
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    jsons = [f for f in files if f.endswith((".json", ".json.gz"))]
    opendata = {f"data/{name}.{ext}" for name in ("age_bands", "categories", "grids", "hotspots", "monthly")
                for ext in ("csv", "json")}  # aggregates only (tests/test_opendata.py)
    opendata |= {"ledger/checkpoints.json", "ledger/leaves.txt"}  # salted hashes only (tests/test_fingerprint.py)
    assert [f for f in jsons if f not in opendata] == ["search/search_index.json"], jsons
    data_like = [f for f in files if f.rsplit(".", 1)[-1].lower()
                 in {"csv", "tsv", "xlsx", "xls", "ods", "txt", "db", "sqlite", "yml", "yaml", "md", "toml", "pdf"}]
    assert [f for f in data_like if f not in opendata] == ["robots.txt"], data_like
    pages = {"index.html", "404.html", "sitemap.xml", "sitemap.xml.gz", "search/search_index.json", "robots.txt"}
    pages |= {f"{p}/index.html" for p in ("menu", "rewards", "ranking", "notice", "dashboard", "privacy", "me", "data",
                                           "fingerprint")}
    pages |= opendata
    # one sealed file per card, named by a hash of its token (tests/test_personal_page.py)
    sealed = [f for f in files if re.fullmatch(r"me/d/[0-9a-f]{32}\.bin", f)]
    training = [f for f in files if re.fullmatch(r"training/([\w-]+/)?index\.html", f)]  # docs/training pages
    extra = [f for f in files if f not in pages and f not in sealed and f not in training
             and not f.startswith("assets/")]
    assert not extra, f"unexpected public files: {extra}"
    own_assets = [f for f in files if f.startswith("assets/") and not f.startswith(
        ("assets/javascripts/", "assets/stylesheets/", "assets/images/"))]
    assert own_assets == ["assets/kit-crypto.js", "assets/kit.css", "assets/me.js", "assets/quiz.js"], own_assets


def test_search_index_excludes_pages_with_residents(site):
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    assert "menu/" in locations  # the index is real
    assert not locations & {"ranking/", "notice/"}, locations


def test_no_staging_folder_left_beside_site(built):
    """The build's staging folder (rendered pages) does not linger beside site/."""
    leftovers = [p.name for p in built.iterdir() if p.name.startswith(".kit-build-")]
    assert not leftovers, leftovers
