"""The published aggregates as CSV and JSON, with a data dictionary.

Exactly what 数据看板 shows, nothing more. A suppressed cell is there and marked
(empty value and 不公布 in CSV, null and "suppressed": true in JSON), never silently left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kit.exports import csv_text
from kit.views import DashboardView

SUPPRESSED = "不公布"


@dataclass(frozen=True)
class Field:
    key: str
    zh: str
    meaning: str


@dataclass(frozen=True)
class Dataset:
    name: str  # file stem
    title: str
    fields: tuple[Field, ...]
    rows: tuple[tuple[object, ...], ...]  # None marks a suppressed value


def datasets(view: DashboardView) -> tuple[Dataset, ...]:
    year = view.year
    rate = Field("rate", "参与率", "参与居民 ÷ 在册居民，0 到 1 之间的小数")
    registered = Field("registered", "居民", "在册居民，加上今年参加过活动后迁出的居民")
    participants = Field("participants", "参与居民", "今年至少有一条计分记录的居民人数（含之后迁出的）")
    return (
        Dataset("monthly", "每月发放的积分和参与人数",
                (Field("month", "月份", "YYYY-MM"), Field("points", "发放积分", "这个月审核通过并计入的积分"),
                 Field("participants", "参与居民", "这个月至少有一条计分记录的居民人数（含之后迁出的）")),
                tuple((m.month, m.points, m.participants) for m in view.months)),
        Dataset("categories", f"{year} 年各类活动的积分",
                (Field("category", "类别", "积分规则的类别"), Field("points", "发放积分", f"{year} 年至统计日"),
                 Field("participants", "参与居民", "参加这类活动的居民人数")),
                tuple((s.label, s.points, s.participants) for s in view.categories)),
        Dataset("grids", f"{year} 年各网格参与率",
                (Field("grid", "网格", "网格名称"), registered, participants, rate),
                tuple((g.grid, g.registered, g.participants, g.rate) for g in view.grids)),
        Dataset("age_bands", f"{year} 年各年龄段参与率",
                (Field("age_band", "年龄段", "青年 44 岁及以下，中年 45—59 岁，老年 60 岁及以上，按出生年份"),
                 registered, participants, rate),
                tuple((g.grid, g.registered, g.participants, g.rate) for g in view.ages)),
        Dataset("hotspots", f"{year} 年参与明显偏低的网格和活动",
                (Field("grid", "网格", "网格名称"), Field("category", "类别", "积分规则的类别"),
                 Field("rate", "网格参与率", "这个网格参加这类活动的在册居民比例"),
                 Field("community_rate", "社区平均", "全社区参加这类活动的在册居民比例")),
                tuple((h.grid, h.category, h.rate, h.community_rate) for h in view.hotspots)),
    )


def files(view: DashboardView) -> dict[str, str]:
    """file name → text, for site/data/."""
    found = {}
    for data in datasets(view):
        header = [f.key for f in data.fields] + ["suppressed"]
        rows = [[SUPPRESSED if v is None else _plain(v) for v in row] + ["是" if None in row else "否"]
                for row in data.rows]
        found[f"{data.name}.csv"] = csv_text(header, rows)
        records = [dict(zip([f.key for f in data.fields], (_plain(v) for v in row)), suppressed=None in row)
                   for row in data.rows]
        found[f"{data.name}.json"] = json.dumps(
            {"title": data.title, "fields": [f.__dict__ for f in data.fields], "rows": records},
            ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return found


def _plain(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value
