"""Problems found in a workbook: the catalogue of stable codes and zh messages.

A problem points at a place by schema keys (sheet key, spreadsheet row, column
key). The CLI turns keys into the names the staff see in their file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str  # short zh label for docs and tables
    template: str  # zh message; says what is wrong and how to fix it
    summary: str = ""  # zh meaning of many warnings of this code, shown once for all of them


@dataclass(frozen=True, slots=True)
class Problem:
    sheet: str  # sheet key
    row: int | None  # spreadsheet row number as shown in the file
    column: str | None  # column key (or setting key on the settings sheet)
    code: str
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


E, W = Severity.ERROR, Severity.WARNING

CODES: tuple[Code, ...] = (
    # cell values
    Code("missing-value", E, "必填项为空", "这一格不能为空，请填写{label}。"),
    Code("formula-error", E, "公式出错", "这一格的公式算出了错误“{value}”，请改正公式或直接填写数值。"),
    Code("bad-date", E, "日期格式不对", "“{value}”不是有效的日期，请写成 2026-03-05、2026/3/5 或 2026年3月5日。"),
    Code("date-out-of-range", E, "日期不合理", "日期 {value} 不合理，请检查年份（应在 2000 年到 2099 年之间）。"),
    Code("bad-time", E, "时间格式不对", "“{value}”不是有效的时间，请写成 20:30 这样的 24 小时制时间。"),
    Code("bad-number", E, "不是数字", "“{value}”不是数字，请只填写数字，如 2 或 1.5。"),
    Code("not-integer", E, "应为整数", "“{value}”应为整数，请去掉小数部分。"),
    Code("number-too-large", E, "数字太大", "“{value}”太大了（积分表里的数字不会超过 {limit}），请核对是否多打了数字。"),
    Code("bad-yes-no", E, "是否填写不对", "“{value}”无法识别，请填写“是”或“否”。"),
    Code("bad-choice", E, "选项不对", "“{value}”不是可选的值，请从下拉列表中选择：{options}。"),
    Code("bad-year", W, "出生年份不对", "“{value}”不是合理的出生年份，请填写四位数年份，如 1956。此项已按空白处理。",
         "出生年份不是四位数年份，已按空白处理"),
    Code("bad-phone", W, "手机号码不对", "“{value}”看起来不是有效的电话号码，请核对。",
         "电话号码看起来不对，请核对"),
    Code("bad-card-token", W, "卡号不对",
         "卡号“{value}”不是 kit cards 生成的卡号，这位居民暂时无法扫码查看积分。请清空这一格，再运行 kit cards 生成新卡。",
         "卡号不是 kit cards 生成的，这些居民暂时无法扫码；清空后用 kit cards 生成新卡"),
    Code("negative-value", E, "不能为负数", "“{value}”不能是负数，请填写 0 或正数。"),
    Code("non-positive-points", E, "分值应为正数", "分值“{value}”应为大于 0 的整数。"),
    Code("non-positive-quantity", E, "数量应大于 0", "数量“{value}”应大于 0；如果是登记错误，请把状态改为“驳回”。"),
    Code("non-positive-cost", E, "所需积分应为正数", "所需积分“{value}”应为大于 0 的整数。"),
    Code("bad-multiplier", E, "倍数不对", "倍数“{value}”应大于 0，如 2 表示双倍。"),
    # ids and references
    Code("duplicate-id", E, "编号重复", "编号“{value}”与第 {first_row} 行重复，请改成唯一的编号。本行不计入。"),
    Code("duplicate-column", E, "列标题重复", "表头“{value}”出现了不止一次，只使用第一列，请删除或改名重复的列。"),
    Code("unknown-grid", E, "网格不存在", "“网格”表中没有编号“{value}”的网格。请先在“网格”表添加，或从下拉列表选择。"),
    Code("unknown-resident", E, "居民不存在", "“居民”表中没有编号“{value}”的居民。请核对编号，或先在“居民”表登记。"),
    Code("unknown-rule", E, "规则不存在", "“积分规则”表中没有编码“{value}”的规则。请从下拉列表选择。"),
    Code("unknown-reward", E, "奖品不存在", "“奖品”表中没有编码“{value}”的奖品。请从下拉列表选择。"),
    Code("unknown-staff", E, "工作人员不存在", "“工作人员”表中没有工号“{value}”。请核对工号，或先在“工作人员”表登记。"),
    Code("unknown-entry", E, "记录不存在", "“积分记录”表中没有编号“{value}”的记录。请核对被申诉的记录编号。"),
    Code("invalid-reference", E, "引用的行有错误",
         "“{value}”在“{target}”表第 {target_row} 行，但那一行本身有错误；请先改正那一行，这里才能计入。"),
    Code("unknown-category", W, "类别没有规则", "类别“{value}”没有任何积分规则使用，这条加分不会生效。请核对类别名称。",
         "加分活动的类别没有任何规则使用，不会生效"),
    Code("duplicate-card-token", E, "卡号重复", "卡号与第 {first_row} 行相同。每位居民的卡号必须不同，请清空本格后用 kit cards 重新生成。"),
    Code("inactive-rule", W, "规则已停用", "规则“{value}”已停用，这条记录不计分。如需计分，请在“积分规则”表把“启用”改为“是”。",
         "用了已停用的规则，这些记录不计分"),
    Code("blank-entry-status", W, "记录没有填状态",
         "{count} 条记录没有填状态，按待审核处理，不计分（如{rows}）。审核后请填“通过”或“驳回”。",
         "没有填状态的记录按待审核处理"),
    Code("version-overlap", E, "版本日期重叠",
         "编码“{value}”的这一行（{period}）与第 {other_row} 行（{other_period}）的日期重叠，同一天只能有一个版本。"
         "停用日期是旧版用到的最后一天（含当天），新版的生效日期要在它之后，如旧版停用日期 {suggest_end}、新版生效日期 {suggest_start}。"
         "本行不计入。"),
    Code("version-dates-reversed", E, "版本日期先后颠倒", "停用日期 {value} 早于生效日期 {start}，请核对。本行不计入。"),
    Code("rule-not-in-force", E, "这天没有有效的规则",
         "规则“{value}”在 {date} 这天没有有效的版本（“积分规则”表中它的版本：{periods}）。请核对日期，"
         "或在“积分规则”表补上这段日期的版本。这条记录不计入。"),
    Code("reward-not-in-force", E, "这天没有有效的奖品",
         "奖品“{value}”在 {date} 这天没有有效的版本（“奖品”表中它的版本：{periods}）。请核对日期，"
         "或在“奖品”表补上这段日期的版本。这条兑换不计入。"),
    # review (separation of duties)
    Code("review-missing", E, "缺少审核人", "已通过的记录必须填写审核人1，请补填或把状态改为“待审核”。"),
    Code("second-review-missing", E, "缺少第二审核人", "规则“{value}”需要双人审核，请填写审核人2，或把状态改为“待审核”。"),
    Code("self-review", E, "自己审核自己登记的记录", "审核人“{value}”就是登记人，登记人不能审核自己登记的记录，请换一位审核人。"),
    Code("same-reviewer", E, "两位审核人相同", "审核人2与审核人1都是“{value}”，双人审核需要两位不同的审核人。"),
    Code("reviewer-not-allowed", E, "无审核权限", "工号“{value}”的角色是登记员，没有审核权限；审核人必须是审核员或管理员。"),
    # dates
    Code("future-date", W, "日期晚于统计日", "日期 {value} 晚于统计日 {as_of}，本次不计入。",
         "日期晚于统计日，本次不计入"),
    Code("bad-date-range", E, "日期先后颠倒", "结束日期 {value} 早于开始日期 {start}，请核对。"),
    # appeals
    Code("missing-correction", E, "缺少更正分值", "状态为“更正”的申诉必须填写更正分值（0 或正整数）。"),
    Code("appeal-resident-mismatch", W, "申诉人与记录不符", "申诉人“{value}”不是记录 {entry_id} 的居民“{entry_resident}”，请核对。",
         "申诉人与被申诉记录的居民不符，请核对"),
    Code("resolved-before-appeal", E, "处理日期早于申诉日期", "处理日期 {value} 早于申诉日期 {start}，请核对。"),
    Code("missing-resolved-date", W, "缺少处理日期",
         "已处理的申诉请填写处理日期。没有处理日期的申诉按“受理中”对待：更正不会生效，记录显示为申诉中。",
         "已处理的申诉没有处理日期，按受理中对待"),
    # the ledger
    Code("capped-entry", W, "超过上限被截去", "这条记录应得 {base} 分，因{cap}只计 {awarded} 分（少计 {cut} 分）。",
         "超出每日或年度上限的部分没有计分"),
    Code("redemption-overdraft", E, "积分不足",
         "这次兑换需要 {cost} 分，但居民“{resident}”在 {date} 只有 {balance} 分可用，这条兑换不计入。请核对奖品和数量。"),
    Code("out-of-stock", E, "超出库存",
         "奖品“{reward}”库存 {stock} 份，之前已兑换 {used} 份，这次再兑换 {quantity} 份就超出库存，这条兑换不计入。请核对库存或数量。"),
    Code("appeal-uncounted-entry", W, "更正的记录没有计分",
         "被更正的记录“{value}”没有计分（待审核、驳回或无效），这次更正不会生效。如需给分，请先把记录审核通过。",
         "被更正的记录没有计分，更正不会生效"),
    # settings
    Code("unknown-setting", W, "未知设置项", "“{value}”不是已知的设置项，已忽略。可用的设置项：{options}。",
         "不认识的设置项，已忽略"),
    Code("bad-setting", E, "设置值不对", "设置“{label}”的值“{value}”不对：{reason}。"),
    Code("weak-pseudonym-secret", E, "缺少化名密钥",
         "“设置”表中没有“化名密钥”。kit init 创建的表格已自动填好；如果被删掉了，请运行 kit rotate-secret "
         "生成一个新的（不要自己编一个：自己想的密钥能被人从公开的网站上试出来）。"),
    Code("public-pseudonym-secret", W, "化名密钥是公开的演示密钥",
         "“化名密钥”是积分工具包演示表格里的公开密钥，任何人都能用它算出化名对应的居民。演示以外不能用它发布网站"
         "或打印积分卡：请运行 kit rotate-secret 换成新的密钥。",
         "化名密钥是公开的演示密钥，请运行 kit rotate-secret"),
    Code("minor-name-consent", W, "未满 14 岁不公开姓名",
         "出生年份 {year}：这位居民可能不满 14 周岁。按《个人信息保护法》，网站上不公开儿童的姓名，"
         "即使这里填了“是”，排行榜上也只显示化名。",
         "可能不满 14 周岁的居民，网站上不公开姓名"),
    Code("duplicate-setting", W, "设置项重复", "设置“{label}”出现了不止一次，使用第 {first_row} 行的值。",
         "设置项重复，使用第一次出现的值"),
)

CATALOGUE: dict[str, Code] = {c.code: c for c in CODES}


def problem(code: str, sheet: str, row: int | None, column: str | None, hint: str = "",
            **params: object) -> Problem:
    """Make a problem from the catalogue; params fill the message template, and a hint
    (“是不是 XL01（治安巡逻）？”) follows its first sentence.

    Text quoted from a cell loses its control and bidi characters: a message goes to
    the terminal, into xlsx comments and into JSON, where they would do harm."""
    entry = CATALOGUE[code]
    shown = {key: visible(value) if isinstance(value, str) else value for key, value in params.items()}
    message = entry.template.format(**shown)
    if hint:
        first, _, rest = message.partition("。")
        message = f"{first}，{visible(hint)}{rest}"
    return Problem(sheet, row, column, code, entry.severity, message)


# C0/C1 controls except tab and newline, and the bidi controls that reorder what is shown
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """text with every control or bidi character shown as �."""
    return _HIDDEN.sub("\ufffd", text)
