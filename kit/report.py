"""The staff-only quarterly evaluation report (季度评估): Markdown, HTML and PDF.

The seed asks the centre to evaluate each quarter (participation rate, dispute
resolution time) and to keep points from inflating. Everything here comes from
kit.stats and kit.forecast; this module only lays it out.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

import markdown

from kit import charts
from kit.files import write_text_atomic
from kit.forecast import Liability, Scenario, liability, what_if
from kit.ledger import Ledger
from kit.model import Book
from kit.pdf import FONT, keep_together, new_pdf, save_pdf
from kit.stats import AGE_BANDS, HOTSPOT_P, HOTSPOT_RATIO, UNKNOWN_AGE, Figures, PeriodStats, previous_quarter
from kit.wording import plain_number


@dataclass(frozen=True)
class Chart:
    name: str
    svg: Callable[[str], str]  # font family → SVG


@dataclass(frozen=True)
class Report:
    title: str
    blocks: tuple[str | Chart, ...]  # Markdown text and charts, in order


@dataclass(frozen=True)
class Written:
    pdf: Path
    markdown: Path
    html: Path
    pages: int


def build_report(book: Book, ledger: Ledger, quarter: str,
                 progress: Callable[[str], None] = lambda step: None) -> Report:
    figures = Figures(book, ledger)
    this, last = figures.quarter(quarter), figures.quarter(previous_quarter(quarter))
    names = {g.grid_id: g.grid_name for g in book.grids}
    progress("预测积分负债")
    owed = liability(book, ledger)
    progress("对比不同设置")
    scenarios = what_if(book, ledger.as_of, progress=lambda label: progress(f"假设：{label}"))
    hotspots = figures.hotspots(this.start, this.end, book.settings.min_group_size)
    backlog = figures.backlog()
    title = f"{book.settings.site_name} 积分制季度评估报告（{quarter}）"
    blocks: list[str | Chart] = [
        f"# {title}\n\n统计期间 {this.start} 至 {this.end}，数据截至 {ledger.as_of}。"
        "**仅供工作人员使用，不要公开。**",
        "## 一、总体情况\n\n" + _overview(this, last),
        "## 二、各网格参与情况\n\n" + _grids(this, last, names),
        Chart("grids", lambda font: charts.bar_chart(
            [(names.get(g, g), s.rate or 0) for g, s in this.by_grid.items()], "各网格参与率", True, font)),
        "## 三、各年龄段参与情况\n\n" + _ages(this),
        "## 四、各类活动\n\n" + _categories(this, last),
        Chart("categories", lambda font: charts.bar_chart(
            sorted(this.points_by_category.items(), key=lambda kv: -kv[1]), "各类活动发放的积分", False, font)),
        "## 五、需要关注的网格\n\n" + _hotspots(hotspots),
        "## 六、审核积压\n\n" + _backlog(backlog, names),
        "## 七、积分负债\n\n" + _liability(owed),
        "## 八、不同设置的对比（用全部历史记录重新计算）\n\n" + _scenarios(scenarios),
    ]
    return Report(title, tuple(blocks))


def _change(now: float | None, before: float | None, percent: bool = False) -> str:
    if now is None or before is None:
        return "—"
    delta = now - before
    return f"{delta:+.0%}" if percent else f"{delta:+,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
    return head + "".join("| " + " | ".join(_cell(c) for c in row) + " |\n" for row in rows)


def _cell(value: object) -> str:
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return escape(text).replace("|", "&#124;")


def _overview(this: PeriodStats, last: PeriodStats) -> str:
    def days(p: PeriodStats) -> str:
        return "—" if p.median_days_to_resolve is None else f"{plain_number(p.median_days_to_resolve)} 天"

    def corrected(p: PeriodStats) -> float | None:
        return p.appeals_corrected / p.appeals_resolved if p.appeals_resolved else None

    rows = [
        ["在册居民", this.overall.registered, last.overall.registered,
         _change(this.overall.registered, last.overall.registered)],
        ["参与居民（至少一条计分记录）", this.overall.participants, last.overall.participants,
         _change(this.overall.participants, last.overall.participants)],
        ["参与率", _pct(this.overall.rate), _pct(last.overall.rate), _change(this.overall.rate, last.overall.rate, True)],
        ["发放积分", this.issued, last.issued, _change(this.issued, last.issued)],
        ["兑换积分", this.redeemed, last.redeemed, _change(this.redeemed, last.redeemed)],
        ["到期衰减积分", this.decayed, last.decayed, _change(this.decayed, last.decayed)],
        ["季末未兑换积分", this.outstanding, last.outstanding, _change(this.outstanding, last.outstanding)],
        ["受理申诉", this.appeals_opened, last.appeals_opened, _change(this.appeals_opened, last.appeals_opened)],
        ["办结申诉", this.appeals_resolved, last.appeals_resolved,
         _change(this.appeals_resolved, last.appeals_resolved)],
        ["办结中更正的比例", _pct(corrected(this)), _pct(corrected(last)),
         _change(corrected(this), corrected(last), True)],
        ["申诉办结用时（中位数）", days(this), days(last), "—"],
        ["调解记录", sum(this.mediation_by_grid.values()), sum(last.mediation_by_grid.values()),
         _change(sum(this.mediation_by_grid.values()), sum(last.mediation_by_grid.values()))],
    ]
    return _table(["指标", this.label, f"上季度 {last.label}", "变化"], rows)


def _grids(this: PeriodStats, last: PeriodStats, names: dict[str, str]) -> str:
    rows = [[names.get(g, g), s.registered, s.participants, _pct(s.rate),
             _pct(last.by_grid[g].rate) if g in last.by_grid else "—", this.mediation_by_grid.get(g, 0)]
            for g, s in this.by_grid.items()]
    return _table(["网格", "在册", "参与", "参与率", "上季度参与率", "调解记录"], rows)


def _ages(this: PeriodStats) -> str:
    order = [name for name, _, _ in AGE_BANDS] + [UNKNOWN_AGE]
    rows = [[f"{band}", s.registered, s.participants, _pct(s.rate)]
            for band in order if (s := this.by_age.get(band))]
    return (_table(["年龄段", "在册", "参与", "参与率"], rows)
            + "\n青年 44 岁及以下，中年 45—59 岁，老年 60 岁及以上（按出生年份）。")


def _categories(this: PeriodStats, last: PeriodStats) -> str:
    rows = [[c, p, this.people_by_category.get(c, 0), last.points_by_category.get(c, 0)]
            for c, p in sorted(this.points_by_category.items(), key=lambda kv: -kv[1])]
    return _table(["类别", "发放积分", "参与居民", "上季度积分"], rows)


def _hotspots(hotspots: list) -> str:
    rule = (f"判断规则：某网格参加某类活动的居民比例不到全社区的 {HOTSPOT_RATIO:.0%}，并且单侧二项检验 "
            f"p < {HOTSPOT_P}（不太可能只是偶然），只看在册人数不少于“最小公布人数”的网格。")
    if not hotspots:
        return rule + "\n\n本季度没有发现参与明显偏低的网格。"
    rows = [[h.grid, h.category, h.participants, h.registered, _pct(h.rate), _pct(h.community_rate),
             f"{h.p_value:.4f}", "建议针对性宣传"] for h in hotspots]
    return rule + "\n\n" + _table(["网格", "类别", "参与", "在册", "参与率", "社区平均", "p 值", "建议"], rows) + "\n" + \
        "\n".join(f"- {escape(h.advice)}" for h in hotspots)


def _backlog(backlog, names: dict[str, str]) -> str:
    if not backlog.pending:
        return "没有待审核的记录。"
    rows = [[names.get(g, g), n] for g, n in backlog.by_grid.items()]
    return (f"待审核记录 {backlog.pending:,} 条，已等待天数中位数 {plain_number(backlog.median_age_days)} 天，"
            f"最久 {backlog.oldest_days} 天。长期待审核的记录请尽快审核或驳回。\n\n"
            + _table(["网格", "待审核"], rows))


def _liability(owed: Liability) -> str:
    lines = [
        f"- 现在未兑换的积分：**{owed.outstanding:,} 分**（统计日 {owed.as_of}）",
        f"- 如果今后没人再得分、也没人兑换，未来 12 个月会因到期衰减减少：**{owed.decaying_next_12m:,} 分**",
    ]
    if owed.average_cost:
        lines.append(f"- 奖品平均每份 {owed.average_cost:,.0f} 分，未兑换积分约可兑换 {owed.rewards_equivalent:,.0f} 份奖品")
    if owed.yuan is not None:
        lines.append(f"- 按填了“价值(元)”的奖品折算，每分约 {owed.yuan_per_point} 元，未兑换积分约合 **{owed.yuan:,} 元**")
    else:
        lines.append("- 奖品表没有填“价值(元)”，无法折算成金额。")
    return "\n".join(lines)


def _scenarios(scenarios: list[Scenario]) -> str:
    rows = [[s.label + ("（现行）" if s.current else ""), s.earned, s.redeemed, s.decayed, s.outstanding,
             s.refused_redemptions] for s in scenarios]
    return (_table(["设置", "累计发放", "累计兑换", "累计衰减", "现在未兑换", "会因积分不足被拒的兑换"], rows)
            + "\n每一行都用积分引擎把全部历史记录按那种设置重新算一遍；“会因积分不足被拒的兑换”"
              "说明更严的设置会让哪些已发生的兑换在当时余额不够。")


def write_report(report: Report, out: Path, created: dt.datetime) -> Written:
    """out.pdf, out.md (charts as .svg beside it) and out.html (charts inline)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    md_parts, html_parts = [], []
    for block in report.blocks:
        if isinstance(block, Chart):
            svg_path = stem.parent / f"{stem.name}-{block.name}.svg"
            write_text_atomic(svg_path, block.svg(charts.WEB_FONTS), "报告图表")
            md_parts.append(f"![{block.name}]({svg_path.name})")
            html_parts.append(f'<div class="chart">{block.svg(charts.WEB_FONTS)}</div>')
        else:
            md_parts.append(block)
            html_parts.append(markdown.markdown(block, extensions=["tables"]))
    md_path, html_path, pdf_path = stem.with_suffix(".md"), stem.with_suffix(".html"), stem.with_suffix(".pdf")
    write_text_atomic(md_path, "\n\n".join(md_parts) + "\n", "报告")
    write_text_atomic(html_path, _page(report.title, "\n".join(html_parts)), "报告")
    pages = _pdf(report, pdf_path, created)
    return Written(pdf_path, md_path, html_path, pages)


def _page(title: str, body: str) -> str:
    style = ("body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;max-width:60rem;margin:2rem auto;"
             "padding:0 1rem;line-height:1.6}table{border-collapse:collapse;margin:1rem 0}"
             "td,th{border:1px solid #ccc;padding:.3rem .6rem}.chart svg{max-width:720px;width:100%}")
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
            f"<title>{escape(title)}</title><style>{style}</style></head><body>{body}</body></html>\n")


def _pdf(report: Report, path: Path, created: dt.datetime) -> int:
    logging.getLogger("fpdf.svg").setLevel(logging.ERROR)  # it notes <title>, which PDFs do not need
    pdf = new_pdf("A4", report.title, created, footer=f"{report.title}　仅供工作人员使用")
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(14, 14, 14)
    pdf.add_page()
    for block in report.blocks:
        if isinstance(block, Chart):
            svg = block.svg(FONT).encode("utf-8")
            pdf.image(io.BytesIO(svg), x=pdf.l_margin, w=pdf.epw * 0.85)
            pdf.ln(4)
        else:
            pdf.set_font(FONT, size=10)
            pdf.write_html(keep_together(markdown.markdown(block, extensions=["tables"])),
                           table_line_separators=True)
    save_pdf(pdf, path)
    return pdf.pages_count

