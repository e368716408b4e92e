"""`kit build` and `kit serve` through the CLI, in a real project folder.

One project is built once per module and shared; tests that change something work
on a copy of it (built site included), so the published site they compare against
is a real earlier build.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import html
import json
import re
import shutil
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from kit.pipeline import open_source, validate
from kit.privacy import public_names
from kit.serve import serve
from tests.conftest import make_project, run_kit, write_xlsx

D = dt.date
T = dt.time
AS_OF = D(2026, 6, 30)
AS_OF_ARG = ("--as-of", AS_OF.isoformat())
SECRET = "5173e57b0c1d2e3f4a5b6c7d8e9f0a1b"
PAGES = ("menu", "rewards", "ranking", "notice", "dashboard", "privacy")

ENTRY_HEAD = ["记录编号", "日期", "时间", "居民编号", "规则编码", "数量", "备注", "登记人", "审核人1", "审核人2", "状态"]


def row(entry_id, date, resident, rule, quantity, time=None, status="通过", reviewer2=None, note=None,
        recorder="S1"):
    return [entry_id, date, time, resident, rule, quantity, note, recorder, "S2", reviewer2, status]


SHEETS: dict[str, list[list[object]]] = {
    "设置": [["项目", "值"], ["名称", "幸福社区积分"], ["单位", "幸福街道综治中心"], ["积分有效期(月)", 12],
           ["化名密钥", SECRET], ["最小公布人数", 3], ["公示天数", 7], ["排行榜人数", 5]],
    "网格": [["网格编号", "网格名称", "所属社区"], ["G1", "第一网格", "幸福社区"], ["G2", "第二网格", "幸福社区"],
           ["G3", "第三网格", "幸福社区"]],
    "工作人员": [["工号", "姓名", "角色"], ["S1", "王芳", "登记员"], ["S2", "李强", "审核员"], ["S3", "赵敏", "管理员"]],
    "居民": [
        ["居民编号", "姓名", "网格", "出生年份", "手机", "同意公开姓名", "卡号", "状态"],
        ["HX0001", "张三丰", "G1", 1956, "13812345601", "是", "tk8f3a9c2d71e4b6a01", "在册"],
        ["HX0002", "李四", "G1", 1990, "13812345602", "否", "tk8f3a9c2d71e4b6a02", "在册"],
        ["HX0003", "王五", "G1", 1970, "13812345603", "是", "tk8f3a9c2d71e4b6a03", "在册"],
        ["HX0004", "赵六", "G1", 1980, None, "否", None, "在册"],
        ["HX0005", "孙七", "G2", 1960, None, "是", None, "在册"],
        ["HX0006", "周八", "G2", 1965, None, "否", None, "在册"],
        ["HX0007", "吴九", "G2", 1975, None, "是", None, "在册"],
        ["HX0008", "郑十", "G3", 1985, None, "是", None, "在册"],
        ["HX0009", "冯十一", "G1", 1950, None, "是", None, "迁出"],
        ["HX0010", "陈一", "G3", 1995, None, "否", None, "在册"],
    ],
    "积分规则": [
        ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用"],
        ["XL", "治安巡逻", "平安巡防", 10, "小时", 40, "否", "所有居民", "夜间巡逻", "是"],
        ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", None, None, "是"],
        ["HJ", "环境整治", "环境整治", 5, "次", None, "否", "老年人", None, "是"],
        ["ZY", "志愿服务", "志愿服务", 8, "小时", None, "否", None, None, "是"],
        ["OLD", "旧活动", "志愿服务", 3, "次", None, "否", None, None, "否"],
    ],
    "加分规则": [
        ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
        ["夜间巡逻双倍", None, "XL", None, None, T(20, 0), T(6, 0), 2],
        ["夏季环境月", "环境整治", None, D(2026, 6, 1), D(2026, 7, 31), None, None, 1.5],
        ["春节加倍", None, None, D(2026, 1, 20), D(2026, 2, 20), None, None, 2],
    ],
    "积分记录": [
        ENTRY_HEAD,
        row("E01", D(2025, 12, 10), "HX0001", "XL", 3),
        row("E02", D(2026, 1, 5), "HX0001", "XL", 3),
        row("E03", D(2026, 2, 1), "HX0002", "ZY", 5, note="帮扶独居老人"),
        row("E04", D(2026, 3, 5), "HX0003", "TJ", 1, reviewer2="S3", note="楼上漏水纠纷"),
        row("E05", D(2026, 3, 6), "HX0004", "ZY", 2),
        row("E06", D(2026, 4, 2), "HX0005", "XL", 2, time=T(21, 0)),
        row("E07", D(2026, 4, 9), "HX0006", "HJ", 4),
        row("E08", D(2026, 5, 3), "HX0007", "ZY", 3),
        row("E09", D(2026, 5, 20), "HX0008", "XL", 1),
        row("E10", D(2026, 6, 2), "HX0009", "XL", 4),
        row("E11", D(2026, 6, 23), "HX0002", "XL", 2),
        row("E12", D(2026, 6, 24), "HX0003", "HJ", 2),
        row("E13", D(2026, 6, 26), "HX0004", "XL", 1, time=T(22, 0)),
        row("E14", D(2026, 6, 28), "HX0005", "ZY", 2),
        row("E15", D(2026, 6, 30), "HX0006", "TJ", 1, reviewer2="S3"),
        row("E16", D(2026, 6, 29), "HX0007", "ZY", 1, status="待审核"),
        row("E17", D(2026, 7, 1), "HX0001", "XL", 2),
        row("E18", D(2026, 6, 25), "HX0001", "ZY", 1),
    ],
    "奖品": [["编码", "名称", "类型", "所需积分", "库存", "说明"],
           ["JP1", "大米", "物质", 10, 10, "5 公斤"], ["JP2", "优秀志愿者证书", "精神", 50, None, None],
           ["FW1", "理发优先", "服务", 5, 3, None]],
    "兑换记录": [["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
             ["D1", D(2026, 5, 1), "HX0001", "JP1", 2, "S1"], ["D2", D(2026, 5, 2), "HX0003", "JP1", 1, "S1"],
             ["D3", D(2026, 5, 5), "HX0005", "FW1", 1, "S1"]],
    "申诉": [["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"],
           ["A1", D(2026, 6, 29), "HX0006", "E15", "调解次数登记错误", "受理中", None, None],
           ["A2", D(2026, 6, 27), "HX0005", "E14", "服务时长少记", "更正", 24, D(2026, 6, 29)]],
}


# --- helpers ----------------------------------------------------------------------


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def staging_folders(project: Path) -> list[Path]:
    return sorted(project.glob(".kit-build-*"))


def page(site: Path, name: str = "") -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def content(text: str) -> str:
    """The page's own content (the article), without the theme around it."""
    start, end = text.index("<article"), text.index("</article>")
    return text[start:end]


def cells(fragment: str) -> list[list[str]]:
    """Body rows of the tables in fragment, as plain text cells."""
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", fragment, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        if tds:
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", td)).strip() for td in tds])
    return rows


def boards(text: str) -> dict[str, list[list[str]] | None]:
    """Ranking boards by title: rows, or None when the board says it is not published."""
    found = {}
    for chunk in content(text).split('<div class="kit-board">')[1:]:
        title = html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<h3[^>]*>(.*?)</h3>", chunk, re.S).group(1)))
        body = chunk.split("</div>")[0]
        found[title.strip()] = None if "不公布" in body and "<table" not in body else cells(body)
    return found


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def copy_project(source: Path, target: Path, with_site: bool = True) -> Path:
    ignore = None if with_site else shutil.ignore_patterns("site")
    shutil.copytree(source, target, ignore=ignore)
    return target


# --- the shared build -------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("site") / "幸福社区", SHEETS)
    result = run_kit(root, "build", *AS_OF_ARG)
    assert result.exit_code == 0, result.output
    assert "网站已更新" in result.output
    return root


@pytest.fixture(scope="module")
def site(project) -> Path:
    return project / "site"


@pytest.fixture(scope="module")
def site_hashes(site) -> dict[str, str]:
    return tree_hashes(site)


@pytest.fixture(scope="module")
def validated(project):
    return validate(open_source(project / "sheets" / "ledger.xlsx"), AS_OF)


@pytest.fixture(scope="module")
def display(validated) -> dict[str, str]:
    return dict(public_names(SECRET, validated.book.residents, AS_OF).display)


HIDDEN_GRIDS = {"G2", "G3"}  # 第三网格 has one participant this year; 第二网格 (3) is hidden with it


def expected_ranking(validated, display, start: dt.date, grid: str | None = None, size: int = 5):
    """Rows from the ledger: everyone who earned points (moved-away residents too), residents of a
    hidden grid under 其他网格."""
    residents = {r.resident_id: r for r in validated.book.residents}
    grid_names = {g.grid_id: g.grid_name for g in validated.book.grids}
    totals: Counter[str] = Counter()
    for award in validated.ledger.awards.values():
        rid = award.entry.resident_id
        if start <= award.entry.date <= AS_OF and (grid is None or residents[rid].grid_id == grid):
            totals[rid] += award.points
    ranked = sorted(((p, display[rid], rid) for rid, p in totals.items() if p > 0), key=lambda t: (-t[0], t[1]))
    rows = []
    for index, (points, name, rid) in enumerate(ranked[:size]):
        rank = rows[-1][0] if rows and rows[-1][3] == points else index + 1
        grid_id = residents[rid].grid_id
        rows.append((rank, name, "其他网格" if grid_id in HIDDEN_GRIDS else grid_names[grid_id], points))
    return [[str(rank), name, grid_name, str(points)] for rank, name, grid_name, points in rows]


# --- what the build publishes -------------------------------------------------------


def test_build_creates_every_page(site):
    assert (site / "index.html").is_file()
    for name in PAGES:
        assert (site / name / "index.html").is_file(), name
    assert (site / "assets" / "kit.css").is_file()
    assert (site / "search" / "search_index.json").is_file()


def test_home_page_shows_site_name_and_figures(site, validated):
    text = page(site)
    assert "<title>幸福社区积分</title>" in text
    assert re.search(r"<h1[^>]*>幸福社区积分</h1>", text)
    assert "幸福街道综治中心" in text
    assert "数据更新至 2026-06-30" in text
    figures = {}
    for value, label in re.findall(
            r'<div class="kit-figure-value">(.*?)</div><div class="kit-figure-label">(.*?)</div>', text, re.S):
        figures[html.unescape(label)] = html.unescape(re.sub(r"<[^>]+>", "", value))
    year_points = sum(a.points for a in validated.ledger.awards.values() if a.entry.date.year == 2026)
    assert figures == {
        "居民": "10人",  # 9 registered and 冯十一, who patrolled before moving away
        "2026 年参与居民": "9人",
        "2026 年发放积分": "不公布",  # January had one resident: the month is hidden, so is the total
        "2026 年兑换次数": "3次",
        "积分项目": "4项",
        "可兑换奖品": "3种",
    }
    assert year_points == 30 + 80 + 20 + 16 + 40 + 20 + 24 + 10 + 40 + 20 + 15 + 20 + 24 + 20 + 8


def test_leaderboard_matches_the_ledger(site, validated, display):
    found = boards(page(site, "ranking"))
    year = expected_ranking(validated, display, D(2026, 1, 1))
    month = expected_ranking(validated, display, D(2026, 6, 1))
    assert found["全社区 · 2026 年"] == year
    assert found["全社区 · 2026 年 6 月"] == month
    # written out: 李四 (pseudonym) 80+20, 孙* 40+24, 周八 (pseudonym) 20+20 and 冯*一 (moved) 40, 张*丰 30+8
    assert [(r[0], r[3]) for r in year] == [("1", "100"), ("2", "64"), ("3", "40"), ("3", "40"), ("5", "38")]
    assert [r[1] for r in year] == [display["HX0002"], "孙*", "冯*一", display["HX0006"], "张*丰"]
    assert [r[2] for r in year] == ["第一网格", "其他网格", "第一网格", "其他网格", "第一网格"]
    # June: 冯*一 40; 孙* 24; three at 20 share third place
    assert [(r[0], r[3]) for r in month] == [("1", "40"), ("2", "24"), ("3", "20"), ("3", "20"), ("3", "20")]


def test_grid_leaderboards_and_suppression(site, validated, display):
    found = boards(page(site, "ranking"))
    assert found["第一网格 · 2026 年"] == expected_ranking(validated, display, D(2026, 1, 1), "G1")
    assert found["第一网格 · 2026 年 6 月"] == expected_ranking(validated, display, D(2026, 6, 1), "G1")
    # 第三网格 has one participant this year, and 第二网格 is hidden with it: no board lists either
    for board in ("第二网格 · 2026 年", "第二网格 · 2026 年 6 月", "第三网格 · 2026 年", "第三网格 · 2026 年 6 月"):
        assert found[board] is None, board
    ranking = content(page(site, "ranking"))
    third = ranking.split("第三网格 · 2026 年</h3>")[1].split("</div>")[0]
    assert "不公布" in third
    assert display["HX0008"] not in ranking  # the only participant of 第三网格
    assert "第二网格</td>" not in ranking and "第三网格</td>" not in ranking


def test_notice_page(site, validated, display):
    rows = cells(content(page(site, "notice")))
    assert "公示期间：2026-06-24 至 2026-06-30" in page(site, "notice")
    # date, code, grid, activity, menu points, deadline, status: nobody named, no bonus, no correction
    assert [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("2026-06-30", "其他网格", "其他活动", "20", "2026-07-07", "申诉中"),  # 矛盾调解: 2 residents this year
        ("2026-06-28", "其他网格", "志愿服务 2 小时", "16", "2026-07-05", "公示中"),  # corrected to 24 on the own page
        ("2026-06-26", "其他网格", "治安巡逻 1 小时", "10", "2026-07-03", "公示中"),  # 20 with the night bonus
        ("2026-06-25", "其他网格", "志愿服务 1 小时", "8", "2026-07-02", "公示中"),
        ("2026-06-24", "其他网格", "其他活动", "10", "2026-07-01", "公示中"),
    ]
    notice = content(page(site, "notice"))
    assert not [name for name in display.values() if name in notice]
    assert all(re.fullmatch(r"[A-Z]{6}", r[1]) for r in rows)
    counted = {a.entry.entry_id for a in validated.ledger.awards.values() if D(2026, 6, 24) <= a.entry.date}
    assert len(rows) == len(counted) == 5


def test_rewards_page_shows_stock_left(site):
    rows = cells(content(page(site, "rewards")))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("大米", "物质", "10 分", "7 份"),  # 10 − 2 − 1
        ("优秀志愿者证书", "精神", "50 分", "不限"),
        ("理发优先", "服务", "5 分", "2 份"),  # 3 − 1
    ]


def test_menu_page(site):
    text = content(page(site, "menu"))
    for name in ("治安巡逻", "矛盾调解", "环境整治", "志愿服务"):
        assert f"<td>{name}</td>" in text
    assert "旧活动" not in text  # inactive rule
    assert "治安巡逻，每天 20:00–06:00，积分双倍" in text
    assert "“环境整治”类活动，2026-06-01 至 2026-07-31，积分 ×1.5" in text
    assert "春节加倍" not in text  # ended before the as-of date


def test_dashboard_has_inline_svg_and_no_script_of_its_own(site):
    text = page(site, "dashboard")
    article = content(text)
    assert article.count("<svg") == 4
    assert "<script" not in article
    assert "不公布" in article
    # the only scripts are the theme's own, exactly as on a page without charts
    scripts = re.findall(r"<script[^>]*>", text)
    assert scripts == re.findall(r"<script[^>]*>", page(site, "rewards"))
    for src in re.findall(r'<script[^>]*src="([^"]+)"', text):
        assert not re.match(r"(https?:)?//", src)


def test_no_personal_data_in_any_published_file(site):
    secrets_ = [r[1] for r in SHEETS["居民"][1:]] + [r[0] for r in SHEETS["居民"][1:]] + \
        [r[4] for r in SHEETS["居民"][1:] if r[4]] + [r[6] for r in SHEETS["居民"][1:] if r[6]] + \
        [r[1] for r in SHEETS["工作人员"][1:]] + [r[6] for r in SHEETS["积分记录"][1:] if r[6]] + \
        [r[4] for r in SHEETS["申诉"][1:]] + [SECRET]
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        text = data.decode("utf-8", errors="replace")
        if path.suffix == ".json":
            text = json.dumps(json.loads(text), ensure_ascii=False)
        text = text.replace("\u200b", "")  # search segments words with zero-width spaces
        for value in secrets_:
            assert value not in text, (path, value)


# --- reproducibility --------------------------------------------------------------


def test_build_is_reproducible(project, site_hashes, tmp_path):
    again = copy_project(project, tmp_path / "again")
    assert run_kit(again, "build", *AS_OF_ARG).exit_code == 0
    second = tree_hashes(again / "site")
    assert run_kit(again, "build", *AS_OF_ARG).exit_code == 0  # replaces the first
    third = tree_hashes(again / "site")
    elsewhere = copy_project(project, tmp_path / "其他" / "文件夹" / "社区", with_site=False)
    assert run_kit(elsewhere, "build", *AS_OF_ARG).exit_code == 0
    moved = tree_hashes(elsewhere / "site")
    assert second == site_hashes
    assert third == site_hashes
    assert moved == site_hashes
    assert staging_folders(again) == [] and staging_folders(elsewhere) == []


# --- atomicity: a failed build leaves the published site as it was ----------------


def bad_sheets() -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(SHEETS)
    sheets["积分记录"].append(row("E90", D(2026, 6, 29), "HX9999", "XL", 1))  # unknown resident
    sheets["积分记录"].append(row("E91", D(2026, 6, 29), "HX0008", "XL", 3, recorder="S9"))  # unknown staff
    return sheets


def test_workbook_errors_leave_the_site_untouched(project, site_hashes, tmp_path):
    work = copy_project(project, tmp_path / "work")
    write_xlsx(work / "sheets" / "ledger.xlsx", bad_sheets())
    result = run_kit(work, "build", *AS_OF_ARG)
    assert result.exit_code == 1, result.output
    assert "unknown-resident" in result.output and "HX9999" in result.output
    assert "unknown-staff" in result.output and "S9" in result.output
    assert "网站没有更新" in result.output
    assert tree_hashes(work / "site") == site_hashes
    assert staging_folders(work) == []


def test_skip_invalid_publishes_without_the_bad_rows(project, site_hashes, tmp_path):
    work = copy_project(project, tmp_path / "work")
    write_xlsx(work / "sheets" / "ledger.xlsx", bad_sheets())
    result = run_kit(work, "build", *AS_OF_ARG, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "HX9999" in result.output and "S9" in result.output  # the skipped rows are listed
    assert "网站已更新" in result.output
    # the two bad rows leave no trace: the same site as the workbook without them
    assert tree_hashes(work / "site") == site_hashes
    notice = content(page(work / "site", "notice"))
    assert "2026-06-29" not in notice
    assert staging_folders(work) == []


def _invalid_yaml(root: Path) -> str:
    (root / "mkdocs.yml").write_text("site_name: 社区积分\ntheme: [material\n  language: zh\n", encoding="utf-8")
    return "mkdocs.yml"


def _unknown_markdown_extension(root: Path) -> str:
    text = (root / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "mkdocs.yml").write_text(text + "markdown_extensions:\n  - kit_no_such_extension\n", encoding="utf-8")
    return "kit_no_such_extension"


def _page_collides_with_generated(root: Path) -> str:
    (root / "docs" / "index.md").write_text("# 首页\n", encoding="utf-8")
    return "docs/index.md"


def _template_undefined_variable(root: Path) -> str:
    (root / "templates" / "pages").mkdir(parents=True)
    (root / "templates" / "pages" / "menu.md.j2").write_text("# 积分菜单\n\n{{ no_such_variable.name }}\n",
                                                             encoding="utf-8")
    return "menu.md.j2"


def _template_syntax_error(root: Path) -> str:
    (root / "templates" / "pages").mkdir(parents=True)
    (root / "templates" / "pages" / "notice.md.j2").write_text("# 积分公示\n\n{% for line in %}\n",
                                                               encoding="utf-8")
    return "notice.md.j2"


def _page_not_utf8(root: Path) -> str:
    # Notepad on a Chinese Windows saves GBK unless told otherwise
    (root / "docs" / "关于我们.md").write_bytes("# 关于我们\n\n社区服务站地址：幸福路 1 号。\n".encode("gbk"))
    return "关于我们.md"


@pytest.mark.parametrize("breaks", [
    _invalid_yaml, _unknown_markdown_extension, _page_collides_with_generated,
    _template_undefined_variable, _template_syntax_error, _page_not_utf8,
], ids=lambda f: f.__name__.strip("_"))
def test_failed_build_leaves_the_site_untouched(project, site_hashes, tmp_path, breaks):
    work = copy_project(project, tmp_path / "work")
    culprit = breaks(work)
    result = run_kit(work, "build", *AS_OF_ARG)
    assert result.exit_code != 0
    assert tree_hashes(work / "site") == site_hashes
    assert staging_folders(work) == []
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert "Traceback" not in result.output
    assert has_chinese(result.output)
    assert culprit in result.output, result.output  # tells staff what to fix


def test_failed_first_build_creates_no_site(project, tmp_path):
    work = copy_project(project, tmp_path / "work", with_site=False)
    _page_collides_with_generated(work)
    result = run_kit(work, "build", *AS_OF_ARG)
    assert result.exit_code != 0
    assert not (work / "site").exists()
    assert staging_folders(work) == []


# --- kit serve ----------------------------------------------------------------------


def test_serve_without_a_site_says_to_build_first(project, tmp_path):
    work = copy_project(project, tmp_path / "work", with_site=False)
    result = run_kit(work, "serve", "--port", "0")
    assert result.exit_code == 2
    assert "kit build" in result.output
    assert has_chinese(result.output)
    assert "Traceback" not in result.output


def test_serve_serves_the_site(site):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    with serve(site, "127.0.0.1", 0) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url) and not url.endswith(":0/")
        with opener.open(url, timeout=10) as response:
            assert response.status == 200
            body = response.read().decode("utf-8")
        with opener.open(url + "ranking/", timeout=10) as response:
            ranking = response.read().decode("utf-8")
    assert body == page(site)
    assert "幸福社区积分" in body
    assert "排行榜" in ranking


# --- outside a project ------------------------------------------------------------------


def test_build_outside_a_project(tmp_path):
    result = run_kit(tmp_path, "build", *AS_OF_ARG)
    assert result.exit_code == 2
    assert "kit.toml" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "site").exists()
