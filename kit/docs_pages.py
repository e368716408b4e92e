"""The hand-written pages of docs/: placeholders filled, quiz files turned into pages.

A quiz is a YAML file beside the pages (docs/training/*.quiz.yml), edited by
trainers; its numbers come from placeholders too, so answers follow the rules.
A question whose answer will change (a rule or reward version to come) says which
day it holds for, and its explanation names the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from kit.errors import KitError
from kit.training import PLACEHOLDER, Facts, md

QUIZ_SUFFIX = ".quiz.yml"
TRUE_FALSE = {"对": True, "错": False, "正确": True, "错误": False, "是": True, "否": False}


class QuizError(KitError):
    code = "bad-quiz"


@dataclass(frozen=True)
class Question:
    kind: str  # 单选 | 判断
    text: str
    options: tuple[str, ...]
    answer: int  # 0-based index into options
    explain: str


@dataclass(frozen=True)
class Quiz:
    title: str
    intro: str
    questions: tuple[Question, ...]


def fill_pages(docs: Path, facts: Facts) -> None:
    """Replace the placeholders of every Markdown page in docs (in place, in the staging copy)."""
    for page in sorted(docs.rglob("*.md")):
        where = f"docs/{page.relative_to(docs).as_posix()}"
        page.write_text(facts.fill(page.read_text(encoding="utf-8"), where), encoding="utf-8")


def render_quizzes(docs: Path, facts: Facts, env: jinja2.Environment) -> list[Path]:
    """Each *.quiz.yml becomes a page of the same name; the YAML itself is not published."""
    pages = []
    for source in sorted(docs.rglob(f"*{QUIZ_SUFFIX}")):
        where = f"docs/{source.relative_to(docs).as_posix()}"
        quiz = read_quiz(source.read_text(encoding="utf-8"), where, facts)
        target = source.with_name(source.name[: -len(QUIZ_SUFFIX)] + ".md")
        root = "../" * (len(source.relative_to(docs).parent.parts) + 1)  # the page is served as a folder
        target.write_text(env.get_template("pages/quiz.md.j2").render(quiz=quiz, root=root), encoding="utf-8")
        source.unlink()
        pages.append(target)
    return pages


def read_quiz(text: str, where: str, facts: Facts) -> Quiz:
    """Read the YAML first, then fill each text: a name with quotes or colons cannot break it."""
    facts.check(text, where, markdown=False)  # unknown placeholders, named by line
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise QuizError(f"{where} 格式有误：{exc}") from None
    raw = data
    data = _filled(data, facts, where)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list) or not data["questions"]:
        raise QuizError(f"{where}：应包含 title（标题）和 questions（题目列表），请对照已有的测验文件修改。")
    questions = tuple(_dated(_question(item, f"{where} 第 {n} 题"), source, facts)
                      for n, (item, source) in enumerate(zip(data["questions"], raw["questions"]), start=1))
    return Quiz(str(data.get("title") or "自测"), str(data.get("intro") or ""), questions)


def _filled(value: object, facts: Facts, where: str) -> object:
    if isinstance(value, str):
        return facts.fill(value, where, markdown=False)
    if isinstance(value, list):
        return [_filled(v, facts, where) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, facts, where) for k, v in value.items()}
    return value


def _dated(question: Question, source: dict, facts: Facts) -> Question:
    """A question asking about a value that is going to change: the day it holds for in the
    question, the change in the explanation."""
    options = source.get("options")
    asked = " ".join(str(v) for v in [source.get("question", ""), *(options if isinstance(options, list) else [])])
    changes = list(dict.fromkeys(c for m in PLACEHOLDER.finditer(asked) for c in facts.changing.get(m.group(1), ())))
    if not changes or facts.as_of is None:
        return question
    note = "注意：" + "；".join(c.line for c in changes) + "。"
    return Question(question.kind, f"{question.text}（以 {facts.as_of} 的规定为准）", question.options,
                    question.answer, question.explain + note)


def _question(item: object, where: str) -> Question:
    if not isinstance(item, dict) or not item.get("question"):
        raise QuizError(f"{where}：缺少 question（题目）。")
    kind = str(item.get("type", "单选")).strip()
    explain = str(item.get("explain") or "")
    if kind == "判断":
        answer = TRUE_FALSE.get(str(item.get("answer", "")).strip())
        if answer is None:
            raise QuizError(f"{where}：判断题的 answer 应为“对”或“错”。")
        return Question(kind, str(item["question"]), ("对", "错"), 0 if answer else 1, explain)
    if kind != "单选":
        raise QuizError(f"{where}：type 应为“单选”或“判断”（现在是“{kind}”）。")
    options = item.get("options")
    if not isinstance(options, list) or len(options) < 2:
        raise QuizError(f"{where}：单选题至少要有两个 options（选项）。")
    options = [str(o).strip() for o in options]
    answer = item.get("answer")
    if not isinstance(answer, int) or not 1 <= answer <= len(options):
        raise QuizError(f"{where}：answer 应为正确选项的序号（1 到 {len(options)}）。")
    right = options[answer - 1]
    # a wrong option that this community's numbers made equal to the answer or to another is dropped
    kept = []
    for index, option in enumerate(options):
        if index == answer - 1 or (option != right and option not in kept):
            kept.append(option)
    if len(kept) < 2:
        raise QuizError(f"{where}：选项用本社区的数字填好后都一样了（{'、'.join(options)}），请换几个选项。")
    return Question(kind, str(item["question"]), tuple(kept), kept.index(right), explain)


def placeholders_page(facts: Facts) -> str:
    """A reference page for trainers: every placeholder and what it reads as now."""
    lines = ["# 占位符一览", "",
             "培训材料里写 `{{名称}}`，生成网站时换成本社区表格里的数字和名称。下面是所有可用的名称和现在的值。", "",
             "| 占位符 | 现在的值 |", "|---|---|"]
    for name in sorted(facts.values):
        value = facts.fill('{{' + name + '}}', 'placeholders')
        if name in facts.changing:  # the trainer sees that the value is about to change
            value += "（" + md("；".join(c.line for c in facts.changing[name])) + "）"
        lines.append(f"| `{{{{{name}}}}}` | {value} |")
    for name in sorted(facts.blocks):
        lines.append(f"| `{{{{{name}}}}}` | （整张表，单独占一行使用） |")
    return "\n".join(lines) + "\n"
