"""Printable training handouts, built from the same rules and views as the site.

A resident leaflet (A4, one page), a staff quick-reference card (A4), the trainer's
agenda (from docs/training/40-course.md, placeholders filled) and a 公示栏 poster
(A3) with the current notice and rankings for residents without phones. Each
carries the date, the site address and a QR code to the site.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path

import markdown
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kit.errors import KitError
from kit.ledger import Ledger
from kit.model import Book
from kit.pdf import FONT, keep_together, new_pdf, qr_image, save_pdf
from kit.tables import Tables
from kit.training import Facts, training_facts
from kit.views import SiteView, site_view

COURSE_PAGE = Path("training") / "40-course.md"
LEAFLET_RULES, LEAFLET_REWARDS, POSTER_LINES, POSTER_RANKS = 14, 8, 22, 8
LEAFLET_CHANGES = 6
QR_SIZE = 28.0
MIN_SIZE = 7.5


@dataclass(frozen=True)
class Handout:
    name: str  # file name
    title: str
    page_format: str  # A4 | A3
    pages: int


def write_handouts(book: Book, ledger: Ledger, tables: Tables | None, docs: Path, out_dir: Path,
                   created: dt.datetime) -> list[Handout]:
    view = site_view(book, ledger)
    facts = training_facts(book, tables, ledger.as_of)
    made = []
    for name, title, page_format, size, one_page, body in (
        ("居民宣传单.pdf", f"{view.home.site_name} 积分制居民须知", "A4", 10.5, True, _leaflet(book, view)),
        ("工作人员速查卡.pdf", "积分工作速查卡", "A4", 10, True, _staff_card(book, facts)),
        ("培训日程.pdf", "积分制培训日程", "A4", 11, False, _agenda(docs, facts)),
        ("公示栏海报.pdf", f"{view.home.site_name} 积分公示栏", "A3", 14, True, _poster(view)),  # read from a step away
    ):
        pdf = _render(book, title, page_format, size, body, created)
        while one_page and pdf.pages_count > 1 and size > MIN_SIZE:  # a long menu: smaller type, still one sheet
            size -= 1
            pdf = _render(book, title, page_format, size, body, created)
        save_pdf(pdf, out_dir / name)
        made.append(Handout(name, title, page_format, pdf.pages_count))
    return made


def _render(book: Book, title: str, page_format: str, size: float, body: str, created: dt.datetime) -> FPDF:
    address = book.settings.site_url or "（网站地址未设置）"
    pdf = new_pdf(page_format, title, created,
                  footer=f"{book.settings.site_name}　网站：{address}　制作日期：{created.date()}")
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(14, 14, 14)
    pdf.add_page()
    _heading(pdf, book, title, created.date())
    pdf.set_font(FONT, size=size)
    try:
        pdf.write_html(keep_together(body), table_line_separators=True)
    except (NotImplementedError, ValueError, KeyError) as exc:  # fpdf2 refuses some nesting, e.g. links in tables
        raise KitError(f"“{title}”里有 PDF 排版不支持的格式（{exc}）。培训日程请只用标题、段落、列表和简单表格。") from None
    return pdf


def _heading(pdf: FPDF, book: Book, title: str, day: dt.date) -> None:
    """Title at the top left, the QR code to the site at the top right."""
    url = book.settings.site_url
    if url:
        pdf.image(qr_image(url, scale=6), x=pdf.w - pdf.r_margin - QR_SIZE, y=pdf.t_margin - 4,
                  w=QR_SIZE, h=QR_SIZE)
    pdf.set_font(FONT, size=20)
    pdf.set_text_color(45, 90, 158)
    pdf.multi_cell(pdf.epw - QR_SIZE - 4, 10, title, wrapmode="CHAR", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(pdf.epw - QR_SIZE - 4, 6, f"{book.settings.organization or book.settings.site_name}　"
                   f"{day:%Y年%m月%d日}　扫右边的二维码打开网站", wrapmode="CHAR",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(pdf.get_y(), pdf.t_margin + QR_SIZE) + 2)


def _table(headers: list[str], widths: list[int], rows: list[list[object]]) -> str:
    head = "".join(f'<th width="{w}%">{escape(h)}</th>' for h, w in zip(headers, widths))
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table width="100%"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _leaflet(book: Book, view: SiteView) -> str:
    s = book.settings
    rules = [r for category, lines in view.menu.categories for r in lines]
    rows = [[r.name, f"{r.points} 分/{r.unit}", f"{r.daily_cap} 分" if r.daily_cap else "不限", r.audience]
            for r in rules[:LEAFLET_RULES]]
    more = "<p>更多活动见网站“积分菜单”。</p>" if len(rules) > LEAFLET_RULES else ""
    bonuses = "".join(f"<li>{escape(name)}：{escape(words)}</li>" for name, words in view.menu.bonuses[:4])
    rewards = sorted(view.rewards, key=lambda r: r.cost)[:LEAFLET_REWARDS]  # those in force on the as-of date
    changes = view.menu.changes + view.menu.reward_changes
    coming = "".join(f"<li>{escape(c.name)}：{escape(c.words)}</li>" for c in changes[:LEAFLET_CHANGES])
    if len(changes) > LEAFLET_CHANGES:
        coming += "<li>更多调整见网站“积分菜单”和“兑换目录”。</li>"
    decay = (f"积分获得后 {s.decay_after_months} 个月内没有使用，剩下的部分乘以 {view.menu.decay_factor}，请及时兑换。"
             if s.decay_after_months else "积分长期有效。")
    return (
        "<p>积分就像社区的“信用卡”：您参加巡逻、调解、志愿服务，每一次付出都“存入”积分，"
        "将来可以“取出”兑换奖品和服务。</p>"
        "<h3>怎样得积分</h3>" + _table(["活动", "积分", "每日上限", "适合人群"], [36, 22, 18, 24], rows) + more
        + (f"<h3>加分活动</h3><ul>{bonuses}</ul>" if bonuses else "")
        + "<h3>怎样兑换</h3><p>带上积分卡到社区服务站兑换。</p>"
        + _table(["奖品", "类型", "所需积分"], [56, 20, 24], [[r.name, r.kind, f"{r.cost} 分"] for r in rewards])
        + (f"<h3>即将调整</h3><p>以上是 {view.home.as_of} 执行的规定。调整生效前的记录和兑换仍按原来的规定计算。</p>"
           f"<ul>{coming}</ul>" if coming else "")
        + "<h3>怎样查看自己的积分</h3><p>用手机扫积分卡上的二维码，就能看到自己的积分、排名和每一笔记录；"
          "不用下载软件，也不用登录。积分卡请妥善保管，丢失请到社区服务站补办。</p>"
        + f"<h3>公示和申诉</h3><p>审核通过的积分在网站“积分公示”公示 {s.notice_days} 天。"
          "如有异议，请在公示期内带上积分卡到社区服务站提出申诉，工作人员核实后更正并公布结果。</p>"
        + f"<h3>积分有效期</h3><p>{escape(decay)}</p>"
    )


def _staff_card(book: Book, facts: Facts) -> str:
    v = facts.values
    steps = [
        ["1 登记", f"在“{v['表.积分记录']}”表新增一行：{v['列.积分记录.日期']}、{v['列.积分记录.时间']}、"
                  f"{v['列.积分记录.居民编号']}、{v['列.积分记录.规则编码']}、{v['列.积分记录.数量']}，"
                  f"{v['列.积分记录.登记人']}填自己的工号，{v['列.积分记录.状态']}先填“待审核”。"],
        ["2 审核", f"另一位审核员核实后填{v['列.积分记录.审核人1']}，状态改为“通过”或“驳回”。"
                  f"{v['双人审核规则']}需要第二位审核员填{v['列.积分记录.审核人2']}。登记人不能审核自己登记的记录。"],
        ["3 检查", "运行 kit validate，按提示改正每一个错误（红色）。"],
        ["4 公示", f"运行 kit build 更新网站，积分公示 {v['公示天数']} 天。"],
        ["5 申诉", f"在“{v['表.申诉']}”表登记；更正时填{v['列.申诉.更正分值']}和{v['列.申诉.处理日期']}。"
                  "已公示的记录不要修改或删除。"],
        ["6 兑换", f"在“{v['表.兑换记录']}”表登记；先用 kit balances --resident 编号 查余额。"],
    ]
    codes = ["self-review", "same-reviewer", "second-review-missing", "reviewer-not-allowed", "unknown-resident",
             "duplicate-id", "bad-date", "redemption-overdraft", "out-of-stock", "capped-entry"]
    commands = [["kit validate", "检查表格，列出所有问题"], ["kit validate --annotate 检查结果.xlsx", "另存一份标出问题的表格"],
                ["kit balances --resident 编号", "柜台：这位居民为什么是这么多分"], ["kit build", "更新公开网站"],
                ["kit cards --grid 网格", "打印积分卡"], ["kit cards --reissue 编号", "补办丢失的积分卡"],
                ["kit handouts", "打印宣传单、速查卡、培训日程、公示栏海报"]]
    return ("<h3>工作流程</h3>" + _table(["步骤", "怎么做"], [14, 86], steps)
            + "<h3>常见问题（kit validate 的提示）</h3>"
            + _table(["代码", "问题", "怎么办"], [26, 20, 54],
                     [[c, v[f"问题.{c}.标题"], v[f"问题.{c}.说明"]] for c in codes])
            + "<h3>常用命令</h3>" + _table(["命令", "用途"], [45, 55], commands))


def _agenda(docs: Path, facts: Facts) -> str:
    page = docs / COURSE_PAGE
    if not page.is_file():
        raise KitError(f"找不到培训日程页面 docs/{COURSE_PAGE.as_posix()}，无法生成培训日程。"
                       "请从 kit init 创建的项目中复制这个文件。")
    text = facts.fill(page.read_text(encoding="utf-8"), f"docs/{COURSE_PAGE.as_posix()}")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text  # the title is already printed
    return markdown.markdown(body, extensions=["tables"])


def _poster(view: SiteView) -> str:
    notice = view.notice
    lines = [[str(l.date), l.code, l.grid, l.activity, l.points, "申诉中" if l.under_appeal else ""]
             for l in notice.lines[:POSTER_LINES]]
    more = (f"<p>还有 {len(notice.lines) - POSTER_LINES} 条，请在网站“积分公示”查看。</p>"
            if len(notice.lines) > POSTER_LINES else "")
    html = (f"<h2>积分公示（{notice.start} 至 {notice.end}）</h2>"
            f"<p>如有异议，请在公示期内（记录日期起 {notice.days} 天）带上积分卡到社区服务站申诉。</p>"
            + (_table(["日期", "编码", "网格", "活动", "积分", "状态"], [14, 12, 20, 34, 8, 12], lines)
               if lines else "<p>这段时间没有新的积分记录。</p>") + more)
    for board in view.ranking.community:
        html += f"<h2>排行榜 · {escape(board.title)}</h2>"
        if board.suppressed:
            html += f"<p>参与人数不足 {view.ranking.min_group_size} 人，不公布。</p>"
        else:
            html += _table(["名次", "居民", "网格", "积分"], [14, 36, 34, 16],
                           [[r.rank, r.name, r.grid, r.points] for r in board.rows[:POSTER_RANKS]])
    return html + "<p>排行榜只显示打码姓名或化名；化名印在本人的积分卡上。</p>"

