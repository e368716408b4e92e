"""Rule and reward versions on the pages residents and trainers read: the menu, the reward
list, the home figures, the notice, training facts, quizzes, the leaflet and the template.

One real workbook (xlsx, read by the pipeline): 治安巡逻 XL01 is 10 分 per hour until
2026-12-31 and 12 from 2027-01-01; the certificate JPZQ2 costs 100 until 2026-12-31 and
120 from 2027-01-01. Seen on 2026-11-15 the pages show 10 and 100 and announce the change;
seen on 2027-01-05 they show 12 and 120 and announce nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
from pathlib import Path

import markdown
import openpyxl
import pytest

from kit.changes import reward_changes, rule_changes
from kit.docs_pages import placeholders_page, read_quiz
from kit.model import Reward, Rule
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.template import INSTRUCTIONS, write_book
from kit.training import training_facts
from kit.versions import Versions
from kit.views import menu_view, site_view
from tests.conftest import make_project, run_kit
from tests.test_handouts import compact, pdf_text
from tests.test_site_privacy import RESIDENTS, privacy_workbook

BEFORE, AFTER = dt.date(2026, 11, 15), dt.date(2027, 1, 5)
CHANGE_DAY = "2027-01-01"
PATROL_NOTE = "自 2027-01-01 起 每小时 12 分"
CERTIFICATE_NOTE = "自 2027-01-01 起 需 120 积分"
LEAFLET = "居民宣传单.pdf"


def versioned_workbook() -> dict[str, list[list[object]]]:
    """The privacy test workbook (known to build), with XL renamed XL01 and two versions of
    XL01 and of the certificate, and patrols on both sides of the change."""
    sheets = privacy_workbook()
    rules = sheets["积分规则"]
    rules[0] += ["生效日期", "停用日期"]
    for row in rules[1:]:
        row += [None, None]
    patrol = next(r for r in rules[1:] if r[0] == "XL")
    patrol[0], patrol[11] = "XL01", dt.date(2026, 12, 31)
    rules.append(["XL01", "治安巡逻", "平安巡防", 12, "小时", 40, "否", "所有居民", "夜间巡逻请结伴", "是",
                  dt.date(2027, 1, 1), None])
    for bonus in sheets["加分规则"][1:]:
        bonus[2] = "XL01" if bonus[2] == "XL" else bonus[2]
    entries = sheets["积分记录"]
    for entry in entries[1:]:
        entry[4] = "XL01" if entry[4] == "XL" else entry[4]
    active = [r[0] for r in RESIDENTS if r[7] == "在册"]
    for index, rid in enumerate(active):  # one hour on the last old day, one on a new day; no bonus (daytime)
        for number, day in ((1, dt.date(2026, 12, 31)), (2, dt.date(2027, 1, 2))):
            entries.append([f"EV{number}{index:02d}", day, dt.time(10, 0), rid, "XL01", 1, None,
                            "STFZQX01", "STFZQX02", None, "通过"])
    rewards = sheets["奖品"]
    rewards[0] += ["生效日期", "停用日期"]
    for row in rewards[1:]:
        row += [None, None]
    certificate = next(r for r in rewards[1:] if r[0] == "JPZQ2")
    certificate[7] = dt.date(2026, 12, 31)
    rewards.append(["JPZQ2", "优秀志愿者证书", "精神", 120, None, "年度表彰", dt.date(2027, 1, 1), None])
    return sheets


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("versions") / "project", versioned_workbook())


@pytest.fixture(scope="module")
def books(project):
    """as-of → the validated workbook."""
    found = {}
    for day in (BEFORE, AFTER):
        result = validate(open_source(project / DEFAULT_WORKBOOK), day)
        assert not result.errors, result.errors
        found[day] = result
    return found


def built_page(project: Path, day: dt.date, name: str) -> str:
    """The article of a page of the site built as of day (visible text, one line per tag)."""
    result = run_kit(project, "build", "--as-of", day.isoformat(), "--future")  # 2027 is ahead of the clock
    assert result.exit_code == 0, (result.output, result.exception)
    text = (project / "site" / name / "index.html").read_text(encoding="utf-8")
    start = text.index('<article class="md-content__inner md-typeset">')
    return text[start:text.index("</article>", start)]


def visible(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def rows(fragment: str) -> list[list[str]]:
    return [[visible(cell) for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, flags=re.S)]
            for row in re.findall(r"<tr\b.*?</tr>", fragment, flags=re.S)]


@pytest.fixture(scope="module")
def pages(project) -> dict[tuple[dt.date, str], str]:
    found = {}
    for day in (BEFORE, AFTER):
        found[(day, "menu")] = built_page(project, day, "menu")
        found[(day, "rewards")] = (project / "site" / "rewards" / "index.html").read_text(encoding="utf-8")
        found[(day, "home")] = (project / "site" / "index.html").read_text(encoding="utf-8")
    return found


# --- the menu and reward views ------------------------------------------------------------


def test_menu_view_before_the_change_shows_10_and_announces_12(books):
    menu = site_view(books[BEFORE].book, books[BEFORE].ledger).menu
    patrols = [r for _, lines in menu.categories for r in lines if r.name == "治安巡逻"]
    assert [(p.points, p.unit, p.daily_cap) for p in patrols] == [(10, "小时", 40)]  # one line, not one per row
    assert [(c.day, c.name, c.words) for c in menu.changes] == [(dt.date(2027, 1, 1), "治安巡逻", PATROL_NOTE)]
    assert [c.line for c in menu.reward_changes] == [f"优秀志愿者证书：{CERTIFICATE_NOTE}"]


def test_menu_view_after_the_change_shows_12_and_announces_nothing(books):
    menu = site_view(books[AFTER].book, books[AFTER].ledger).menu
    patrols = [r for _, lines in menu.categories for r in lines if r.name == "治安巡逻"]
    assert [p.points for p in patrols] == [12]
    assert menu.changes == () and menu.reward_changes == ()


def test_reward_list_and_home_figures_count_codes_in_force(books):
    for day, cost in ((BEFORE, 100), (AFTER, 120)):
        view = site_view(books[day].book, books[day].ledger)
        assert [(r.name, r.cost) for r in view.rewards] == [("环保购物袋", 30), ("优秀志愿者证书", cost),
                                                            ("优先预约理发", 50)]
        figures = {f.label: f.value for f in view.home.figures}
        assert figures["积分项目"] == 3 and figures["可兑换奖品"] == 3  # 4 rule rows, 4 reward rows


def test_notice_lines_use_the_version_of_their_date(books):
    notice = site_view(books[AFTER].book, books[AFTER].ledger).notice
    patrols = sorted({(line.date, line.activity, line.points) for line in notice.lines if "治安巡逻" in line.activity})
    assert patrols == [(dt.date(2026, 12, 31), "治安巡逻 1 小时", 10), (dt.date(2027, 1, 2), "治安巡逻 1 小时", 12)]


# --- the built pages ------------------------------------------------------------------------


def test_built_menu_page_before_shows_10_and_the_coming_12(pages):
    menu = pages[(BEFORE, "menu")]
    patrol = next(r for r in rows(menu) if r and r[0] == "治安巡逻")
    assert patrol[1:3] == ["10 分 / 小时", "40 分"]
    coming = re.search(r"<h2[^>]*>即将调整.*?</ul>", menu, flags=re.S)
    assert coming, menu
    assert compact(f"治安巡逻：{PATROL_NOTE}") in compact(visible(coming.group()))
    assert BEFORE.isoformat() in visible(coming.group())  # the day the tables hold for


def test_built_menu_page_after_shows_12_and_no_announcement(pages):
    menu = pages[(AFTER, "menu")]
    patrol = next(r for r in rows(menu) if r and r[0] == "治安巡逻")
    assert patrol[1] == "12 分 / 小时"
    assert "即将调整" not in menu and "2027-01-01 起" not in menu


def test_built_reward_page_shows_the_cost_in_force_and_the_coming_cost(pages):
    before, after = pages[(BEFORE, "rewards")], pages[(AFTER, "rewards")]
    assert next(r for r in rows(before) if r and r[0] == "优秀志愿者证书")[2] == "100 分"
    assert CERTIFICATE_NOTE in visible(before)
    assert next(r for r in rows(after) if r and r[0] == "优秀志愿者证书")[2] == "120 分"
    assert "即将调整" not in after and "120 积分" not in visible(after)


def test_built_home_page_counts_three_activities(pages):
    home = visible(pages[(AFTER, "home")])
    assert re.search(r"3\s*项\s*积分项目", home), home


# --- training facts and quizzes ---------------------------------------------------------------


def test_training_facts_give_the_version_in_force(books):
    before = training_facts(books[BEFORE].book, books[BEFORE].tables, BEFORE)
    after = training_facts(books[AFTER].book, books[AFTER].tables, AFTER)
    assert (before.values["规则1.名称"], before.values["规则1.分值"], before.values["规则.XL01.分值"]) == ("治安巡逻", "10", "10")
    assert (after.values["规则1.分值"], after.values["规则.XL01.分值"]) == ("12", "12")
    assert before.values["规则数"] == after.values["规则数"] == "3"
    assert "10 × 2 = 20 分" in before.values["例子.基本"] and "12 × 2 = 24 分" in after.values["例子.基本"]
    for facts, cost in ((before, "100"), (after, "120")):
        costs = {facts.values[f"奖品{i}.名称"]: facts.values[f"奖品{i}.所需积分"] for i in (1, 2, 3)}
        assert costs == {"环保购物袋": "30", "优先预约理发": "50", "优秀志愿者证书": cost}
        assert facts.values["奖品数"] == "3"


def test_training_tables_list_the_coming_change(books):
    before = training_facts(books[BEFORE].book, books[BEFORE].tables, BEFORE)
    menu = before.fill("{{积分菜单表}}", "x.md")
    assert ["平安巡防", "治安巡逻", "10 分/小时", "40 分", "一人审核"] in rows(menu)
    assert compact(f"治安巡逻：{PATROL_NOTE}") in compact(visible(menu))
    assert CERTIFICATE_NOTE in visible(before.fill("{{奖品表}}", "x.md"))
    coming = visible(before.fill("{{即将调整}}", "x.md"))
    assert PATROL_NOTE in coming and CERTIFICATE_NOTE in coming
    after = training_facts(books[AFTER].book, books[AFTER].tables, AFTER)
    assert "即将调整" not in after.fill("{{积分菜单表}}", "x.md")
    assert "12 分/小时" in after.fill("{{积分菜单表}}", "x.md")


def test_facts_name_which_values_are_about_to_change(books):
    before = training_facts(books[BEFORE].book, books[BEFORE].tables, BEFORE)
    assert [c.words for c in before.changing["规则1.分值"]] == [PATROL_NOTE]
    assert [c.words for c in before.changing["规则.XL01.分值"]] == [PATROL_NOTE]
    assert "例子.基本" in before.changing  # 10 × 2 becomes 12 × 2
    assert "规则1.名称" not in before.changing and "公示天数" not in before.changing
    assert training_facts(books[AFTER].book, books[AFTER].tables, AFTER).changing == {}


def test_placeholder_list_shows_trainers_the_coming_value(books):
    page = markdown.markdown(placeholders_page(training_facts(books[BEFORE].book, books[BEFORE].tables, BEFORE)),
                             extensions=["tables"])
    found = {r[0]: r[1] for r in rows(page) if len(r) == 2}
    assert found["{{规则1.分值}}"] == f"10（治安巡逻：{PATROL_NOTE}）"
    assert found["{{规则1.名称}}"] == "治安巡逻" and found["{{公示天数}}"] == "7"


QUIZ = """
title: 自测
questions:
  - type: 单选
    question: '参加{{规则1.名称}} 1 {{规则1.单位}}，可以得多少分？'
    options: ['1 分', '{{规则1.分值}} 分']
    answer: 2
    explain: '{{规则1.名称}}每{{规则1.单位}} {{规则1.分值}} 分。'
  - type: 判断
    question: '积分公示 {{公示天数}} 天。'
    answer: 对
"""


def test_a_quiz_question_about_a_changing_value_names_its_day(books):
    quiz = read_quiz(QUIZ, "q.quiz.yml", training_facts(books[BEFORE].book, books[BEFORE].tables, BEFORE))
    points, notice = quiz.questions
    assert points.text == "参加治安巡逻 1 小时，可以得多少分？（以 2026-11-15 的规定为准）"
    assert points.options[points.answer] == "10 分"
    assert points.explain == f"治安巡逻每小时 10 分。注意：治安巡逻：{PATROL_NOTE}。"
    assert notice.text == "积分公示 7 天。"  # nothing of it changes


def test_after_the_change_the_quiz_asks_plainly(books):
    quiz = read_quiz(QUIZ, "q.quiz.yml", training_facts(books[AFTER].book, books[AFTER].tables, AFTER))
    points = quiz.questions[0]
    assert points.text == "参加治安巡逻 1 小时，可以得多少分？" and points.options[points.answer] == "12 分"
    assert points.explain == "治安巡逻每小时 12 分。"


# --- the leaflet --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leaflets(project) -> dict[dt.date, str]:
    found = {}
    for day in (BEFORE, AFTER):
        out = project / f"handouts-{day}"
        result = run_kit(project, "handouts", "-o", str(out), "--as-of", day.isoformat())
        assert result.exit_code == 0, (result.output, result.exception)
        found[day] = compact(pdf_text(out / LEAFLET))
    return found


def test_leaflet_before_shows_10_and_the_coming_changes(leaflets):
    text = leaflets[BEFORE]
    assert compact("治安巡逻 10 分/小时") in text and compact("治安巡逻 12 分/小时") not in text
    assert compact("优秀志愿者证书 精神 100 分") in text
    assert compact("即将调整") in text
    assert compact(f"治安巡逻：{PATROL_NOTE}") in text
    assert compact(f"优秀志愿者证书：{CERTIFICATE_NOTE}") in text


def test_leaflet_after_shows_12_and_no_announcement(leaflets):
    text = leaflets[AFTER]
    assert compact("治安巡逻 12 分/小时") in text and compact("优秀志愿者证书 精神 120 分") in text
    assert compact("即将调整") not in text and compact("2027-01-01起") not in text


# --- change wording -------------------------------------------------------------------------


def _rule(row, code, points, start=None, end=None, active=True, name="治安巡逻", unit="小时"):
    return Rule(row, code, name, "平安巡防", points, unit, 0, False, None, None, active, start, end)


def test_stops_new_rules_and_gaps_in_plain_words():
    day = dt.date(2026, 11, 15)
    rules = Versions([
        _rule(2, "XL01", 10, end=dt.date(2026, 12, 31)),  # simply stops
        _rule(3, "HZ01", 5, start=dt.date(2027, 3, 1), name="邻里互助", unit="次"),  # new
        _rule(4, "ZY01", 5, end=dt.date(2026, 12, 31), name="志愿服务"),  # a gap, then 6
        _rule(5, "ZY01", 6, start=dt.date(2027, 2, 1), name="志愿服务"),
        _rule(6, "TJ01", 20, end=dt.date(2026, 12, 31), name="矛盾调解", unit="次"),  # turned off
        _rule(7, "TJ01", 20, start=dt.date(2027, 1, 1), active=False, name="矛盾调解", unit="次"),
        _rule(8, "HJ01", 5, end=dt.date(2026, 12, 31), name="环境整治", unit="次"),  # only 说明 changes: nothing
        Rule(9, "HJ01", "环境整治", "平安巡防", 5, "次", 0, False, None, "新说明", True, dt.date(2027, 1, 1), None),
    ])
    assert [c.line for c in rule_changes(rules, day)] == [
        "治安巡逻：用到 2026-12-31，2027-01-01 起停用",
        "志愿服务：用到 2026-12-31；自 2027-02-01 起 每小时 6 分",
        "矛盾调解：自 2027-01-01 起停用",
        "邻里互助：自 2027-03-01 起新增：每次 5 分",
    ]
    rewards = Versions([
        Reward(2, "JP1", "大米", "goods", 200, None, None, None, None, dt.date(2026, 12, 31)),
        Reward(3, "JP2", "食用油", "goods", 150, None, None, None, dt.date(2027, 1, 1), None),
    ])
    assert [c.line for c in reward_changes(rewards, day)] == [
        "大米：可兑换到 2026-12-31，2027-01-01 起停止兑换", "食用油：自 2027-01-01 起新增，需 150 积分"]


# --- workbooks without the new columns ------------------------------------------------------


def test_a_workbook_without_the_new_columns_gives_the_same_menu(tmp_path):
    plain = make_project(tmp_path / "plain", privacy_workbook())
    empty_columns = copy.deepcopy(privacy_workbook())
    for sheet in ("积分规则", "奖品"):
        empty_columns[sheet][0] += ["生效日期", "停用日期"]
    padded = make_project(tmp_path / "padded", empty_columns)
    views = []
    for root in (plain, padded):
        result = validate(open_source(root / DEFAULT_WORKBOOK), BEFORE)
        assert not result.errors
        views.append(site_view(result.book, result.ledger))
    assert views[0].menu == views[1].menu and views[0].rewards == views[1].rewards
    menu = views[0].menu
    assert [(r.name, r.points, r.unit, r.daily_cap) for _, lines in menu.categories for r in lines] == [
        ("治安巡逻", 10, "小时", 40), ("矛盾调解", 20, "次", 0), ("志愿服务", 5, "小时", 20)]
    assert menu.changes == () and menu.reward_changes == ()
    assert menu == menu_view(result.book, BEFORE)
    facts = training_facts(result.book, result.tables)
    assert facts.as_of is None and facts.changing == {} and "即将调整" not in facts.blocks["积分菜单表"]
    assert facts.blocks["即将调整"] == "<p>目前没有已定好的规则或奖品调整。</p>"


# --- the template ---------------------------------------------------------------------------


def test_template_instructions_explain_versions(tmp_path):
    write_book(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")[INSTRUCTIONS]
    lines = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    text = "\n".join(lines)
    rules_at = lines.index("工作表：积分规则")
    rewards_at = lines.index("工作表：奖品")
    notes = "\n".join(lines[rules_at:lines.index("工作表：加分规则")])
    assert "不要改原来那一行的分值" in notes and "停用日期”填新规定生效的前一天" in notes
    assert "编码和原来相同" in notes and "生效日期”填 2027-01-01" in notes
    assert "以前的记录保持公示时的积分" in notes and "日期不能重叠" in notes
    assert "以前的兑换不变" in "\n".join(lines[rewards_at:])
    headers = [c.value for c in openpyxl.load_workbook(tmp_path / "t.xlsx")["积分规则"][1]]
    assert headers[-2:] == ["生效日期", "停用日期"] and "版本" in text
