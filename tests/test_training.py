"""The training center: placeholders filled from the workbook, worked examples from the
engine, quizzes from editable YAML, and all of it following the rules when they change.

The training texts themselves (docs/training/) are written by trainers and change;
the tests here discover the pages and quiz questions from the project's docs at
test time and assert on values that come from the workbook (numbers, rule names)
and on structure, never on the trainers' prose.

Sites are built once per module and shared; tests that break something restore it.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import markdown
import pytest
import yaml

from kit.docs_pages import QuizError, read_quiz
from kit.model import Bonus, Book, Reward, Rule, Settings
from kit.project import DEFAULT_WORKBOOK
from kit.training import PlaceholderError, training_facts
from tests.conftest import BASE, make_project, run_kit, write_xlsx
from tests.test_site_offline import CHROMIUM, chromium_site, open_page

T = dt.time
AS_OF = "2026-06-30"
SITE_URL = "https://jf.example.cn/"
PLACEHOLDER = re.compile(r"\{\{\s*([^{}\n]+?)\s*\}\}")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")

# model rules and bonuses for the Facts tests (row, code, name, category, points, unit, daily cap,
# double review, audience, description, active)
PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True)
CAPPED_PATROL = Rule(2, "XL", "治安巡逻", "平安巡防", 10, "小时", 40, False, None, None, True)
MEDIATION = Rule(3, "TJ", "矛盾调解", "矛盾调解", 20, "次", 0, True, None, None, True)
NIGHT = Bonus(2, "夜间巡逻双倍", None, "XL", None, None, T(20, 0), T(6, 0), Decimal(2))


def points_in(text: str) -> list[int]:
    """Every “N 分” in a sentence, in order."""
    return [int(n) for n in re.findall(r"(\d+)\s*分", text)]


def compact(text: str) -> str:
    """Text without any whitespace (PDF extraction and HTML wrap lines differently)."""
    return re.sub(r"\s+", "", text.replace("\u00a0", " ").replace("\u3000", " "))


def visible(fragment: str) -> str:
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def article(page: Path) -> str:
    """The content of a built page (without navigation, header and search)."""
    text = page.read_text(encoding="utf-8")
    start = text.index('<article class="md-content__inner md-typeset">')
    return text[start:text.index("</article>", start)]


def table_rows(fragment: str) -> list[list[str]]:
    """The cells (visible text) of every table row in an HTML fragment."""
    return [[visible(cell).strip() for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, flags=re.S)]
            for row in re.findall(r"<tr\b.*?</tr>", fragment, flags=re.S)]


def uses(text: str, name: str) -> bool:
    return any(m.group(1) == name for m in PLACEHOLDER.finditer(text))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- Facts: worked examples


def test_bonus_example_is_computed_by_the_engine():
    text = training_facts(Book(rules=(PATROL,), bonuses=(NIGHT,))).values["例子.加分"]
    assert "夜间巡逻双倍" in text and "治安巡逻" in text
    assert re.search(r"2\s*小时.*=\s*40\s*分", text), text  # 10 an hour × 2 hours × night double
    assert points_in(text)[-1] == 40


def test_bonus_example_follows_the_multiplier():
    triple = Bonus(2, "夜间巡逻三倍", None, "XL", None, None, T(20, 0), T(6, 0), Decimal(3))
    text = training_facts(Book(rules=(PATROL,), bonuses=(triple,))).values["例子.加分"]
    assert points_in(text)[-1] == 60, text


def test_without_bonuses_the_bonus_example_says_so():
    text = training_facts(Book(rules=(PATROL,))).values["例子.加分"]
    assert not points_in(text), text  # no made-up number


@pytest.mark.parametrize("factor, after", [(Decimal("0.5"), 50), (Decimal("0.75"), 75), (Decimal(0), 0)])
def test_decay_example_is_computed_by_the_engine(factor, after):
    facts = training_facts(Book(settings=Settings(decay_after_months=12, decay_factor=factor), rules=(PATROL,)))
    text = facts.values["例子.衰减"]
    assert points_in(text)[0] == 100 and points_in(text)[-1] == after, text
    assert re.search(r"(?<!\d)12(?!\d)\s*个?月", text), text  # the community's period
    assert facts.values["积分有效期"] == "12"


def test_decay_example_uses_the_communitys_period():
    text = training_facts(Book(settings=Settings(decay_after_months=24), rules=(PATROL,))).values["例子.衰减"]
    assert re.search(r"(?<!\d)24(?!\d)", text) and points_in(text)[-1] == 50, text


def test_without_decay_points_never_expire():
    facts = training_facts(Book(settings=Settings(decay_after_months=0), rules=(PATROL,)))
    text = facts.values["例子.衰减"]
    assert "长期有效" in text, text
    assert not points_in(text), text
    assert facts.values["积分有效期"] == "0"


def test_cap_example_shows_base_above_the_cap_and_the_cap_awarded():
    text = training_facts(Book(rules=(CAPPED_PATROL,))).values["例子.封顶"]
    numbers = points_in(text)
    assert "治安巡逻" in text
    assert 40 in numbers and numbers[-1] == 40, text  # awarded = the daily cap
    assert any(n > 40 and n % 10 == 0 for n in numbers), text  # base (10 × hours) above the cap


def test_cap_example_without_any_cap_says_so():
    text = training_facts(Book(rules=(PATROL, MEDIATION))).values["例子.封顶"]
    assert not points_in(text), text


def test_basic_example_and_rule_facts():
    facts = training_facts(Book(rules=(PATROL, MEDIATION)))
    v = facts.values
    assert v["规则1.名称"] == "治安巡逻" and v["规则1.分值"] == "10" and v["规则1.单位"] == "小时"
    assert v["规则2.名称"] == "矛盾调解" and v["规则2.分值"] == "20"
    assert v["规则.TJ.分值"] == "20" and v["规则.XL.名称"] == "治安巡逻"
    assert v["规则数"] == "2" and v["双人审核规则"] == "矛盾调解"
    assert v["规则1.每日上限"] == "不限"
    assert "治安巡逻" in v["例子.基本"] and points_in(v["例子.基本"])[-1] == 20  # 10 × 2 hours


def test_rule1_is_the_first_active_rule():
    retired = Rule(2, "OLD", "旧活动", "旧", 99, "次", 0, False, None, None, False)
    later = Rule(3, "XL", "治安巡逻", "平安巡防", 10, "小时", 0, False, None, None, True)
    v = training_facts(Book(rules=(retired, later))).values
    assert v["规则1.名称"] == "治安巡逻" and v["规则1.分值"] == "10"
    assert "规则2.名称" not in v and v["规则数"] == "1"


def test_rewards_are_numbered_cheapest_first():
    rewards = (Reward(2, "J2", "荣誉证书", "honour", 100, None, None), Reward(3, "J1", "大米", "goods", 50, 10, None))
    v = training_facts(Book(rules=(PATROL,), rewards=rewards)).values
    assert (v["奖品1.名称"], v["奖品1.所需积分"]) == ("大米", "50")
    assert (v["奖品2.名称"], v["奖品2.所需积分"]) == ("荣誉证书", "100")


def test_community_without_rules_still_has_rule1_placeholders():
    facts = training_facts(Book())
    for key in ("名称", "编码", "分值", "单位", "类别", "每日上限"):
        assert facts.values[f"规则1.{key}"], key
    for key in ("名称", "所需积分", "类型"):
        assert facts.values[f"奖品1.{key}"], key
    for key in ("例子.基本", "例子.加分", "例子.封顶", "例子.衰减"):
        assert facts.values[key], key
    assert facts.values["规则数"] == "0"


def test_every_placeholder_in_the_kits_training_texts_is_known_without_rules(tmp_path):
    """The skeleton's pages and quizzes fill even for a brand-new community."""
    project = make_project(tmp_path / "p", copy.deepcopy(BASE))
    facts = training_facts(Book())
    folder = project / "docs" / "training"
    for page in sorted(folder.glob("*.md")):
        facts.fill(page.read_text(encoding="utf-8"), page.name)
    for quiz in sorted(folder.glob("*.quiz.yml")):
        read_quiz(quiz.read_text(encoding="utf-8"), quiz.name, facts)


# Worked examples are training material: the arithmetic they print must hold.

FORMULA = re.compile(r"(\d+)\s*×\s*(\d+(?:\.\d+)?)(?:\s*×\s*(\d+(?:\.\d+)?))?\s*=\s*(\d+)\s*分")


@pytest.mark.parametrize("key, book", [
    ("例子.基本", Book(rules=(Rule(2, "TJ", "矛盾调解", "矛盾调解", 30, "次", 40, False, None, None, True),))),
    ("例子.加分", Book(rules=(CAPPED_PATROL,),
                      bonuses=(Bonus(2, "夜间巡逻三倍", None, "XL", None, None, T(20, 0), T(6, 0), Decimal(3)),))),
], ids=["basic-capped", "bonus-capped"])
def test_worked_example_arithmetic_holds_when_a_daily_cap_cuts_it(key, book):
    text = training_facts(book).values[key]
    match = FORMULA.search(text)
    assert match, text
    factors = [Decimal(g) for g in match.groups()[:3] if g]
    product = factors[0] * factors[1] * (factors[2] if len(factors) > 2 else 1)
    shown = int(match.group(4))
    # either the sum is right, or the text says that the daily cap cut it
    assert shown == int(product) or "上限" in text, f"{key} prints false arithmetic: {text}"


def test_decay_example_is_not_cut_by_the_annual_cap():
    """100 points earned, decayed by half → 50, whatever the community's annual cap."""
    text = training_facts(Book(settings=Settings(annual_cap=50), rules=(PATROL,))).values["例子.衰减"]
    numbers = points_in(text)
    assert numbers[-1] == int(numbers[0] * Decimal("0.5")), f"{numbers[0]} 分 decayed by half reads {numbers[-1]}: {text}"


# --------------------------------------------------------------------------- Facts.fill


def test_unknown_placeholder_names_file_and_line():
    facts = training_facts(Book(rules=(PATROL,)))
    text = "# 标题\n\n本社区 {{规则1.分值}} 分。\n第四行 {{规则1.分数}}\n"
    with pytest.raises(PlaceholderError) as caught:
        facts.fill(text, "docs/training/99-x.md")
    message = caught.value.message
    assert "docs/training/99-x.md" in message
    assert re.search(r"第\s*4\s*行", message), message
    assert "规则1.分数" in message


def test_unknown_placeholder_on_the_first_line():
    with pytest.raises(PlaceholderError) as caught:
        training_facts(Book()).fill("{{没有这个}} 开头", "docs/a.md")
    assert re.search(r"第\s*1\s*行", caught.value.message) and "docs/a.md" in caught.value.message


def test_fill_accepts_spaces_inside_the_braces():
    facts = training_facts(Book(rules=(PATROL,)))
    assert facts.fill("每小时 {{ 规则1.分值 }} 分", "x") == "每小时 10 分"


@pytest.mark.parametrize("name", ["**粗体** <b>x</b>", "[链接](http://evil.example/) `代码` _斜_ #1", "a|b"],
                         ids=["bold-and-html", "link-code-emphasis", "pipe"])
def test_markdown_fill_escapes_workbook_text(name):
    rule = Rule(2, "XL", name, "平安巡防", 10, "小时", 0, False, None, None, True)
    facts = training_facts(Book(rules=(rule,)))
    rendered = markdown.markdown(facts.fill("活动：{{规则1.名称}}", "x.md"), extensions=["tables"])
    assert "<strong>" not in rendered and "<b>" not in rendered and "<a " not in rendered
    assert "<code>" not in rendered and "<em>" not in rendered
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)) == f"活动：{name}"
    # outside Markdown (quiz files) the value stays as written; the template escapes it
    assert facts.fill("{{规则1.名称}}", "x.quiz.yml", markdown=False) == name


def test_blocks_only_in_markdown():
    facts = training_facts(Book(rules=(PATROL, MEDIATION)))
    table = facts.fill("{{积分菜单表}}", "x.md")
    rows = table_rows(table)
    assert ["平安巡防", "治安巡逻"] == rows[1][:2] and rows[1][2].startswith("10")
    assert rows[2][:2] == ["矛盾调解", "矛盾调解"] and rows[2][2].startswith("20")
    with pytest.raises(PlaceholderError):
        facts.fill("{{积分菜单表}}", "docs/training/q.quiz.yml", markdown=False)


def test_block_escapes_workbook_text():
    rule = Rule(2, "XL", "<script>alert(1)</script>", "平安巡防", 10, "小时", 0, False, None, None, True)
    table = training_facts(Book(rules=(rule,))).fill("{{积分菜单表}}", "x.md")
    assert "<script>" not in table and "&lt;script&gt;" in table


# --------------------------------------------------------------------------- quiz files

QUIZ_OK_Q1 = "  - type: 判断\n    question: 第一题\n    answer: 对\n    explain: 解释\n"


@pytest.mark.parametrize("second", [
    "  - type: 单选\n    question: 少了答案\n    options: ['甲', '乙']\n",
    "  - type: 单选\n    question: 超出范围\n    options: ['甲', '乙', '丙']\n    answer: 4\n",
    "  - type: 单选\n    question: 零\n    options: ['甲', '乙']\n    answer: 0\n",
    "  - type: 多选\n    question: 题型不对\n    options: ['甲', '乙']\n    answer: 1\n",
    "  - type: 判断\n    question: 判断题答案不对\n    answer: 也许\n",
    "  - type: 单选\n    question: 只有一个选项\n    options: ['甲']\n    answer: 1\n",
    "  - type: 单选\n    options: ['甲', '乙']\n    answer: 1\n",
], ids=["missing-answer", "answer-too-big", "answer-zero", "bad-type", "bad-true-false", "one-option",
        "no-question"])
def test_broken_quiz_names_file_and_question(second):
    text = "title: 测验\nquestions:\n" + QUIZ_OK_Q1 + second
    with pytest.raises(QuizError) as caught:
        read_quiz(text, "docs/training/quiz-x.quiz.yml", training_facts(Book(rules=(PATROL,))))
    message = caught.value.message
    assert "docs/training/quiz-x.quiz.yml" in message
    assert re.search(r"第\s*2\s*题", message), message


@pytest.mark.parametrize("text", ["title: 测验\n", "title: [坏的\n", "title: 测验\nquestions: []\n", "- 列表\n"],
                         ids=["no-questions", "bad-yaml", "empty-questions", "a-list"])
def test_quiz_without_questions_or_bad_yaml_names_the_file(text):
    with pytest.raises(QuizError) as caught:
        read_quiz(text, "docs/training/quiz-x.quiz.yml", training_facts(Book()))
    assert "docs/training/quiz-x.quiz.yml" in caught.value.message


def test_unknown_placeholder_in_a_quiz_names_file_and_line():
    text = "title: 测验\nquestions:\n  - question: '{{规则1.分数}}'\n    options: ['a', 'b']\n    answer: 1\n"
    with pytest.raises(PlaceholderError) as caught:
        read_quiz(text, "docs/training/quiz-x.quiz.yml", training_facts(Book(rules=(PATROL,))))
    assert "docs/training/quiz-x.quiz.yml" in caught.value.message
    assert re.search(r"第\s*3\s*行", caught.value.message), caught.value.message


def test_quiz_numbers_come_from_the_rules():
    text = ("title: 测验\nquestions:\n  - question: '{{规则1.名称}} 1 {{规则1.单位}} 多少分？'\n"
            "    options: ['1 分', '{{规则1.分值}} 分', '1000 分']\n    answer: 2\n    explain: '{{例子.基本}}'\n")
    quiz = read_quiz(text, "q.quiz.yml", training_facts(Book(rules=(PATROL,))))
    (question,) = quiz.questions
    assert question.text == "治安巡逻 1 小时 多少分？"
    assert question.options == ("1 分", "10 分", "1000 分") and question.options[question.answer] == "10 分"
    assert points_in(question.explain)[-1] == 20


@pytest.mark.parametrize("points, options, answer, right", [
    (10, ["{{规则1.分值}} 分", "10 分", "20 分"], 1, "10 分"),  # right first, equal wrong one later
    (100, ["1 分", "100 分", "{{规则1.分值}} 分"], 3, "100 分"),  # equal wrong one before the right one
    (1, ["1 分", "100 分", "{{规则1.分值}} 分"], 3, "1 分"),
    (20, ["20 分", "{{规则1.分值}} 分", "30 分", "20 分"], 2, "20 分"),
    (30, ["20 分", "{{规则1.分值}} 分", "30 分", "40 分"], 2, "30 分"),
], ids=["right-first", "right-last-100", "right-last-1", "three-equal", "right-middle"])
def test_options_made_equal_by_the_rules_are_merged(points, options, answer, right):
    rule = Rule(2, "XL", "治安巡逻", "平安巡防", points, "小时", 0, False, None, None, True)
    text = yaml.safe_dump({"title": "测验", "questions": [{"type": "单选", "question": "多少分？", "options": options,
                                                          "answer": answer}]}, allow_unicode=True)
    quiz = read_quiz(text, "docs/training/quiz-x.quiz.yml", training_facts(Book(rules=(rule,))))
    (question,) = quiz.questions
    filled = [o.replace("{{规则1.分值}}", str(points)) for o in options]
    assert len(question.options) == len(set(question.options)), question.options  # no duplicates left
    assert set(question.options) == set(filled)  # nothing but duplicates dropped
    assert question.options[question.answer] == right


def test_options_all_equal_through_the_rules_is_an_error():
    text = "title: t\nquestions:\n  - question: q\n    options: ['{{规则1.分值}} 分', '10 分']\n    answer: 1\n"
    with pytest.raises(QuizError) as caught:
        read_quiz(text, "docs/training/quiz-x.quiz.yml", training_facts(Book(rules=(PATROL,))))
    assert "docs/training/quiz-x.quiz.yml" in caught.value.message
    assert re.search(r"第\s*1\s*题", caught.value.message)


# --------------------------------------------------------------------------- through the CLI


def training_workbook(points: int = 10, **changes) -> dict[str, list[list[object]]]:
    """BASE with the site address and a night bonus; rule 1 (治安巡逻) worth points an hour."""
    sheets = copy.deepcopy(BASE)
    sheets["设置"].append(["网站地址", SITE_URL])
    sheets["积分规则"][1][3] = points
    sheets["加分规则"] = [
        ["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"],
        ["夜间巡逻双倍", None, "XL", None, None, T(20, 0), T(6, 0), 2],
    ]
    sheets.update(changes)
    return sheets


def build(project: Path):
    return run_kit(project, "build", "--as-of", AS_OF)


def built_ok(project: Path) -> Path:
    result = build(project)
    assert result.exit_code == 0, (result.output, result.exception)
    return project / "site"


def page_stems(project: Path) -> tuple[list[str], list[str]]:
    """(Markdown pages, quizzes) of the project's docs/training, as built page names."""
    folder = project / "docs" / "training"
    pages = sorted(p.stem for p in folder.glob("*.md"))
    quizzes = sorted(p.name[: -len(".quiz.yml")] for p in folder.glob("*.quiz.yml"))
    return pages, quizzes


def built_page(site: Path, stem: str) -> Path:
    return site / "training" / ("index.html" if stem == "index" else f"{stem}/index.html")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("training") / "project", training_workbook())
    built_ok(root)
    return root


@pytest.fixture(scope="module")
def site(project) -> Path:
    return project / "site"


def test_build_creates_a_page_per_training_text_and_quiz(project, site):
    pages, quizzes = page_stems(project)
    assert "index" in pages and quizzes, (pages, quizzes)
    for stem in pages + quizzes + ["placeholders"]:
        assert built_page(site, stem).is_file(), stem
    for stem in quizzes:
        assert 'class="kit-quiz"' in built_page(site, stem).read_text(encoding="utf-8"), stem
    assert not list(site.rglob("*.quiz.yml")) and not list(site.rglob("*.yml"))  # sources not published
    assert (site / "assets" / "quiz.js").is_file()


def nav_section(page_html: str, title: str) -> list[str]:
    """The links of the navigation section labelled title."""
    for match in re.finditer(r'<label class="md-nav__link" for="(__nav_[\w]+)" id="\1_label"[^>]*>(.*?)</label>',
                             page_html, flags=re.S):
        if visible(match.group(2)).strip() != title:
            continue
        start = page_html.index(f'aria-labelledby="{match.group(1)}_label"', match.end())
        depth, at = 1, start
        while depth:  # to the </nav> that closes this section
            opening, closing = page_html.find("<nav", at), page_html.find("</nav>", at)
            if opening != -1 and opening < closing:
                depth, at = depth + 1, opening + 4
            else:
                depth, at = depth - 1, closing + 6
        return re.findall(r'<a href="([^"]+)" class="md-nav__link', page_html[start:at])
    raise AssertionError(f"no navigation section {title}")


def test_training_pages_are_in_the_navigation_under_training_center(project, site):
    pages, quizzes = page_stems(project)
    links = nav_section((site / "index.html").read_text(encoding="utf-8"), "培训中心")
    expected = {"training/" if stem == "index" else f"training/{stem}/" for stem in pages + quizzes}
    expected.add("training/placeholders/")
    assert set(links) == expected, set(links) ^ expected
    assert links[0] == "training/"  # the section opens with its index page
    # the section is there on the training pages too (relative links from one level down)
    inner = nav_section(built_page(site, pages[-1]).read_text(encoding="utf-8"), "培训中心")
    assert len([link for link in inner if not link.startswith("#")]) == len(links)  # "#…": the page's own headings


def test_no_placeholder_is_left_unfilled(site):
    pages = [p for p in site.rglob("*.html") if p.parent.name != "placeholders"]
    assert len(pages) > 10
    left = {p.relative_to(site).as_posix(): re.findall(r"\{\{[^}]*\}\}?", p.read_text(encoding="utf-8"))
            for p in pages}
    assert not {k: v for k, v in left.items() if v}


def placeholder_values(site: Path) -> dict[str, str]:
    rows = table_rows(article(site / "training" / "placeholders" / "index.html"))
    return {cells[0]: cells[1] for cells in rows if len(cells) == 2 and cells[0].startswith("{{")}


def test_placeholders_page_lists_names_and_current_values(project, site):
    values = placeholder_values(site)
    assert values["{{规则1.分值}}"] == "10"
    assert values["{{规则1.名称}}"] == "治安巡逻"
    assert values["{{规则2.名称}}"] == "矛盾调解" and values["{{规则.TJ.分值}}"] == "20"
    assert values["{{社区名称}}"] == "幸福社区积分"
    assert values["{{网站地址}}"] == SITE_URL
    assert values["{{规则1.每日上限}}"] == "40 分"
    assert points_in(values["{{例子.加分}}"])[-1] == 40
    assert points_in(values["{{例子.衰减}}"])[-1] == 50
    assert "{{积分菜单表}}" in values
    # every placeholder the project's texts use is listed
    folder = project / "docs" / "training"
    used = {m.group(1) for p in [*folder.glob("*.md"), *folder.glob("*.quiz.yml")]
            for m in PLACEHOLDER.finditer(p.read_text(encoding="utf-8"))}
    assert used and not {f"{{{{{name}}}}}" for name in used} - set(values)


def test_menu_table_shows_the_workbooks_rules(project, site):
    pages = [p.stem for p in sorted((project / "docs" / "training").glob("*.md"))
             if uses(p.read_text(encoding="utf-8"), "积分菜单表")]
    assert pages, "no training page shows {{积分菜单表}}"
    for stem in pages:
        rows = table_rows(article(built_page(site, stem)))
        patrol = [r for r in rows if "治安巡逻" in r and any(c.endswith("分/小时") for c in r)]
        mediation = [r for r in rows if "矛盾调解" in r and any(c.endswith("分/次") for c in r)]
        assert patrol and all("10 分/小时" in r for r in patrol), (stem, patrol)
        assert mediation and all("20 分/次" in r for r in mediation), (stem, mediation)


# --- markup in the workbook stays text on the built pages

MARKUP_NAME = "**粗体** <b>x</b>"
TILDE_NAME = "护学岗 7:00~8:00"
ESCAPE_PAGE = """# 表格里的文字

段落：{{规则1.名称}}。

- 列表：{{规则2.名称}}

| 活动 | 分值 |
|---|---|
| {{规则1.名称}} | {{规则1.分值}} |
| {{规则2.名称}} | {{规则2.分值}} |

{{积分菜单表}}
"""
ESCAPE_QUIZ = """title: 名称测验
questions:
  - type: 单选
    question: '{{规则1.名称}} 每次多少分？'
    options: ['{{规则1.分值}} 分', '1000 分']
    answer: 1
    explain: '{{规则1.名称}}'
"""


@pytest.fixture(scope="module")
def escaped_site(tmp_path_factory) -> Path:
    sheets = training_workbook()
    sheets["积分规则"][1][1] = MARKUP_NAME
    sheets["积分规则"][2][1] = TILDE_NAME
    root = make_project(tmp_path_factory.mktemp("escaped") / "project", sheets)
    (root / "docs" / "training" / "99-workbook-text.md").write_text(ESCAPE_PAGE, encoding="utf-8")
    (root / "docs" / "training" / "quiz-names.quiz.yml").write_text(ESCAPE_QUIZ, encoding="utf-8")
    return built_ok(root)


def test_markup_in_a_rule_name_stays_text_on_the_built_page(escaped_site):
    content = article(built_page(escaped_site, "99-workbook-text"))
    assert "<b>x</b>" not in content and "<strong>粗体</strong>" not in content and "<em>" not in content
    text = visible(content)
    assert text.count(MARKUP_NAME) == 3, text  # paragraph, Markdown table, menu table
    quiz = article(built_page(escaped_site, "quiz-names"))
    assert "<b>x</b>" not in quiz and "<strong>粗体</strong>" not in quiz
    assert visible(quiz).count(MARKUP_NAME) >= 2  # question and explanation


def test_a_rule_name_with_a_tilde_reads_as_written_on_the_built_page(escaped_site):
    """“7:00~8:00” is an ordinary way to write a time range in a rule name."""
    text = visible(article(built_page(escaped_site, "99-workbook-text")))
    assert text.count(TILDE_NAME) == 3, re.findall(r"护学岗[^\n|]*", text)


# --- THE KEY TEST: change a rule's points, everything follows


def rule1_quiz_questions(project: Path) -> list[tuple[str, int, str]]:
    """(quiz page, question number, right option as written) for single-choice questions whose
    right option uses {{规则1.分值}}, read from the project's quiz files."""
    found = []
    for source in sorted((project / "docs" / "training").glob("*.quiz.yml")):
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        for number, question in enumerate(data.get("questions") or [], start=1):
            options, answer = question.get("options"), question.get("answer")
            if (str(question.get("type", "单选")).strip() == "单选" and isinstance(options, list)
                    and isinstance(answer, int) and 1 <= answer <= len(options)
                    and uses(str(options[answer - 1]), "规则1.分值")):
                found.append((source.name[: -len(".quiz.yml")], number, str(options[answer - 1]).strip()))
    return found


def quiz_answer(site: Path, stem: str, number: int) -> tuple[str, list[str]]:
    """(text of the right option, texts of all options) of question number on a built quiz page."""
    chunks = article(built_page(site, stem)).split('<div class="kit-quiz-question"')[1:]
    chunk = chunks[number - 1]
    answer = int(re.match(r'\s*data-answer="(\d+)"', chunk).group(1))
    buttons = {int(i): html.unescape(t).strip()
               for i, t in re.findall(r'<button[^>]*data-index="(\d+)"[^>]*>(.*?)</button>', chunk, flags=re.S)}
    return buttons[answer], list(buttons.values())


def option_pattern(template: str, points: int) -> re.Pattern:
    parts = []
    at = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at:match.start()]))
        parts.append(str(points) if match.group(1) == "规则1.分值" else ".+?")
        at = match.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts))


def neighbours(source: str, name: str) -> list[tuple[str, str]]:
    """The literal text (up to 3 characters, no markup) right before and after each {{name}}."""
    found = []
    for match in PLACEHOLDER.finditer(source):
        if match.group(1) == name:
            before = re.search(r"[^{}*_`\[\]()|#>\n\\]{0,3}$", source[:match.start()]).group(0)
            after = re.match(r"[^{}*_`\[\]()|#<\n\\]{0,3}", source[match.end():]).group(0)
            found.append((before, after))
    return found


def leaflet_text(folder: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(folder / "居民宣传单.pdf")
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


POINTS_PAGE = """# 分值

治安巡逻每小时 {{规则1.分值}} 分，表格里也是：

| 活动 | 分值 |
|---|---|
| {{规则1.名称}} | {{规则1.分值}} 分/{{规则1.单位}} |
"""


def test_changing_a_rules_points_changes_training_pages_quiz_answer_and_leaflet(tmp_path):
    """Rule 1 (治安巡逻) goes from 10 to 13 points an hour; the kit's own training texts and
    quizzes follow, and so does a trainer's page that writes {{规则1.分值}} in prose."""
    root = make_project(tmp_path / "project", training_workbook(points=10))
    folder = root / "docs" / "training"
    (folder / "98-points.md").write_text(POINTS_PAGE, encoding="utf-8")
    menu_pages = [p.stem for p in sorted(folder.glob("*.md")) if uses(p.read_text(encoding="utf-8"), "积分菜单表")]
    value_pages = {p.stem: neighbours(p.read_text(encoding="utf-8"), "规则1.分值") for p in sorted(folder.glob("*.md"))
                   if uses(p.read_text(encoding="utf-8"), "规则1.分值")}
    questions = rule1_quiz_questions(root)
    assert menu_pages or value_pages, "no training page uses {{积分菜单表}} or {{规则1.分值}}"
    assert questions, "no quiz question has {{规则1.分值}} in its right option"

    def check(points: int, old: int | None) -> None:
        site = built_ok(root)
        out = root / f"handouts-{points}"
        result = run_kit(root, "handouts", "-o", str(out), "--as-of", AS_OF)
        assert result.exit_code == 0, (result.output, result.exception)
        assert placeholder_values(site)["{{规则1.分值}}"] == str(points)
        for stem in menu_pages:
            patrol = [r for r in table_rows(article(built_page(site, stem)))
                      if "治安巡逻" in r and any(c.endswith("分/小时") for c in r)]
            assert patrol, stem
            for cells in patrol:
                assert f"{points} 分/小时" in cells, (stem, cells)
                if old is not None:
                    assert f"{old} 分/小时" not in cells, (stem, cells)
        for stem, contexts in value_pages.items():
            text = compact(visible(article(built_page(site, stem))))
            for before, after in contexts:
                assert compact(f"{before}{points}{after}") in text, (stem, before, after)
                if old is not None and compact(before + after):
                    assert not re.search(rf"(?<!\d){re.escape(compact(f'{before}{old}{after}'))}", text), (stem,)
        for stem, number, template in questions:
            right, options = quiz_answer(site, stem, number)
            assert option_pattern(template, points).fullmatch(right), (stem, number, right, template)
            if old is not None:
                assert not option_pattern(template, old).fullmatch(right), (stem, number, right)
        leaflet = compact(leaflet_text(out))
        assert f"治安巡逻{points}分" in leaflet, leaflet
        if old is not None:
            assert f"治安巡逻{old}分" not in leaflet, leaflet

    check(10, None)
    write_xlsx(root / DEFAULT_WORKBOOK, training_workbook(points=13))
    check(13, 10)


# --- errors stop the build and leave the published site alone


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Iterator[Path]:
    """A built project that tests break and restore."""
    root = make_project(tmp_path_factory.mktemp("scratch") / "project", training_workbook())
    built_ok(root)
    yield root


def assert_refused(result, *names: str) -> str:
    output = result.output
    assert result.exit_code != 0, output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a crash
    assert "Traceback" not in output and "内部出错" not in output, output
    for name in names:
        assert name in output, output
    return output


def test_unknown_placeholder_stops_the_build_naming_file_and_line(scratch):
    before = snapshot(scratch / "site")
    page = scratch / "docs" / "training" / "index.md"
    original = page.read_text(encoding="utf-8")
    lines = original.split("\n")
    page.write_text("\n".join(lines[:2] + ["这里写错了：{{规则1.分数}} 分。"] + lines[2:]), encoding="utf-8")
    try:
        output = assert_refused(build(scratch), "docs/training/index.md", "规则1.分数")
        assert re.search(r"第\s*3\s*行", output), output
        assert result_code(output) == "unknown-placeholder"
    finally:
        page.write_text(original, encoding="utf-8")
    assert snapshot(scratch / "site") == before
    assert not list(scratch.glob(".kit-build-*"))  # no staging folder left behind


def result_code(output: str) -> str | None:
    match = re.search(r"（([a-z-]+)）", output)
    return match.group(1) if match else None


BROKEN_QUIZZES = {
    "missing-answer": "  - type: 单选\n    question: 少了答案\n    options: ['甲', '乙']\n",
    "answer-out-of-range": "  - type: 单选\n    question: 超出范围\n    options: ['甲', '乙']\n    answer: 3\n",
    "bad-type": "  - type: 填空\n    question: 题型不对\n    answer: 甲\n",
}


@pytest.mark.parametrize("second", BROKEN_QUIZZES.values(), ids=BROKEN_QUIZZES.keys())
def test_broken_quiz_stops_the_build_naming_file_and_question(scratch, second):
    before = snapshot(scratch / "site")
    quiz = scratch / "docs" / "training" / "quiz-broken.quiz.yml"
    quiz.write_text("title: 坏测验\nquestions:\n" + QUIZ_OK_Q1 + second, encoding="utf-8")
    try:
        result = build(scratch)
        output = assert_refused(result, "docs/training/quiz-broken.quiz.yml")
        assert result.exit_code == 2
        assert re.search(r"第\s*2\s*题", output), output
    finally:
        quiz.unlink()
    assert snapshot(scratch / "site") == before


def test_unknown_placeholder_in_a_quiz_stops_the_build(scratch):
    before = snapshot(scratch / "site")
    quiz = scratch / "docs" / "training" / "quiz-broken.quiz.yml"
    quiz.write_text("title: t\nquestions:\n" + QUIZ_OK_Q1
                    + "  - question: '{{奖品9.名称}}？'\n    options: ['a', 'b']\n    answer: 1\n", encoding="utf-8")
    try:
        output = assert_refused(build(scratch), "docs/training/quiz-broken.quiz.yml", "奖品9.名称")
        assert re.search(r"第\s*7\s*行", output), output
    finally:
        quiz.unlink()
    assert snapshot(scratch / "site") == before


def test_rule_worth_100_points_builds_with_merged_quiz_options(tmp_path):
    """The kit's own quizzes offer “1 分 / 100 分 / {{规则1.分值}} 分”: a community whose first
    rule is worth 100 points must still get its site, with the equal options merged."""
    root = make_project(tmp_path / "project", training_workbook(points=100))
    (root / "docs" / "training" / "quiz-merge.quiz.yml").write_text(
        "title: 合并\nquestions:\n  - question: 多少分？\n    options: ['1 分', '100 分', '{{规则1.分值}} 分']\n"
        "    answer: 3\n", encoding="utf-8")
    result = build(root)
    assert result.exit_code == 0, result.output
    right, options = quiz_answer(root / "site", "quiz-merge", 1)
    assert right == "100 分" and sorted(options) == ["1 分", "100 分"]


def test_community_without_rules_gets_its_training_pages(tmp_path):
    sheets = training_workbook()
    sheets["积分规则"] = sheets["积分规则"][:1]
    sheets["加分规则"] = sheets["加分规则"][:1]
    sheets["积分记录"] = sheets["积分记录"][:1]
    root = make_project(tmp_path / "project", sheets)
    site = built_ok(root)
    pages, quizzes = page_stems(root)
    for stem in pages + quizzes:
        assert built_page(site, stem).is_file(), stem
    values = placeholder_values(site)
    assert values["{{规则数}}"] == "0" and values["{{规则1.分值}}"]


# --------------------------------------------------------------------------- the quiz in a browser


def quiz_stems(project: Path) -> list[str]:
    return page_stems(project)[1]


@needs_chromium
def test_quiz_gives_instant_feedback_offline(project, site):
    stem = quiz_stems(project)[0]
    with chromium_site(site) as (base, browser):
        url = f"{base}training/{stem}/"
        with open_page(browser, url) as (page, visit):
            questions = page.locator(".kit-quiz-question")
            total = questions.count()
            assert total >= 2
            assert int(page.locator(".kit-quiz").get_attribute("data-total")) == total

            explained = [i for i in range(total)
                         if (questions.nth(i).locator(".kit-quiz-explain").text_content() or "").strip()]
            assert explained, "no quiz question has an explanation"
            first = questions.nth(explained[0])
            answer = int(first.get_attribute("data-answer"))
            options = first.locator(".kit-quiz-option")
            wrong = next(i for i in range(options.count()) if i != answer)
            explanation = first.locator(".kit-quiz-explain").text_content().strip()
            assert not first.locator(".kit-quiz-explain").is_visible()
            assert not first.locator(".kit-quiz-result").is_visible()

            options.nth(wrong).click()
            result = first.locator(".kit-quiz-result")
            assert result.is_visible()
            assert "kit-quiz-no" in result.get_attribute("class") and "kit-quiz-ok" not in result.get_attribute("class")
            assert "kit-quiz-wrong" in options.nth(wrong).get_attribute("class")
            assert "kit-quiz-right" in options.nth(answer).get_attribute("class")
            assert options.nth(answer).text_content().strip() in result.text_content()  # names the right answer
            explain = first.locator(".kit-quiz-explain")
            assert explain.is_visible() and explain.text_content().strip() == explanation
            assert all(options.nth(i).is_disabled() for i in range(options.count()))

            second = questions.nth(next(i for i in range(total) if i != explained[0]))
            right = int(second.get_attribute("data-answer"))
            second.locator(".kit-quiz-option").nth(right).click()
            result2 = second.locator(".kit-quiz-result")
            assert result2.is_visible()
            assert "kit-quiz-ok" in result2.get_attribute("class")
            assert "kit-quiz-right" in second.locator(".kit-quiz-option").nth(right).get_attribute("class")
            assert second.locator(".kit-quiz-wrong").count() == 0

            score = page.locator(".kit-quiz-score").text_content()
            assert re.findall(r"\d+", score)[:3] == ["2", str(total), "1"], score  # answered, of, right
            options.nth(answer).click(force=True)  # an answered question does not count twice
            assert page.locator(".kit-quiz-score").text_content() == score

            assert any(u.endswith("/assets/quiz.js") for u in visit.requests), visit.requests
            assert all(u.startswith(base) for u in visit.requests), visit.requests
            assert not visit.failed, visit.failed
            assert not visit.console_errors and not visit.page_errors, visit.console_errors + visit.page_errors


@needs_chromium
def test_every_quiz_page_runs_without_errors_or_foreign_requests(project, site):
    with chromium_site(site) as (base, browser):
        for stem in quiz_stems(project):
            with open_page(browser, f"{base}training/{stem}/") as (page, visit):
                question = page.locator(".kit-quiz-question").first
                question.locator(".kit-quiz-option").nth(int(question.get_attribute("data-answer"))).click()
                assert "kit-quiz-ok" in question.locator(".kit-quiz-result").get_attribute("class"), stem
                assert all(u.startswith(base) for u in visit.requests), (stem, visit.requests)
                assert not visit.failed and not visit.console_errors and not visit.page_errors, (stem, visit)
