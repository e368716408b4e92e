"""`kit report`: the staff-only quarterly evaluation report (PDF, Markdown, HTML).

One project (module scope): BASE plus 30 residents in three grids and a resident who moved away, entries
over 2025 (lots that decay in 2026Q2), 2026Q1 and 2026Q2, rewards with a 价值(元), redemptions and
appeals. The report for 2026Q2 is made once and its numbers are checked against kit.stats and
kit.forecast computed here, and against hand numbers.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pypdfium2
import pytest

from kit.forecast import liability, what_if
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.stats import Figures
from kit.wording import plain_number
from tests.conftest import BASE, make_project, run_kit

D = dt.date
QUARTER = "2026Q2"
AS_OF = min(D(2026, 6, 30), dt.date.today())
SITE_URL = "https://jf.example.cn/"
SURNAMES = "欧阳龚霍薛宁柯卜屈蔺晏邝覃"
GIVEN = "振华秀英建国丽娟志强美玲德胜晓燕海涛春花"
SECTIONS = ("一、总体情况", "二、各网格参与情况", "三、各年龄段参与情况", "四、各类活动", "五、需要关注的网格",
            "六、审核积压", "七、积分负债", "八、不同设置的对比")


def _residents() -> list[tuple[str, str, str, int, str]]:
    """(id, name, grid, birth year, phone): R3–R12 第一网格, R13–R22 第二网格, R23–R32 第三网格, R33 moved."""
    found = []
    for i in range(3, 34):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(2 * i) % len(GIVEN)] + GIVEN[(3 * i + 1) % len(GIVEN)]
        grid = "G1" if i <= 12 or i == 33 else "G2" if i <= 22 else "G3"
        found.append((f"R{i}", name, grid, 1940 + i * 2, f"1391234{i:04d}"))
    return found


RESIDENTS = _residents()


def _sheets() -> dict[str, list[list[object]]]:
    sheets = copy.deepcopy(BASE)
    sheets["设置"] += [["网站地址", SITE_URL], ["单位", "幸福街道综治中心"]]
    sheets["网格"].append(["G3", "第三网格", "幸福社区"])
    for rid, name, grid, birth, phone in RESIDENTS:
        sheets["居民"].append([rid, name, grid, birth, phone, "是" if birth % 4 else "否", None,
                             "迁出" if rid == "R33" else "在册"])
    sheets["积分规则"].append(["HJ", "环境整治", "环境整治", 5, "次", None, "否", None, None, "是"])
    rows = sheets["积分记录"]

    def add(day: dt.date, rid: str, code: str, quantity: int = 1, status: str = "通过") -> None:
        rows.append([f"E{len(rows)}", day, None, rid, code, quantity, f"备注{rid}", "S1", "S2",
                     "S3" if code == "TJ" else None, status])

    # E1, E2 (BASE): R1 20 and R2 20 in March 2026
    add(D(2025, 4, 15), "R6", "XL", 4)  # E3: 40, halved on 2026-04-15 (−20)
    add(D(2025, 5, 10), "R15", "XL", 3)  # E4: 30, halved on 2026-05-10 (−15)
    for i in range(3, 13):
        add(D(2026, 4, i), f"R{i}", "XL", 3)  # 第一网格: 10 × 30 = 300
    for i in range(13, 23):
        add(D(2026, 4, i), f"R{i}", "XL", 2)  # 第二网格: 10 × 20 = 200
    add(D(2026, 4, 23), "R23", "XL", 1)  # 第三网格: only R23 patrols, 10 (corrected to 30 by A1)
    for i in range(23, 28):
        add(D(2026, 5, i - 10), f"R{i}", "HJ", 2)  # 第三网格: 5 × 10 = 50
    add(D(2026, 5, 20), "R13", "TJ")  # mediation, 第二网格, 20
    add(D(2026, 6, 2), "R24", "TJ")  # mediation, 第三网格, 20
    add(D(2026, 5, 5), "R33", "XL", 4)  # moved away: 40 issued, not a participant
    add(D(2026, 6, 20), "R5", "XL", 1, "待审核")  # waiting 10 days
    add(D(2026, 6, 10), "R14", "XL", 1, "待审核")  # waiting 20 days
    add(D(2026, 7, 2), "R16", "XL", 2)  # after the quarter
    sheets["奖品"] = [["编码", "名称", "类型", "所需积分", "库存", "说明", "价值(元)"],
                     ["JP1", "大米", "物质", 30, None, None, 12],
                     ["JP2", "毛巾", "物质", 50, None, None, None]]
    sheets["兑换记录"] = [["编号", "日期", "居民编号", "奖品编码", "数量", "经办人"],
                       ["D1", D(2026, 5, 2), "R8", "JP1", 1, "S1"],
                       ["D2", D(2026, 6, 15), "R3", "JP1", 1, "S1"]]
    e = {row[3] + row[4] + str(row[1]): row[0] for row in rows[1:]}
    sheets["申诉"] = [["编号", "日期", "居民编号", "记录编号", "理由", "状态", "更正分值", "处理日期"],
                     ["A1", D(2026, 4, 24), "R23", e["R23XL2026-04-23"], "理由秘密甲", "更正", 30, D(2026, 4, 26)],
                     ["A2", D(2026, 4, 20), "R4", e["R4XL2026-04-04"], None, "维持", None, D(2026, 4, 25)],
                     ["A3", D(2026, 3, 25), "R1", "E1", None, "维持", None, D(2026, 4, 4)],
                     ["A4", D(2026, 5, 1), "R9", e["R9XL2026-04-09"], None, "更正", 20, D(2026, 5, 14)],
                     ["A5", D(2026, 6, 25), "R10", e["R10XL2026-04-10"], None, "受理中", None, None]]
    return sheets


SHEETS = _sheets()


def _pdf_text(path: Path) -> str:
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def compact(text: str) -> str:
    """Without any spaces or line breaks: PDF tables wrap cells and fpdf2 uses no-break spaces."""
    return re.sub(r"[\s\u00a0\u3000]+", "", text)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("report") / "幸福社区", SHEETS)


@pytest.fixture(scope="module")
def made(project):
    result = run_kit(project, "report", "--quarter", QUARTER)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def files(project, made) -> dict[str, Path]:
    private = project / "private"
    return {kind: private / f"季度报告-{QUARTER}.{kind}" for kind in ("pdf", "md", "html")}


@pytest.fixture(scope="module")
def pdf_text(files) -> str:
    return compact(_pdf_text(files["pdf"]))


@pytest.fixture(scope="module")
def md_text(files) -> str:
    return files["md"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def expected(project):
    result = validate(open_source(project / DEFAULT_WORKBOOK), AS_OF)
    assert not result.errors
    figures = Figures(result.book, result.ledger)
    return dict(
        this=figures.quarter(QUARTER), last=figures.quarter("2026Q1"),
        hotspots=figures.hotspots(D(2026, 4, 1), D(2026, 6, 30), result.book.settings.min_group_size),
        backlog=figures.backlog(), owed=liability(result.book, result.ledger),
        scenarios=what_if(result.book, AS_OF),
    )


def test_report_files_are_written_into_private(project, made, files):
    for path in files.values():
        assert path.is_file() and path.stat().st_size > 0, path
    assert (project / "private" / f"季度报告-{QUARTER}-grids.svg").is_file()
    assert (project / "private" / f"季度报告-{QUARTER}-categories.svg").is_file()
    pdf = files["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile" in pdf and b"NotoSansSC" in pdf  # the Chinese font is embedded
    assert QUARTER in made.output and str(AS_OF) in made.output
    assert not (project / "site").exists()


def test_figures_by_hand(expected):
    this, last = expected["this"], expected["last"]
    # register: R1, R2 and R3–R32 (R33 moved away); Q2 participants: 10 in 第一网格, 10 in 第二网格,
    # R23–R27 in 第三网格
    assert (this.overall.registered, this.overall.participants, this.took_part) == (32, 25, 26)
    assert (last.overall.participants, last.issued) == (2, 40)
    # 第一网格 9 × 30 + R9 20 (corrected by A4), 第二网格 10 × 20, R23 30 (corrected by A1), R33 40,
    # 环境整治 5 × 10, 调解 2 × 20
    assert this.issued == 270 + 20 + 200 + 30 + 40 + 50 + 40 == 650
    assert this.redeemed == 60 and this.decayed == 20 + 15
    assert (this.appeals_opened, this.appeals_resolved, this.appeals_corrected) == (4, 4, 2)
    assert this.median_days_to_resolve == 7.5  # 2, 5, 10, 13 days
    assert this.mediation_by_grid == {"G2": 1, "G3": 1}
    assert [(h.grid, h.category) for h in expected["hotspots"]] == [("第三网格", "平安巡防")]
    assert (expected["backlog"].pending, expected["backlog"].oldest_days) == (2, 20)


def test_pdf_has_the_quarter_and_every_section(pdf_text):
    assert f"积分制季度评估报告（{QUARTER}）" in pdf_text
    assert "统计期间2026-04-01至2026-06-30" in pdf_text
    assert "上季度2026Q1" in pdf_text
    for title in SECTIONS:
        assert compact(title) in pdf_text, title
    assert "仅供工作人员使用" in pdf_text


def _rows(expected) -> dict[str, str]:
    """Report rows as label + this quarter + last quarter, the way the tables print them."""
    this, last = expected["this"], expected["last"]
    days = f"{plain_number(this.median_days_to_resolve)}天"
    return {
        "在册居民": f"{this.overall.registered:,}{last.overall.registered:,}",
        "参与居民（至少一条计分记录）": f"{this.overall.participants:,}{last.overall.participants:,}",
        "参与率": f"{this.overall.rate:.0%}{last.overall.rate:.0%}",
        "发放积分": f"{this.issued:,}{last.issued:,}",
        "兑换积分": f"{this.redeemed:,}{last.redeemed:,}",
        "到期衰减积分": f"{this.decayed:,}{last.decayed:,}",
        "季末未兑换积分": f"{this.outstanding:,}{last.outstanding:,}",
        "受理申诉": f"{this.appeals_opened:,}{last.appeals_opened:,}",
        "办结申诉": f"{this.appeals_resolved:,}{last.appeals_resolved:,}",
        "申诉办结用时（中位数）": days,
    }


def test_pdf_numbers_equal_the_stats(pdf_text, expected):
    for label, numbers in _rows(expected).items():
        assert label + numbers in pdf_text, (label, numbers)
    assert "申诉办结用时（中位数）7.5天" in pdf_text
    assert "参与居民（至少一条计分记录）252" in pdf_text
    assert "发放积分65040+610" in pdf_text
    this = expected["this"]
    for grid_id, name in (("G1", "第一网格"), ("G2", "第二网格"), ("G3", "第三网格")):
        share = this.by_grid[grid_id]
        assert f"{name}{share.registered}{share.participants}{share.rate:.0%}" in pdf_text, name
    for category, points in this.points_by_category.items():
        assert f"{category}{points:,}{this.people_by_category[category]}" in pdf_text, category


def test_pdf_has_the_hotspot_backlog_liability_and_scenarios(pdf_text, expected):
    spot = expected["hotspots"][0]
    assert compact(spot.advice) in pdf_text
    assert "第三网格平安巡防参与率10%，社区平均66%" in pdf_text  # 21 of 32 patrol, 1 of 10 in 第三网格
    backlog = expected["backlog"]
    assert f"待审核记录{backlog.pending}条，已等待天数中位数{plain_number(backlog.median_age_days)}天，" \
           f"最久{backlog.oldest_days}天" in pdf_text
    owed = expected["owed"]
    assert f"现在未兑换的积分：{owed.outstanding:,}分" in pdf_text
    assert f"未来12个月会因到期衰减减少：{owed.decaying_next_12m:,}分" in pdf_text
    assert f"每分约{owed.yuan_per_point}元，未兑换积分约合{owed.yuan:,}元" in pdf_text
    assert owed.yuan_per_point == Decimal("0.400")  # 12 yuan for 30 points
    for s in expected["scenarios"]:
        numbers = f"{s.earned:,}{s.redeemed:,}{s.decayed:,}{s.outstanding:,}{s.refused_redemptions}"
        label = compact(s.label + ("（现行）" if s.current else ""))
        assert label + numbers in pdf_text, s.label


def test_markdown_has_the_same_numbers(md_text, expected):
    assert md_text.startswith("# ") and QUARTER in md_text.splitlines()[0]
    for title in SECTIONS:
        assert f"## {title}" in md_text
    this, last = expected["this"], expected["last"]
    assert f"| 参与居民（至少一条计分记录） | {this.overall.participants} | {last.overall.participants} |" in md_text
    assert f"| 发放积分 | {this.issued:,} | {last.issued:,} |" in md_text
    assert f"| 到期衰减积分 | {this.decayed} | {last.decayed} |" in md_text
    assert f"| 季末未兑换积分 | {this.outstanding:,} | {last.outstanding:,} |" in md_text
    assert "| 申诉办结用时（中位数） | 7.5 天 | — |" in md_text
    assert "| 办结中更正的比例 | 50% | — |" in md_text
    assert expected["hotspots"][0].advice in md_text
    owed = expected["owed"]
    assert f"现在未兑换的积分：**{owed.outstanding:,} 分**" in md_text
    assert f"减少：**{owed.decaying_next_12m:,} 分**" in md_text
    for s in expected["scenarios"]:
        assert (f"| {s.earned:,} | {s.redeemed:,} | {s.decayed:,} | {s.outstanding:,} | "
                f"{s.refused_redemptions:,} |") in md_text
    assert "![grids](季度报告-2026Q2-grids.svg)" in md_text


def test_html_has_no_external_urls_and_is_noindex(files):
    html = files["html"].read_text(encoding="utf-8")
    assert '<meta name="robots" content="noindex">' in html
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # the SVG namespace is a name, not a fetch
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert SITE_URL not in html
    assert "一、总体情况" in html and "<svg" in html


def test_report_has_no_personal_names_phones_or_notes(project, files, pdf_text, md_text):
    private = project / "private"
    texts = {"pdf": pdf_text, "md": md_text, "html": files["html"].read_text(encoding="utf-8")}
    texts |= {p.name: p.read_text(encoding="utf-8") for p in private.glob("*.svg")}
    secrets = [name for _, name, *_ in RESIDENTS] + [phone for *_, phone in RESIDENTS]
    secrets += ["张三", "李四", "13800000001", "王芳", "李强", "赵敏", "理由秘密甲", "备注R3", "邻里噪音",
                "test-secret-0123456789"]
    for where, text in texts.items():
        found = [s for s in secrets if s in text or compact(s) in compact(text)]
        assert not found, (where, found)


def test_output_into_the_site_folder_is_refused(project, made):
    for target in ("site/x.pdf", "site/sub/x.pdf", "./site/../site/x.pdf"):
        result = run_kit(project, "report", "--quarter", QUARTER, "-o", target)
        assert result.exit_code == 2, (target, result.output)
        assert "公开网站的文件夹" in result.output
        assert "Traceback" not in result.output
    site = project / "site"
    assert not site.exists() or not any(site.rglob("*"))


def test_output_elsewhere_is_written_there(project, made):
    result = run_kit(project, "report", "--quarter", QUARTER, "-o", "private/存档/r.pdf")
    assert result.exit_code == 0, result.output
    folder = project / "private" / "存档"
    assert sorted(p.name for p in folder.iterdir()) == [
        "r-categories.svg", "r-grids.svg", "r.html", "r.md", "r.pdf"]


@pytest.mark.parametrize("label", ["2026Q5", "2026-Q2", "Q2", "第二季度"])
def test_bad_quarter_label_exits_2_with_a_message(project, made, label):
    before = sorted(p.name for p in (project / "private").rglob("*"))
    result = run_kit(project, "report", "--quarter", label)
    assert result.exit_code == 2, result.output
    assert "写法不对" in result.output and "2026Q3" in result.output
    assert sorted(p.name for p in (project / "private").rglob("*")) == before


def test_future_quarter_exits_2(project, made):
    future = f"{dt.date.today().year + 1}Q1"
    before = sorted(p.name for p in (project / "private").rglob("*"))
    result = run_kit(project, "report", "--quarter", future)
    assert result.exit_code == 2, result.output
    assert future in result.output and "还没有开始" in result.output
    assert sorted(p.name for p in (project / "private").rglob("*")) == before
