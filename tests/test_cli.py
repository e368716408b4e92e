"""The `kit` command as staff run it: exit codes, text and JSON output, projects.

Everything goes through click's CliRunner (the real command, no mocks) and one
test runs the installed console script in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli import cli
from kit.schema import SHEETS

from tests.conftest import write_xlsx

CJK = re.compile(r"[\u4e00-\u9fff]")
AS_OF = ["--as-of", "2026-06-30"]
JSON_KEYS = {"sheet", "row", "column", "code", "severity", "message"}


def run(*args: object):
    """Invoke `kit ARGS`; a wide terminal so that rich tables do not wrap."""
    runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], env={"COLUMNS": "300", "KIT_DEBUG": None})


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def line_with(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, (needle, text)
    return lines[0]


def assert_clean_failure(result, status: int = 2) -> str:
    """One Chinese message on stderr, the given exit status, no traceback."""
    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert CJK.search(result.stderr), result.stderr
    return result.stderr


def set_cell(book, sheet: str, row: int, header: str, value: object) -> None:
    rows = book[sheet]
    rows[row - 1][rows[0].index(header)] = value


def drop_column(book, sheet: str, header: str) -> None:
    rows = book[sheet]
    index = rows[0].index(header)
    for row in rows:
        del row[index]


# --- validate: exit status and text output ----------------------------------


def test_valid_workbook_exits_0_and_says_no_problems(xlsx, base):
    base["设置"].append(["网站地址", "https://jf.example.cn/"])
    path = xlsx(base)
    result = run("validate", path, *AS_OF)
    assert result.exit_code == 0, result.output
    line = line_with(result.stdout, "没有发现问题")
    assert path.name in line
    assert result.stderr == ""


def test_validate_reminds_that_the_site_address_is_missing(xlsx, base):
    result = run("validate", xlsx(base), *AS_OF)  # BASE has no 网站地址
    assert result.exit_code == 0
    assert "还没有填“网站地址”" in result.stderr and "发布网站" in result.stderr
    assert "网站地址" not in json.dumps(json.loads(run("validate", xlsx(base), *AS_OF, "--format", "json").stdout),
                                     ensure_ascii=False)  # a reminder, not a problem of a cell


def test_error_exits_1_and_names_sheet_cell_and_code(xlsx, base):
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    path = xlsx(base)
    result = run("validate", path, *AS_OF)
    assert result.exit_code == 1, result.output
    assert "积分记录" in result.stdout
    row = line_with(result.stdout, "unknown-resident")
    assert "D2" in row
    assert "居民编号" in row
    assert result.stdout.startswith("错误 1 个")  # under the errors' heading, before any warning
    assert "R9" in result.stdout
    assert "1 个错误，0 个提醒" in result.stdout
    assert "没有发现问题" not in result.stdout


def test_errors_on_several_sheets_are_each_listed(xlsx, base):
    set_cell(base, "积分记录", 3, "数量", "两")  # F3 bad-number
    base["工作人员"].append(["S4", "孙丽", "组长"])  # C5 bad-choice
    result = run("validate", xlsx(base), *AS_OF)
    assert result.exit_code == 1, result.output
    assert "工作表“工作人员”（1 个）" in result.stdout
    assert "工作表“积分记录”（1 个）" in result.stdout
    assert "C5" in line_with(result.stdout, "bad-choice")
    assert "F3" in line_with(result.stdout, "bad-number")
    assert "2 个错误，0 个提醒" in result.stdout


def test_only_warnings_exit_0(xlsx, base):
    set_cell(base, "居民", 2, "手机", "12345")
    path = xlsx(base)
    result = run("validate", path, *AS_OF)
    assert result.exit_code == 0, result.output
    row = line_with(result.stdout, "bad-phone")
    assert "E2" in row and "手机" in row and row.lstrip().startswith("居民 ")  # one warning: in full
    assert result.stdout.startswith("提醒 1 个")
    assert "0 个错误，1 个提醒" in result.stdout


def test_as_of_decides_what_is_in_the_future(xlsx, base):
    set_cell(base, "积分记录", 3, "日期", dt.date(2026, 7, 15))
    path = xlsx(base)
    early = run("validate", path, "--as-of", "2026-06-30")
    assert early.exit_code == 0, early.output  # future-date is a warning
    assert "B3" in line_with(early.stdout, "future-date")
    late = run("validate", path, "--as-of", "2026-07-15")
    assert late.exit_code == 0, late.output
    assert "没有发现问题" in late.stdout


# --- validate --format json ---------------------------------------------------


def json_problems(result) -> list[dict]:
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == JSON_KEYS, row
    return rows


def test_json_valid_workbook_is_an_empty_list(xlsx, base):
    result = run("validate", xlsx(base), *AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json_problems(result) == []


def test_json_lists_problems_with_names_as_written(xlsx, base):
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    set_cell(base, "居民", 2, "手机", "12345")
    result = run("validate", xlsx(base), *AS_OF, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = json_problems(result)
    assert [(r["sheet"], r["row"], r["column"], r["code"], r["severity"]) for r in rows] == [
        ("居民", 2, "手机", "bad-phone", "warning"),
        ("积分记录", 2, "居民编号", "unknown-resident", "error"),
    ]
    assert rows[0]["message"] == "“12345”看起来不是有效的电话号码，请核对。"
    assert "R9" in rows[1]["message"] and CJK.search(rows[1]["message"])
    assert isinstance(rows[0]["row"], int)


def english(book: dict[str, list[list[object]]]) -> dict[str, list[list[object]]]:
    """The same workbook with English sheet names and English column keys."""
    out = {}
    for sheet in SHEETS:
        if sheet.zh not in book:
            continue
        rows = [list(r) for r in book[sheet.zh]]
        if sheet.key != "settings":
            zh_to_key = {c.zh: c.key for c in sheet.columns}
            rows[0] = [zh_to_key[h] for h in rows[0]]
        else:
            rows[0] = ["key", "value"]
        out[sheet.key] = rows
    return out


def test_json_uses_english_names_when_the_file_does(xlsx, base):
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    book = english(base)
    book["entries"][0][3] = "Resident_ID"  # case is ignored on input, kept on output
    result = run("validate", xlsx(book), *AS_OF, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = json_problems(result)
    assert [(r["sheet"], r["row"], r["column"], r["code"]) for r in rows] == [
        ("entries", 2, "Resident_ID", "unknown-resident"),
    ]


def test_text_uses_the_tab_name_as_written(xlsx, base):
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    book = english(base)
    result = run("validate", xlsx(book), *AS_OF)
    assert result.exit_code == 1
    assert "工作表“entries”" in result.stdout
    assert "D2" in line_with(result.stdout, "unknown-resident")


def test_json_column_follows_the_column_order_of_the_file(xlsx, base):
    # Column order is free: the problem cell moves with its column.
    rows = base["积分记录"]
    for row in rows:
        row.insert(0, row.pop(3))  # 居民编号 first
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    path = xlsx(base)
    result = run("validate", path, *AS_OF)
    assert "A2" in line_with(result.stdout, "unknown-resident")
    found = json_problems(run("validate", path, *AS_OF, "--format", "json"))
    assert [(r["row"], r["column"], r["code"]) for r in found] == [(2, "居民编号", "unknown-resident")]


# --- files that cannot be used: exit 2, one message, no traceback ------------


def _missing(tmp_path, base):
    return tmp_path / "台账.xlsx"


def _empty(tmp_path, base):
    path = tmp_path / "空.xlsx"
    path.write_bytes(b"")
    return path


def _csv(tmp_path, base):
    path = tmp_path / "导出.xlsx"
    path.write_text("记录编号,日期,居民编号\nE1,2026-03-05,R1\n", encoding="utf-8")
    return path


def _no_entries(tmp_path, base):
    del base["积分记录"]
    return write_xlsx(tmp_path / "缺表.xlsx", base)


def _no_column(tmp_path, base):
    drop_column(base, "积分记录", "居民编号")
    return write_xlsx(tmp_path / "缺列.xlsx", base)


def _not_a_zip(tmp_path, base):
    path = tmp_path / "照片.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "这不是表格")
    return path


UNUSABLE = [
    pytest.param(_missing, "file-not-found", "台账.xlsx", id="missing-file"),
    pytest.param(_empty, "unreadable-workbook", "空.xlsx", id="empty-file"),
    pytest.param(_csv, "unreadable-workbook", "导出.xlsx", id="csv-renamed-xlsx"),
    pytest.param(_not_a_zip, "unreadable-workbook", "照片.xlsx", id="zip-not-workbook"),
    pytest.param(_no_entries, "missing-sheet", "积分记录", id="missing-entries-sheet"),
    pytest.param(_no_column, "missing-columns", "居民编号", id="missing-required-column"),
]


@pytest.mark.parametrize("make, code, mentioned", UNUSABLE)
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_unusable_file_exits_2_with_one_message(tmp_path, base, make, code, mentioned, output_format):
    path = make(tmp_path, base)
    before = digest(path) if path.exists() else None
    result = run("validate", path, *AS_OF, "--format", output_format)
    message = assert_clean_failure(result)
    assert result.stdout == ""
    assert len(message.strip().splitlines()) == 1, message
    assert f"（{code}）" in message
    assert mentioned in message
    if before is not None:
        assert digest(path) == before


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "30/06/2026", "明天"])
def test_bad_as_of_is_a_usage_error(xlsx, base, value):
    result = run("validate", xlsx(base), "--as-of", value)
    message = assert_clean_failure(result)
    assert "不是有效日期" in message
    assert value in message
    assert "2026-03-05" in message  # shows the expected form
    assert result.stdout == ""


# --- validate without WORKBOOK: the project's workbook -------------------------


def no_project_above(folder: Path) -> None:
    for parent in (folder.resolve(), *folder.resolve().parents):
        assert not (parent / "kit.toml").exists(), f"stray {parent / 'kit.toml'} spoils this test"


def make_project(root: Path) -> Path:
    result = run("init", root)
    assert result.exit_code == 0, result.output
    return root


def test_validate_without_argument_uses_the_project_workbook(tmp_path, base, monkeypatch):
    project = make_project(tmp_path / "幸福社区")
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    write_xlsx(project / "sheets" / "ledger.xlsx", base)
    monkeypatch.chdir(project)
    result = run("validate", *AS_OF, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = json_problems(result)
    assert [(r["sheet"], r["row"], r["column"], r["code"]) for r in rows] == [
        ("积分记录", 2, "居民编号", "unknown-resident"),
    ]


def test_validate_without_argument_from_a_subfolder(tmp_path, base, monkeypatch):
    project = make_project(tmp_path / "proj")
    monkeypatch.chdir(project / "docs")
    result = run("validate", *AS_OF)
    assert result.exit_code == 0, result.output
    assert "ledger.xlsx" in line_with(result.stdout, "没有发现问题")


def test_validate_follows_the_workbook_path_in_kit_toml(tmp_path, base, monkeypatch):
    project = make_project(tmp_path / "proj")
    config = project / "kit.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('"sheets/ledger.xlsx"', '"data/台账.xlsx"'),
        encoding="utf-8",
    )
    (project / "data").mkdir()
    set_cell(base, "居民", 2, "手机", "12345")
    write_xlsx(project / "data" / "台账.xlsx", base)
    monkeypatch.chdir(project)
    result = run("validate", *AS_OF)
    assert result.exit_code == 0, result.output
    assert "台账.xlsx" in line_with(result.stdout, "0 个错误，1 个提醒")
    assert "E2" in line_with(result.stdout, "bad-phone")


def test_validate_without_argument_outside_a_project(tmp_path, monkeypatch):
    no_project_above(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("validate", *AS_OF)
    message = assert_clean_failure(result)
    assert "kit.toml" in message
    assert len(message.strip().splitlines()) == 1


# --- kit init ------------------------------------------------------------------


def test_init_creates_a_project(tmp_path):
    root = tmp_path / "新社区"
    result = run("init", root)
    assert result.exit_code == 0, result.output
    assert (root / "kit.toml").is_file()
    assert (root / "sheets" / "ledger.xlsx").is_file()
    assert (root / "mkdocs.yml").is_file()
    assert (root / "docs").is_dir()
    assert any((root / "docs").iterdir())
    assert "ledger.xlsx" in result.stdout
    # the fresh template is itself a valid workbook
    check = run("validate", root / "sheets" / "ledger.xlsx", *AS_OF)
    assert check.exit_code == 0, check.output


def test_init_twice_refuses_and_keeps_the_ledger(tmp_path, base):
    root = make_project(tmp_path / "proj")
    ledger = root / "sheets" / "ledger.xlsx"
    write_xlsx(ledger, base)  # staff have filled it in since
    os.utime(ledger, (1_700_000_000, 1_700_000_000))
    before, mtime = digest(ledger), ledger.stat().st_mtime_ns
    config = (root / "kit.toml").read_bytes()
    result = run("init", root)
    message = assert_clean_failure(result)
    assert "已经存在" in message
    assert digest(ledger) == before
    assert ledger.stat().st_mtime_ns == mtime
    assert (root / "kit.toml").read_bytes() == config


def test_init_refuses_a_folder_that_already_has_a_ledger(tmp_path, base):
    root = tmp_path / "proj"
    ledger = write_xlsx(_mkdirs(root / "sheets") / "ledger.xlsx", base)
    before = digest(ledger)
    result = run("init", root)
    message = assert_clean_failure(result)
    assert "ledger.xlsx" in message
    assert digest(ledger) == before
    assert not (root / "kit.toml").exists()


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_init_example_then_validate_in_the_project(tmp_path, monkeypatch):
    root = tmp_path / "示例社区"
    result = run("init", root, "--example")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    check = run("validate", "--as-of", "2026-11-15")
    assert check.exit_code == 0, check.output
    found = json_problems(run("validate", "--as-of", "2026-11-15", "--format", "json"))
    assert not [r for r in found if r["severity"] == "error"]


# --- the last line of defence: exit 3, not a traceback -------------------------


def broken_for_openpyxl(path: Path, base) -> Path:
    """A workbook that calamine reads (so validate succeeds) but openpyxl, which
    --annotate uses to copy it, cannot load: a data validation whose range
    (sqref) is not a range. No kit code is touched."""
    plain = write_xlsx(path.with_name("plain.xlsx"), base)
    entries = f"xl/worksheets/sheet{list(base).index('积分记录') + 1}.xml"
    bad = (b'</sheetData><dataValidations count="1"><dataValidation type="list" sqref="!!!">'
           b'<formula1>"a"</formula1></dataValidation></dataValidations>')
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == entries:
                assert b"</sheetData>" in data
                data = data.replace(b"</sheetData>", bad)
            dst.writestr(item, data)
    return path


def test_internal_error_is_a_chinese_message_and_exit_3(tmp_path, base, monkeypatch):
    monkeypatch.delenv("KIT_DEBUG", raising=False)
    source = broken_for_openpyxl(tmp_path / "台账.xlsx", base)
    assert run("validate", source, *AS_OF).exit_code == 0  # readable and valid
    before = digest(source)
    out = tmp_path / "批注.xlsx"
    result = run("validate", source, *AS_OF, "--annotate", out)
    message = assert_clean_failure(result, status=3)
    assert "内部出错" in message
    assert "KIT_DEBUG" in message
    assert digest(source) == before
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".kit-")]


# --- the installed console script ---------------------------------------------


def kit_command() -> list[str]:
    script = Path(sys.executable).parent / "kit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kit"]


def test_console_script(tmp_path, base):
    set_cell(base, "积分记录", 2, "居民编号", "R9")
    path = write_xlsx(tmp_path / "台账.xlsx", base)
    env = {k: v for k, v in os.environ.items() if k != "KIT_DEBUG"}
    env["COLUMNS"] = "300"

    def kit(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([*kit_command(), *map(str, args)], capture_output=True,
                              encoding="utf-8", env=env, cwd=tmp_path, timeout=120)

    text = kit("validate", path.name, *AS_OF)
    assert text.returncode == 1, text.stderr
    assert "D2" in line_with(text.stdout, "unknown-resident")
    assert "积分记录" in text.stdout

    as_json = kit("validate", path.name, *AS_OF, "--format", "json")
    assert as_json.returncode == 1, as_json.stderr
    assert [(r["sheet"], r["row"], r["column"], r["code"]) for r in json.loads(as_json.stdout)] == [
        ("积分记录", 2, "居民编号", "unknown-resident"),
    ]

    missing = kit("validate", "没有这个文件.xlsx", *AS_OF)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr + missing.stdout
    assert "没有这个文件.xlsx" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    broken = broken_for_openpyxl(tmp_path / "坏.xlsx", base)
    internal = kit("validate", broken.name, *AS_OF, "--annotate", "out.xlsx")
    assert internal.returncode == 3
    assert "Traceback" not in internal.stderr + internal.stdout
    assert "内部出错" in internal.stderr


def test_init_writes_fresh_secrets_and_tokens_never_the_demos(tmp_path):
    from kit.example import SETTINGS as DEMO
    from kit.pipeline import open_source, validate

    from kit.example import example_book

    demo_tokens = {r.card_token for r in example_book().residents if r.card_token}
    secrets_seen = set()
    for name, flags in (("a", ["--example"]), ("b", ["--example"]), ("c", [])):
        assert CliRunner().invoke(cli, ["init", str(tmp_path / name), *flags]).exit_code == 0
        book = validate(open_source(tmp_path / name / "sheets" / "ledger.xlsx"), dt.date(2026, 11, 15)).book
        secrets_seen.add(book.settings.pseudonym_secret)
        tokens = {r.card_token for r in book.residents if r.card_token}
        assert not tokens & demo_tokens  # the demo's cards are public: never reuse them
        if flags:
            assert len(tokens) == len(demo_tokens)
    assert len(secrets_seen) == 3 and DEMO.pseudonym_secret not in secrets_seen
    assert all(len(s) >= 16 for s in secrets_seen)
