"""The workbook contract: every sheet, column, value kind and setting.

This is the only place that spells sheet names, column headers and setting
keys. The reader, the template writer, the annotator and the docs all use it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Kind(Enum):
    TEXT = "text"
    ID = "id"  # a code typed by staff; numbers like 1001.0 become "1001"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    BOOL = "bool"
    CHOICE = "choice"
    YEAR = "year"
    PHONE = "phone"
    TOKEN = "token"  # a card token (kit/tokens.py)


@dataclass(frozen=True)
class Choice:
    key: str
    zh: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: Kind
    required: bool = False  # the header must exist
    mandatory: bool = False  # every row must fill the cell
    soft: bool = False  # a bad value is a warning and is treated as empty
    choices: tuple[Choice, ...] = ()
    ref: tuple[str, str] | None = None  # (sheet key, column key) offered as a dropdown
    default: object = None  # the value of an empty cell
    blank: str | None = None  # warning code that counts the empty cells once for the sheet
    width: int = 12
    help: str = ""


@dataclass(frozen=True)
class Sheet:
    key: str
    zh: str
    columns: tuple[Column, ...]
    required: bool
    help: str
    id_column: str | None = None  # the column other sheets refer to

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)


@dataclass(frozen=True)
class Setting:
    key: str
    zh: str
    kind: Kind
    default: object
    minimum: object = None
    maximum: object = None
    help: str = ""


YES_NO = (
    Choice("yes", "是", ("y", "true", "1", "√", "✓", "✔", "对")),
    Choice("no", "否", ("n", "false", "0", "×", "✗", "✘", "x", "错")),
)
ROLES = (
    Choice("recorder", "登记员"),
    Choice("reviewer", "审核员"),
    Choice("admin", "管理员"),
)
RESIDENT_STATUS = (Choice("active", "在册"), Choice("moved", "迁出", ("已迁出",)))
ENTRY_STATUS = (
    Choice("approved", "通过", ("已通过", "审核通过")),
    Choice("pending", "待审核", ("审核中", "未审核")),
    Choice("rejected", "驳回", ("已驳回", "不通过")),
)
REWARD_KINDS = (
    Choice("goods", "物质", ("实物",)),
    Choice("honour", "精神", ("荣誉", "honor")),
    Choice("service", "服务", ("优先服务",)),
)
APPEAL_STATUS = (
    Choice("open", "受理中", ("处理中", "待处理")),
    Choice("upheld", "维持", ("维持原分", "驳回")),
    Choice("corrected", "更正", ("已更正",)),
)

SHEETS: tuple[Sheet, ...] = (
    Sheet("settings", "设置", (
        Column("key", "项目", Kind.TEXT, required=True, mandatory=True, width=20,
               help="设置项的名称，不要改动。"),
        Column("value", "值", Kind.TEXT, required=True, width=30,
               help="设置的值；留空表示用默认值。"),
    ), required=False,
        help="本社区的基本设置：网站名称、积分有效期、上限、公示天数等。每行一项。"),
    Sheet("grids", "网格", (
        Column("grid_id", "网格编号", Kind.ID, required=True, mandatory=True, width=12,
               help="网格的编号，如 G1。不能重复。"),
        Column("grid_name", "网格名称", Kind.TEXT, required=True, mandatory=True, width=16,
               help="网格的名称，如 第一网格。"),
        Column("community", "所属社区", Kind.TEXT, width=16, help="网格所在的社区。"),
    ), required=True, help="社区划分的网格。居民表里的网格编号必须在这里出现。", id_column="grid_id"),
    Sheet("staff", "工作人员", (
        Column("staff_id", "工号", Kind.ID, required=True, mandatory=True, width=10,
               help="工作人员的工号，如 S01。不能重复。"),
        Column("name", "姓名", Kind.TEXT, required=True, mandatory=True, width=10,
               help="工作人员姓名（不会公开）。"),
        Column("role", "角色", Kind.CHOICE, required=True, mandatory=True, choices=ROLES,
               width=10, help="登记员只能登记；审核员、管理员可以审核。"),
    ), required=True, help="登记和审核积分的工作人员。", id_column="staff_id"),
    Sheet("residents", "居民", (
        Column("resident_id", "居民编号", Kind.ID, required=True, mandatory=True, width=12,
               help="居民的编号，如 R0001。不能重复，登记积分时要用到。"),
        Column("name", "姓名", Kind.TEXT, required=True, mandatory=True, width=10,
               help="居民姓名（只在工作人员表格和纸质卡片上出现，不会公开）。"),
        Column("grid_id", "网格", Kind.ID, required=True, mandatory=True, ref=("grids", "grid_id"),
               width=10, help="居民所在网格的编号，从下拉列表选择。"),
        Column("birth_year", "出生年份", Kind.YEAR, soft=True, width=10,
               help="四位数年份，如 1956。只用于统计年龄段，不会公开。"),
        Column("phone", "手机", Kind.PHONE, soft=True, width=14,
               help="联系电话（不会公开）。"),
        Column("name_consent", "同意公开姓名", Kind.BOOL, choices=YES_NO, default=False, width=14,
               help="填“是”表示本人同意在排行榜和公示中显示打码姓名（如 张*三）；留空或“否”则只显示化名。"),
        Column("card_token", "卡号", Kind.TOKEN, soft=True, width=36,
               help="积分卡上的号码，由 kit cards 自动生成。不要手改，不要外传；补办新卡见 kit cards --reissue。"),
        Column("status", "状态", Kind.CHOICE, choices=RESIDENT_STATUS, default="active", width=8,
               help="在册 或 迁出；留空视为在册。"),
        Column("retired_tokens", "旧卡号", Kind.TEXT, width=20,
               help="补办积分卡时由 kit cards --reissue 自动写入换下来的旧卡号，用来核对已公示的记录。不要修改或删除，不要外传。"),
    ), required=True, help="参加积分的居民名册。这里的信息只供工作人员使用。", id_column="resident_id"),
    Sheet("rules", "积分规则", (
        Column("code", "编码", Kind.ID, required=True, mandatory=True, width=10,
               help="规则的编码，如 XL01。不能重复，登记积分时要用到。"),
        Column("name", "名称", Kind.TEXT, required=True, mandatory=True, width=16,
               help="活动名称，如 治安巡逻。"),
        Column("category", "类别", Kind.TEXT, required=True, mandatory=True, width=12,
               help="活动类别，如 平安巡防、矛盾调解。加分规则可以按类别加倍。"),
        Column("points", "分值", Kind.INT, required=True, mandatory=True, width=8,
               help="每个单位得多少分，正整数。"),
        Column("unit", "单位", Kind.TEXT, default="次", width=8, help="计分单位，如 小时、次；留空视为 次。"),
        Column("daily_cap", "每日上限", Kind.INT, default=0, width=10,
               help="同一居民同一天从这条规则最多得多少分；留空或 0 表示不限。"),
        Column("double_review", "双人审核", Kind.BOOL, choices=YES_NO, default=False, width=10,
               help="填“是”表示需要两位审核人。"),
        Column("audience", "适合人群", Kind.TEXT, width=12, help="如 青年、老年、所有居民。"),
        Column("description", "说明", Kind.TEXT, width=30, help="规则的具体要求。"),
        Column("active", "启用", Kind.BOOL, choices=YES_NO, default=True, width=8,
               help="填“否”表示停用，停用规则的记录不计分；留空视为启用。"),
        Column("start_date", "生效日期", Kind.DATE, width=12,
               help="这一版规则从哪天起使用（含当天）；留空表示一直有效。改分值时不要改原来的行：新加一行同样的编码，填新的分值和生效日期。"),
        Column("end_date", "停用日期", Kind.DATE, width=12,
               help="这一版规则用到哪天为止（含当天），通常是新版生效日期的前一天；留空表示没有截止。"),
    ), required=True, help="积分菜单：做什么事得多少分。同一编码可以有几行（几个版本），各管一段日期，互不重叠。",
        id_column="code"),
    Sheet("bonuses", "加分规则", (
        Column("name", "名称", Kind.TEXT, required=True, mandatory=True, width=16,
               help="加分活动的名称，如 夜间巡逻双倍。"),
        Column("category", "适用类别", Kind.TEXT, width=12,
               help="只对这个类别加倍；留空表示不限类别。"),
        Column("rule_code", "适用编码", Kind.ID, ref=("rules", "code"), width=10,
               help="只对这条规则加倍；留空表示不限规则。"),
        Column("start_date", "开始日期", Kind.DATE, width=12, help="从哪天开始（含当天）；留空表示不限。"),
        Column("end_date", "结束日期", Kind.DATE, width=12, help="到哪天结束（含当天）；留空表示不限。"),
        Column("start_time", "开始时间", Kind.TIME, width=10,
               help="每天从几点开始，如 20:00；可以跨午夜（20:00 到 06:00）。"),
        Column("end_time", "结束时间", Kind.TIME, width=10, help="每天到几点结束（含），如 06:00。"),
        Column("multiplier", "倍数", Kind.DECIMAL, required=True, mandatory=True, width=8,
               help="积分乘以几倍，如 2。多条加分同时符合时只取最大的一条，不叠加。"),
    ), required=False, help="特定时间、特定活动的加倍积分，如夜间双倍、春节平安积分。"),
    Sheet("entries", "积分记录", (
        Column("entry_id", "记录编号", Kind.ID, required=True, mandatory=True, width=12,
               help="每条记录的编号，如 E000001。不能重复，申诉时要用到。"),
        Column("date", "日期", Kind.DATE, required=True, mandatory=True, width=12,
               help="活动日期，如 2026-03-05。"),
        Column("time", "时间", Kind.TIME, width=8,
               help="活动开始时间，如 20:30；夜间加分等按时间计算，留空则不享受按时段的加分。"),
        Column("resident_id", "居民编号", Kind.ID, required=True, mandatory=True,
               ref=("residents", "resident_id"), width=12, help="从下拉列表选择居民编号。"),
        Column("rule_code", "规则编码", Kind.ID, required=True, mandatory=True,
               ref=("rules", "code"), width=10, help="从下拉列表选择积分规则。"),
        Column("quantity", "数量", Kind.DECIMAL, default=Decimal(1), width=8,
               help="几小时、几次；可以有小数，如 1.5。留空按 1 计。"),
        Column("note", "备注", Kind.TEXT, width=24, help="内部备注（不会公开）。"),
        Column("recorder", "登记人", Kind.ID, required=True, mandatory=True,
               ref=("staff", "staff_id"), width=10, help="登记这条记录的工作人员工号。"),
        Column("reviewer1", "审核人1", Kind.ID, required=True, ref=("staff", "staff_id"), width=10,
               help="第一位审核人的工号，不能是登记人本人。"),
        Column("reviewer2", "审核人2", Kind.ID, ref=("staff", "staff_id"), width=10,
               help="需要双人审核的规则填第二位审核人，不能与登记人、审核人1相同。"),
        Column("status", "状态", Kind.CHOICE, choices=ENTRY_STATUS, default="pending", blank="blank-entry-status",
               width=8, help="通过、待审核 或 驳回；留空视为待审核。只有“通过”的记录计分。"),
    ), required=True, help="每一次得分的记录，一行一条。", id_column="entry_id"),
    Sheet("rewards", "奖品", (
        Column("code", "编码", Kind.ID, required=True, mandatory=True, width=10,
               help="奖品的编码，如 JP01。不能重复。"),
        Column("name", "名称", Kind.TEXT, required=True, mandatory=True, width=16, help="奖品名称。"),
        Column("kind", "类型", Kind.CHOICE, required=True, mandatory=True, choices=REWARD_KINDS,
               width=8, help="物质、精神 或 服务。"),
        Column("cost", "所需积分", Kind.INT, required=True, mandatory=True, width=10,
               help="兑换一份需要多少积分，正整数。"),
        Column("stock", "库存", Kind.INT, width=8, help="一共有多少份；留空表示不限。"),
        Column("description", "说明", Kind.TEXT, width=30, help="奖品说明。"),
        Column("value", "价值(元)", Kind.DECIMAL, width=10,
               help="一份奖品大约值多少钱（可不填），只用于工作人员报表估算积分的兑换成本，不会公开。"),
        Column("start_date", "生效日期", Kind.DATE, width=12,
               help="这一版从哪天起使用（含当天）；留空表示一直有效。改所需积分时新加一行同样的编码，填新的积分和生效日期。"),
        Column("end_date", "停用日期", Kind.DATE, width=12,
               help="这一版用到哪天为止（含当天），通常是新版生效日期的前一天；留空表示没有截止。"),
    ), required=False, help="可以用积分兑换的奖品：物质奖励、精神奖励（表彰）、优先服务。"
        "同一编码可以有几行（几个版本），各管一段日期，互不重叠。", id_column="code"),
    Sheet("redemptions", "兑换记录", (
        Column("redemption_id", "编号", Kind.ID, required=True, mandatory=True, width=12,
               help="兑换记录的编号，如 D00001。不能重复。"),
        Column("date", "日期", Kind.DATE, required=True, mandatory=True, width=12, help="兑换日期。"),
        Column("resident_id", "居民编号", Kind.ID, required=True, mandatory=True,
               ref=("residents", "resident_id"), width=12, help="兑换人的居民编号。"),
        Column("reward_code", "奖品编码", Kind.ID, required=True, mandatory=True,
               ref=("rewards", "code"), width=10, help="兑换的奖品编码。"),
        Column("quantity", "数量", Kind.INT, default=1, width=8, help="兑换几份；留空按 1 计。"),
        Column("handled_by", "经办人", Kind.ID, ref=("staff", "staff_id"), width=10,
               help="经办的工作人员工号。"),
    ), required=False, help="居民用积分兑换奖品的记录。", id_column="redemption_id"),
    Sheet("appeals", "申诉", (
        Column("appeal_id", "编号", Kind.ID, required=True, mandatory=True, width=10,
               help="申诉的编号，如 A0001。不能重复。"),
        Column("date", "日期", Kind.DATE, required=True, mandatory=True, width=12, help="提出申诉的日期。"),
        Column("resident_id", "居民编号", Kind.ID, required=True, mandatory=True,
               ref=("residents", "resident_id"), width=12, help="申诉人的居民编号。"),
        Column("entry_id", "记录编号", Kind.ID, required=True, mandatory=True, width=12,
               help="被申诉的积分记录编号。"),
        Column("reason", "理由", Kind.TEXT, width=30, help="申诉理由（不会公开）。"),
        Column("status", "状态", Kind.CHOICE, required=True, mandatory=True, choices=APPEAL_STATUS,
               width=8, help="受理中、维持 或 更正。"),
        Column("corrected_points", "更正分值", Kind.INT, width=10,
               help="状态为“更正”时填写更正后的分值（0 或正整数）。"),
        Column("resolved_date", "处理日期", Kind.DATE, width=12, help="处理完毕的日期。"),
    ), required=False, help="居民对积分记录的申诉和处理结果。更正积分请在这里登记，不要改原记录。", id_column="appeal_id"),
)

SHEETS_BY_KEY: dict[str, Sheet] = {s.key: s for s in SHEETS}

SETTINGS: tuple[Setting, ...] = (
    Setting("site_name", "名称", Kind.TEXT, "社区积分", help="网站和卡片上显示的名称。"),
    Setting("organization", "单位", Kind.TEXT, "", help="主办单位，如 某某街道综治中心。"),
    Setting("site_url", "网站地址", Kind.TEXT, "",
            help="网站的地址，如 https://jf.example.cn/ ；二维码卡片用它生成链接。"),
    Setting("decay_after_months", "积分有效期(月)", Kind.INT, 12, 0, 600,
            help="积分多少个月未使用就按衰减比例减少；0 表示不衰减。"),
    Setting("decay_factor", "衰减比例", Kind.DECIMAL, Decimal("0.5"), Decimal("0"), Decimal("1"),
            help="到期时积分乘以这个比例，如 0.5 表示减半。"),
    Setting("annual_cap", "年度上限", Kind.INT, 0, 0, None,
            help="每位居民每个自然年最多得多少分；0 表示不限。"),
    Setting("min_group_size", "最小公布人数", Kind.INT, 5, 1, 1000,
            help="少于这个人数的统计不公布，保护个人隐私。"),
    Setting("notice_days", "公示天数", Kind.INT, 7, 1, 366,
            help="积分公示显示最近多少天的记录，也是申诉期限。"),
    Setting("ranking_size", "排行榜人数", Kind.INT, 20, 1, 1000, help="排行榜显示前多少名。"),
    Setting("pseudonym_secret", "化名密钥", Kind.TEXT, "",
            help="生成居民化名用的密钥（32 位以上的十六进制数），kit init 自动填写。不要手改、不要外传；"
                 "万一泄露，用 kit rotate-secret 更换。"),
    Setting("retired_secrets", "旧化名密钥", Kind.TEXT, "",
            help="kit rotate-secret 自动填写：换下来的旧密钥，用来核对已公示的记录。不要修改、删除或外传。"),
)

SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}

_BRACKETS = str.maketrans({"【": "[", "】": "]", "〔": "(", "〕": ")"})
_SPACE = re.compile(r"\s+")


def normalize_label(text: object) -> str:
    """Fold a sheet name or header for matching: case, spaces and full-width ignored."""
    folded = unicodedata.normalize("NFKC", str(text)).translate(_BRACKETS)
    return _SPACE.sub("", folded).casefold()


def labels(item: Sheet | Column | Setting) -> tuple[str, str]:
    return normalize_label(item.zh), normalize_label(item.key)


def choice_lookup(choices: tuple[Choice, ...]) -> dict[str, str]:
    """Every accepted spelling (folded) → the choice key."""
    table: dict[str, str] = {}
    for choice in choices:
        for spelling in (choice.key, choice.zh, *choice.aliases):
            table[normalize_label(spelling)] = choice.key
    return table


def choice_label(choices: tuple[Choice, ...], key: str) -> str:
    for choice in choices:
        if choice.key == key:
            return choice.zh
    raise KeyError(key)
