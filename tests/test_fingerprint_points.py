"""Published points never change silently (issue 17): the ledger fingerprint covers the
points of every record, rule changes are versions, and as-of dates cannot move behind
the published history or ahead of today without a word.

Real projects, real xlsx files, real builds, as in test_fingerprint.py (whose workbook
this file reuses): built as of 2026-06-30, then changed and built as of 2026-07-15.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from kit import merkle
from kit.counter import statement
from kit.fingerprint import current_leaves, hash_text
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from kit.verify import reader, verify_site
from tests.conftest import make_project, run_kit
from tests.test_fingerprint import (APPENDED, APPENDED_REDEMPTION, AS_OF, ENTRIES, LATER, REDEMPTIONS, TOKENS, build,
                                    built, checkpoints, copy_project, personal, published_leaves, tree_hashes,
                                    workbook, write, _own_records)

D = dt.date
RULE_HEADER = ["编码", "名称", "类别", "分值", "单位", "每日上限", "双人审核", "适合人群", "说明", "启用", "生效日期", "停用日期"]
XL = ["XL", "治安巡逻", "平安巡防", 10, "小时", 40, "否", "所有居民", None, "是"]
TJ = ["TJ", "矛盾调解", "矛盾调解", 20, "次", None, "是", None, None, "是"]
ZY = ["ZY", "志愿服务", "志愿服务", 5, "小时", 20, "否", None, None, "是"]


def sheets_with(rules=None, entries=ENTRIES + APPENDED, redemptions=REDEMPTIONS + [APPENDED_REDEMPTION],
                settings=(), rewards=None, bonuses=None) -> dict:
    """The test_fingerprint workbook with the appended rows and some sheets replaced."""
    sheets = workbook(entries=entries, redemptions=redemptions)
    if rules is not None:
        sheets["积分规则"] = [RULE_HEADER] + [list(r) + [None] * (12 - len(r)) for r in rules]
    for label, value in settings:
        found = [row for row in sheets["设置"] if row[0] == label]
        if found:
            found[0][1] = value
        else:
            sheets["设置"].append([label, value])
    if rewards is not None:
        sheets["奖品"] = [["编码", "名称", "类型", "所需积分", "库存", "说明", "价值(元)", "生效日期", "停用日期"]] + rewards
    if bonuses is not None:
        sheets["加分规则"] = [["名称", "适用类别", "适用编码", "开始日期", "结束日期", "开始时间", "结束时间", "倍数"]] + bonuses
    return sheets


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """Built once as of 2026-06-30 (checkpoint 1, 11 leaves)."""
    root = make_project(tmp_path_factory.mktemp("points") / "base", workbook())
    built(root)
    return root


@pytest.fixture
def project(published, tmp_path) -> Path:
    return copy_project(published, tmp_path / "project")


def refused(result) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "history-rewritten" in result.output
    return " ".join(result.output.split())


def unchanged_after(project: Path, run) -> str:
    before = tree_hashes(project / "site")
    output = run()
    assert tree_hashes(project / "site") == before  # byte-identical
    return output


# --------------------------------------------------------------------------- re-pricing is refused


def test_a_rule_repriced_in_place_is_refused_naming_the_rule_row(project):
    """XL edited from 10 to 12 points: every published patrol would be re-priced."""
    write(project, sheets_with(rules=[XL[:3] + [12] + XL[4:], TJ, ZY]))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "已经公示的积分变了" in output
    assert "“积分记录”表第 2 行（EFP01）公示时计 20 分，现在算出 24 分：“积分规则”表第 2 行的分值从 10 改成了 12" in output
    assert "新加一行同样的编码" in output and "生效日期" in output
    assert "已经公示的记录被修改或删除了" not in output  # only re-pricing, said as such


def test_a_new_version_keeps_the_published_points(project):
    """The same change done right: XL stops on 2026-06-30, a new XL row gives 12 from 2026-07-01."""
    rules = [XL + [None, D(2026, 6, 30)], TJ, ZY, XL[:3] + [12] + XL[4:] + [D(2026, 7, 1), None]]
    write(project, sheets_with(rules=rules))
    old = published_leaves(project / "site")
    built(project, LATER)
    leaves = published_leaves(project / "site")
    assert leaves[:11] == old
    result = validate(open_source(project / DEFAULT_WORKBOOK), LATER)
    awards = {a.entry.entry_id: (a.awarded, a.rule.row) for a in result.ledger.awards.values()}
    assert awards["EFP01"] == (20, 2) and awards["EFP08"] == (10, 2)  # before: 10 a hour, row 2
    assert awards["EFP10"] == (24, 5)  # 2026-07-02, 2 hours at 12, row 5
    lines = [line.text for line in statement(result.book, result.ledger, "RFP003").lines]
    assert "治安巡逻 2 小时〔按“积分规则”表第 5 行（自 2026-07-01 起）：每小时 12 分〕" in lines
    assert "治安巡逻 1 小时〔按“积分规则”表第 2 行（至 2026-06-30）：每小时 10 分〕" in lines
    menu = (project / "site" / "menu" / "index.html").read_text(encoding="utf-8")
    assert "12 分 / 小时" in menu


def test_overlapping_versions_stop_the_build_at_the_cell(project):
    rules = [XL + [None, D(2026, 7, 1)], TJ, ZY, XL[:3] + [12] + XL[4:] + [D(2026, 7, 1), None]]
    write(project, sheets_with(rules=rules))
    result = build(project, LATER)
    assert result.exit_code == 1
    assert "version-overlap" in result.output and "K5" in result.output  # 生效日期 of row 5
    # the entry of 2026-07-02 is told its version's row has an error, not that no version exists
    assert "invalid-reference" in result.output and "rule-not-in-force" not in result.output


def test_a_reward_cost_edited_in_place_is_refused_and_a_version_is_not(project):
    base = [["JFP1", "环保购物袋", "物质", 15, 100, None, None], ["JFP2", "爱心鸡蛋", "物质", 30, 100, None, None]]
    edited = copy.deepcopy(base)
    edited[0][3] = 20
    write(project, sheets_with(rewards=edited))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "“兑换记录”表第 2 行（DFP1）公示时花了 15 分，现在算出 20 分：“奖品”表第 2 行的所需积分从 15 改成了 20" in output
    versioned = [base[0] + [None, D(2026, 6, 30)], base[1], ["JFP1", "环保购物袋", "物质", 20, 100, None, None,
                                                             D(2026, 7, 1), None]]
    write(project, sheets_with(rewards=versioned))
    built(project, LATER)
    result = validate(open_source(project / DEFAULT_WORKBOOK), LATER)
    assert result.ledger.accounts["RFP003"].redeemed == 20  # DFP3 on 2026-07-10 at the new price


def test_an_annual_cap_that_cuts_published_points_is_refused(project):
    write(project, sheets_with(settings=[("年度上限", 30)]))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "“设置”表的“年度上限”改过了" in output


def test_a_bonus_that_reprices_published_entries_is_refused(project):
    night = [["夜间巡逻双倍", None, "XL", None, None, dt.time(20, 0), dt.time(6, 0), 2]]
    write(project, sheets_with(bonuses=night))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "“积分记录”表第 2 行（EFP01）公示时计 20 分，现在算出 40 分：“加分规则”表改过了，倍数从 ×1 变成 ×2" in output


def test_a_decay_change_that_reaches_published_balances_is_refused(project):
    """Published on 2026-06-30 with the oldest points from 2026-03-05: with a 3-month validity they
    would have decayed on 2026-06-05, inside the published history."""
    write(project, sheets_with(settings=[("积分有效期(月)", 3)]))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "积分衰减设置改过了" in output and "公示时：有效期 12 个月，到期乘以 0.5" in output
    assert "现在：有效期 3 个月" in output


def test_a_decay_change_nothing_published_has_reached_is_declared(project):
    """12 → 24 months: no published points could have decayed under either; the change is
    published as a note in a new checkpoint, and later builds hold it."""
    write(project, sheets_with(entries=ENTRIES, redemptions=REDEMPTIONS, settings=[("积分有效期(月)", 24)]))
    built(project, LATER)
    cps = checkpoints(project / "site")
    assert len(cps) == 2 and cps[1]["size"] == cps[0]["size"]
    assert cps[1]["terms"] == {"decay_after_months": 24, "decay_factor": "0.5"}
    assert "积分衰减设置改为：有效期 24 个月，到期乘以 0.5" in cps[1]["note"]
    assert verify_site(reader(str(project / "site"))).broken is None


# --------------------------------------------------------------------------- as-of dates


def test_an_earlier_as_of_builds_nothing_and_is_not_a_rewrite(project):
    before = tree_hashes(project / "site")
    result = build(project, D(2026, 5, 1))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "as-of-before-published" in text and "history-rewritten" not in text and "--rewrite-history" not in text
    assert "统计日 2026-05-01 早于网站上次发布的日期 2026-06-30" in text
    assert tree_hashes(project / "site") == before
    assert build(project, AS_OF).exit_code == 0  # the same day again is fine


def test_a_future_as_of_warns_and_needs_future_to_publish(project):
    ahead = dt.date.today() + dt.timedelta(days=40)
    before = tree_hashes(project / "site")
    result = run_kit(project, "build", "--as-of", ahead.isoformat())  # without the helper's --future
    assert result.exit_code == 2, result.output
    assert "future-as-of" in result.output and f"统计日 {ahead} 晚于今天" in result.output
    assert tree_hashes(project / "site") == before
    checked = run_kit(project, "validate", "--as-of", ahead.isoformat())
    assert checked.exit_code == 0 and f"提醒：统计日 {ahead} 晚于今天" in checked.output
    published = build(project, ahead)  # the helper says --future
    assert published.exit_code == 0, published.output
    assert ahead.isoformat() in (project / "site" / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- sites from before v3


def as_old_site(project: Path, fmt: str) -> list[bytes]:
    """Rewrite project/site/ledger as the kit wrote it before v3 for the same data: one
    checkpoint over the leaves without points (hex for v1), and a row map without details."""
    result = validate(open_source(project / DEFAULT_WORKBOOK), AS_OF)
    leaves = current_leaves(result.book, result.ledger)
    hashes = [merkle.leaf_hash(leaf.salt + leaf.legacy_text.encode()) for leaf in leaves]
    write_hash = (lambda h: h.hex()) if fmt == "kit-ledger-v1" else hash_text
    folder = project / "site" / "ledger"
    checkpoint = {"number": 1, "date": AS_OF.isoformat(), "size": len(hashes), "root": write_hash(merkle.root(hashes)),
                  "previous": None, "consistency": [], "rewrite": None}
    (folder / "checkpoints.json").write_text(json.dumps({"format": fmt, "checkpoints": [checkpoint]}), encoding="utf-8")
    (folder / "leaves.txt").write_text("".join(write_hash(h) + "\n" for h in hashes), encoding="ascii")
    rows = {h.hex(): {"id": leaf.ident, "row": leaf.row, "sheet": leaf.sheet} for h, leaf in zip(hashes, leaves)}
    (project / "private" / "ledger-rows.json").write_text(json.dumps(rows), encoding="utf-8")
    return hashes


@pytest.mark.parametrize("fmt", ["kit-ledger-v1", "kit-ledger-v2"])
def test_a_site_from_before_v3_is_carried_over_and_upgraded(project, fmt):
    old = as_old_site(project, fmt)
    assert verify_site(reader(str(project / "site"))).broken is None
    write(project, workbook(entries=ENTRIES + APPENDED, redemptions=REDEMPTIONS + [APPENDED_REDEMPTION]))
    built(project, LATER)
    site = project / "site"
    data = json.loads((site / "ledger" / "checkpoints.json").read_text(encoding="utf-8"))
    assert data["format"] == "kit-ledger-v3" and data["legacy_leaves"] == 11
    leaves = published_leaves(site)
    assert leaves[:11] == old  # the old leaves, as published
    # every record again with its points: 8 entries and 2 redemptions (the appeal leaf had no points
    # to add and is the same leaf), then the 4 new records
    assert len(leaves) == 11 + 10 + 4
    two = data["checkpoints"][1]
    assert "账本指纹升级" in two["note"] and two["terms"] == {"decay_after_months": 12, "decay_factor": "0.5"}
    verdict = verify_site(reader(str(site)))
    assert verdict.broken is None and any("账本指纹升级" in note for note in verdict.notes)
    for rid, token in TOKENS.items():  # a resident's file counts each record once
        fp = personal(site, token)["fingerprint"]
        assert fp["records"] == _own_records(rid, ENTRIES + APPENDED, REDEMPTIONS + [APPENDED_REDEMPTION])
        assert all(leaf["index"] >= 11 for leaf in fp["leaves"])
    # the next build carries both forms and adds nothing
    built(project, LATER)
    assert published_leaves(site) == leaves and len(checkpoints(site)) == 2
    # and now re-pricing is caught even for records first published without points
    write(project, sheets_with(rules=[XL[:3] + [12] + XL[4:], TJ, ZY]))
    output = unchanged_after(project, lambda: refused(build(project, LATER)))
    assert "“积分规则”表第 2 行的分值从 10 改成了 12" in output
