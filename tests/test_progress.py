"""Long steps are announced with their row counts; only a terminal shows the bar."""

from __future__ import annotations

import copy
import datetime as dt

from kit.pipeline import open_source, validate

from tests.conftest import BASE, OPTIONAL, make_project, run_kit, write_xlsx


def test_validate_names_each_step_with_its_row_counts(tmp_path):
    sheets = {**copy.deepcopy(BASE), **copy.deepcopy(OPTIONAL)}
    for n in range(3, 41):
        sheets["积分记录"].append([f"E{n}", dt.date(2026, 4, 1), None, "R2", "XL", 1, None, "S1", "S2", None, "通过"])
    steps: list[str] = []
    result = validate(open_source(write_xlsx(tmp_path / "b.xlsx", sheets)), dt.date(2026, 6, 30), steps.append)
    assert len(result.book.entries) == 40
    read = [s for s in steps if s.startswith("读取工作表")]
    assert read[:3] == ["读取工作表“设置”", "读取工作表“网格”", "读取工作表“工作人员”"]
    assert "读取工作表“积分记录”" in read
    total = sum(len(rows) - 1 for rows in sheets.values())
    assert f"逐行核对 {total:,} 行" in steps
    assert "核对编号引用（40 条积分记录、2 位居民）" in steps
    assert steps[-1] == "计算积分（40 条积分记录、1 条兑换）"


def test_no_bar_in_output_that_goes_to_a_file(tmp_path):
    root = make_project(tmp_path / "社区", {**copy.deepcopy(BASE)})
    result = run_kit(root, "balances", "--as-of", "2026-06-30", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "逐行核对" not in result.output and "读取工作表" not in result.output
    assert result.output.lstrip("\ufeff").startswith("居民编号,姓名")


def test_build_steps_name_their_counts(tmp_path):
    import kit.site
    from kit.project import load_project

    sheets = {**copy.deepcopy(BASE), **copy.deepcopy(OPTIONAL)}
    sheets["居民"][1][6] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    root = make_project(tmp_path / "社区", sheets)
    validated = validate(open_source(root / "sheets" / "ledger.xlsx"), dt.date(2026, 6, 30))
    steps: list[str] = []
    kit.site.build_site(load_project(root), validated.book, validated.ledger, validated.tables, steps.append)
    assert steps[0] == "核对账本指纹（2 条计分记录）"
    assert "加密个人积分（1 张积分卡）" in steps
    assert steps[-1] == "发布（替换旧网站）"
