"""An unchanged rebuild skips its work; any changed input builds again."""

from __future__ import annotations

import copy
import datetime as dt

from kit.cache import build_digest, file_digest

from tests.conftest import BASE, OPTIONAL, make_project, run_kit, write_xlsx

SHEETS = {**copy.deepcopy(BASE), **copy.deepcopy(OPTIONAL)}
DAY = ("--as-of", "2026-06-30")
UP_TO_DATE = "网站已是最新"


def _project(tmp_path):
    root = make_project(tmp_path / "社区", SHEETS)
    first = run_kit(root, "build", *DAY)
    assert first.exit_code == 0, first.output
    assert UP_TO_DATE not in first.output
    return root


def _site_state(root):
    return {p.relative_to(root / "site").as_posix(): p.stat().st_mtime_ns
            for p in (root / "site").rglob("*") if p.is_file()}


def test_unchanged_rebuild_is_skipped_and_leaves_the_site_alone(tmp_path):
    root = _project(tmp_path)
    before = _site_state(root)
    again = run_kit(root, "build", *DAY)
    assert again.exit_code == 0, again.output
    assert UP_TO_DATE in again.output and "2026-06-30" in again.output
    assert _site_state(root) == before


def test_a_new_row_builds_again(tmp_path):
    root = _project(tmp_path)
    sheets = copy.deepcopy(SHEETS)
    sheets["积分记录"].append(["E3", dt.date(2026, 6, 1), None, "R2", "XL", 1, None, "S1", "S2", None, "通过"])
    write_xlsx(root / "sheets" / "ledger.xlsx", sheets)
    again = run_kit(root, "build", *DAY)
    assert again.exit_code == 0, again.output
    assert UP_TO_DATE not in again.output
    assert "✓ 网站已更新" in again.output


def test_another_day_a_changed_page_or_a_touched_site_builds_again(tmp_path):
    root = _project(tmp_path)
    assert UP_TO_DATE not in run_kit(root, "build", "--as-of", "2026-07-01").output
    assert UP_TO_DATE in run_kit(root, "build", "--as-of", "2026-07-01").output
    page = next((root / "docs").rglob("*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\n补充一句。\n", encoding="utf-8")
    assert UP_TO_DATE not in run_kit(root, "build", "--as-of", "2026-07-01").output
    (root / "site" / "index.html").write_text("改坏了", encoding="utf-8")
    rebuilt = run_kit(root, "build", "--as-of", "2026-07-01")
    assert UP_TO_DATE not in rebuilt.output
    assert "改坏了" not in (root / "site" / "index.html").read_text(encoding="utf-8")


def test_a_deleted_site_or_a_declared_rewrite_builds_again(tmp_path):
    import shutil

    root = _project(tmp_path)
    shutil.rmtree(root / "site")
    assert UP_TO_DATE not in run_kit(root, "build", *DAY).output
    assert (root / "site" / "index.html").is_file()
    rewrite = run_kit(root, "build", *DAY, "--rewrite-history", "测试", "--yes")
    assert rewrite.exit_code == 0, rewrite.output
    assert UP_TO_DATE not in rewrite.output


def test_the_digest_covers_every_input(tmp_path):
    root = make_project(tmp_path / "社区", SHEETS)
    book = root / "sheets" / "ledger.xlsx"
    day = dt.date(2026, 6, 30)
    base = build_digest(root, book, day, {"skip_invalid": False})
    assert build_digest(root, book, day, {"skip_invalid": False}) == base
    assert build_digest(root, book, day, {"skip_invalid": True}) != base
    assert build_digest(root, book, day + dt.timedelta(days=1), {"skip_invalid": False}) != base
    (root / "kit.toml").write_text((root / "kit.toml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = build_digest(root, book, day, {"skip_invalid": False})
    assert changed != base
    (root / "templates" / "pages").mkdir(parents=True)
    (root / "templates" / "pages" / "home.md.j2").write_text("首页", encoding="utf-8")
    assert build_digest(root, book, day, {"skip_invalid": False}) != changed
    before = file_digest(book)
    with open(book, "ab") as fh:
        fh.write(b"\0")
    assert file_digest(book) != before


# --- the kept parse ---------------------------------------------------------------


def _checked(path, cache, steps=None):
    from kit.pipeline import open_source, validate

    return validate(open_source(path), dt.date(2026, 6, 30), (steps if steps is not None else []).append, cache)


def test_an_unchanged_workbook_is_not_read_again_and_gives_the_same_result(tmp_path):
    sheets = copy.deepcopy(SHEETS)
    sheets["积分记录"].append(["E3", "2026-13-01", None, "R9", "XL", 1, None, "S1", "S2", None, "通过"])  # errors too
    sheets["申诉"].append(["A2", dt.date(2026, 3, 8), "R1", "E3", None, "待处理", None, None])
    book = write_xlsx(tmp_path / "b.xlsx", sheets)
    cache = tmp_path / ".kit-cache"
    fresh = _checked(book, None)
    first_steps, second_steps = [], []
    first = _checked(book, cache, first_steps)
    second = _checked(book, cache, second_steps)
    assert any(s.startswith("读取工作表") for s in first_steps)
    assert not any(s.startswith("读取工作表") for s in second_steps)
    assert len(list(cache.glob("parsed-*.pickle"))) == 1
    for result in (first, second):
        assert result.problems == fresh.problems
        assert result.book == fresh.book
        assert {k: a.balance for k, a in result.ledger.accounts.items()} == \
               {k: a.balance for k, a in fresh.ledger.accounts.items()}
        assert result.tables.layout("entries") == fresh.tables.layout("entries")
    codes = {p.code for p in second.problems}
    assert {"bad-date", "invalid-reference"} <= codes


def test_a_changed_workbook_or_a_broken_cache_is_read_again(tmp_path):
    book = write_xlsx(tmp_path / "b.xlsx", SHEETS)
    cache = tmp_path / ".kit-cache"
    assert _checked(book, cache).ledger.accounts["R1"].balance == 20  # 30 by appeal A1, 10 redeemed
    changed = copy.deepcopy(SHEETS)
    changed["积分记录"].append(["E3", dt.date(2026, 3, 9), None, "R1", "XL", 1, None, "S1", "S2", None, "通过"])
    write_xlsx(book, changed)
    steps = []
    assert _checked(book, cache, steps).ledger.accounts["R1"].balance == 30
    assert any(s.startswith("读取工作表") for s in steps)
    assert len(list(cache.glob("parsed-*.pickle"))) == 1  # the old file's parse is gone
    kept = next(cache.glob("parsed-*.pickle"))
    kept.write_bytes(kept.read_bytes()[:100])
    steps = []
    assert _checked(book, cache, steps).ledger.accounts["R1"].balance == 30
    assert any(s.startswith("读取工作表") for s in steps)
