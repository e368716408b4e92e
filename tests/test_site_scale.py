"""At sub-district scale the pages that list residents come in parts, and the search
index does not grow with the number of residents."""

from __future__ import annotations

import copy
import datetime as dt
import json

import kit.site

from tests.conftest import BASE, make_project, run_kit

DAY = ("--as-of", "2026-06-30")


def _sheets(residents: int, grids: int = 2) -> dict:
    sheets = copy.deepcopy(BASE)
    sheets["网格"] = [sheets["网格"][0]] + [[f"G{g}", f"第{g}网格", "幸福社区"] for g in range(1, grids + 1)]
    sheets["居民"] = [sheets["居民"][0]] + [
        [f"R{n}", f"居民{n:03d}", f"G{n % grids + 1}", 1970, None, "否", None, "在册"] for n in range(1, residents + 1)]
    sheets["积分记录"] = [sheets["积分记录"][0]] + [
        [f"E{n}", dt.date(2026, 6, 28), dt.time(9, 0), f"R{n}", "XL", 1, None, "S1", "S2", None, "通过"]
        for n in range(1, residents + 1)]
    return sheets


def test_notice_and_ranking_come_in_parts_linked_and_out_of_the_nav(tmp_path, monkeypatch):
    monkeypatch.setattr(kit.site, "PAGE_ROWS", 10)
    monkeypatch.setattr(kit.site, "PAGE_GRIDS", 2)
    root = make_project(tmp_path / "街道", _sheets(residents=25, grids=5))
    result = run_kit(root, "build", *DAY)
    assert result.exit_code == 0, result.output
    site = root / "site"
    pages = [site / "notice" / "index.html", site / "notice-2" / "index.html", site / "notice-3" / "index.html"]
    assert all(p.is_file() for p in pages) and not (site / "notice-4").exists()
    texts = [p.read_text(encoding="utf-8") for p in pages]
    assert [t.count("<td>公示中</td>") for t in texts] == [10, 10, 5]
    assert "第 1 / 3 页" in texts[0] and 'href="../notice-2/"' in texts[0]
    assert 'href="../notice/"' in texts[1] and 'href="../notice-3/"' in texts[1]
    assert "下一页" not in texts[2]
    ranking = [site / "ranking" / "index.html", site / "ranking-2" / "index.html", site / "ranking-3" / "index.html"]
    boards = [p.read_text(encoding="utf-8") for p in ranking]
    assert "全社区 · 2026 年" in boards[0] and "全社区" not in boards[1]
    assert [sum(f"第{g}网格 · 2026 年<" in b for g in range(1, 6)) for b in boards] == [2, 2, 1]
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "notice-2" not in home and "ranking-2" not in home  # later parts are not in the nav


def test_search_index_does_not_grow_with_residents(tmp_path):
    sizes = {}
    for residents in (20, 400):
        root = make_project(tmp_path / f"c{residents}", _sheets(residents))
        result = run_kit(root, "build", *DAY)
        assert result.exit_code == 0, result.output
        index = (root / "site" / "search" / "search_index.json").read_text(encoding="utf-8")
        locations = {doc["location"].split("#")[0] for doc in json.loads(index)["docs"]}
        assert not any(loc.startswith(("notice", "ranking", "me/")) for loc in locations), locations
        assert "居民0" not in index
        sizes[residents] = len(index.encode())
    assert abs(sizes[400] - sizes[20]) < 0.02 * sizes[20], sizes
