"""kit.toml as office staff really save it: Notepad's encodings, Windows paths with
backslashes, and mistakes typed with a Chinese IME, each told in Chinese with its line.

Every test writes a real kit.toml into tmp_path and reads it with load_project (or runs
the real `kit` command through click's CliRunner)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli import cli
from kit.errors import ProjectError
from kit.project import CONFIG_TEXT, DEFAULT_WORKBOOK, load_project

from tests.conftest import write_xlsx

CJK = re.compile(r"[\u4e00-\u9fff]")
# what tomllib says in English; none of it may reach staff
PARSER_ENGLISH = re.compile(r"Invalid|Expected|Unterminated|Cannot|Illegal|statement|at line|column|"
                            r"end of document|TOMLDecodeError|Traceback", re.IGNORECASE)

# a kit.toml as staff edit it: Chinese comments, a Chinese path
CHINESE_CONFIG = """\
# 积分工具包项目配置（幸福社区）
[workbook]
# 台账放在“数据”文件夹里
path = "数据/台账.xlsx"

[output]
site = "网站"
private = "个人资料"
"""


def write_config(root: Path, text: str, encoding: str = "utf-8", bom: bytes = b"") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "kit.toml").write_bytes(bom + text.encode(encoding))
    return root


def failure(root: Path) -> str:
    with pytest.raises(ProjectError) as caught:
        load_project(root)
    assert caught.value.exit_status == 2
    message = caught.value.message
    assert CJK.search(message), message
    return message


def assert_chinese_config(root: Path) -> None:
    project = load_project(root)
    assert project.workbook == (root / "数据" / "台账.xlsx").resolve()
    assert project.site_dir == (root / "网站").resolve()
    assert project.private_dir == (root / "个人资料").resolve()
    assert project.warnings == ()


# --- encodings Notepad saves --------------------------------------------------------------


def test_utf8_with_bom_from_notepad(tmp_path):
    root = write_config(tmp_path / "社区", CHINESE_CONFIG, bom=b"\xef\xbb\xbf")
    assert_chinese_config(root)


def test_gbk_from_notepad_ansi_with_chinese_comments_and_paths(tmp_path):
    root = write_config(tmp_path / "社区", CHINESE_CONFIG.replace("\n", "\r\n"), encoding="gbk")
    assert_chinese_config(root)


def test_gb18030_beyond_gbk(tmp_path):
    # 𠮷 exists only in GB18030 (four bytes), never in GBK
    text = CHINESE_CONFIG.replace("幸福社区", "𠮷祥社区")
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    root = write_config(tmp_path / "社区", text, encoding="gb18030")
    assert_chinese_config(root)


@pytest.mark.parametrize(("bom", "encoding"), [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_utf16_from_notepad_unicode(tmp_path, bom, encoding):
    root = write_config(tmp_path / "社区", CHINESE_CONFIG.replace("\n", "\r\n"), encoding=encoding, bom=bom)
    assert_chinese_config(root)


def test_an_undecodable_file_is_a_chinese_message(tmp_path):
    root = tmp_path / "社区"
    root.mkdir()
    (root / "kit.toml").write_bytes(b'[workbook]\npath = "\xff\x80\xff.xlsx"\n')
    message = failure(root)
    assert "编码" in message and "UTF-8" in message
    assert "kit.toml" in message
    assert not PARSER_ENGLISH.search(message)
    assert "codec" not in message


def test_the_kit_init_config_still_reads(tmp_path):
    root = write_config(tmp_path / "社区", CONFIG_TEXT.format(workbook=DEFAULT_WORKBOOK))
    project = load_project(root)
    assert project.workbook == (root / "sheets" / "ledger.xlsx").resolve()
    assert project.site_dir == (root / "site").resolve()
    assert project.warnings == ()


# --- Windows paths with backslashes ---------------------------------------------------------


@pytest.mark.parametrize("written", [
    r'"sheets\ledger.xlsx"',
    r'"sheets\\ledger.xlsx"',  # escaped correctly for TOML
    r"'sheets\ledger.xlsx'",  # a TOML literal string
    r'"sheets/ledger.xlsx"',
])
def test_backslash_workbook_path(tmp_path, written):
    root = write_config(tmp_path / "社区", f"[workbook]\npath = {written}\n")
    assert load_project(root).workbook == (root / "sheets" / "ledger.xlsx").resolve()


def test_backslash_n_in_a_path_is_a_separator_not_a_newline(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "sheets\\new.xlsx"\n'
                                           '[output]\nsite = "out\\table"  # \\t is no tab either\n'
                                           'private = "out\\ref\\book"\n')
    project = load_project(root)
    assert project.workbook == (root / "sheets" / "new.xlsx").resolve()
    assert project.site_dir == (root / "out" / "table").resolve()
    assert project.private_dir == (root / "out" / "ref" / "book").resolve()


def test_backslash_paths_with_a_drive_letter(tmp_path):
    root = write_config(tmp_path / "社区", "[workbook]\r\n"
                                           'path = "D:\\积分\\sheets\\ledger.xlsx"   # 区里发的台账\r\n'
                                           "[output]\r\n"
                                           'site = "D:\\积分\\网站\\"\r\n'
                                           'snapshots = "D:\\\\积分\\\\快照"\r\n', encoding="gbk")
    project = load_project(root)
    # absolute on Windows; on Linux "D:" is just a folder name, which is fine
    assert project.workbook == (root / Path("D:/积分/sheets/ledger.xlsx")).resolve()
    assert project.site_dir == (root / Path("D:/积分/网站")).resolve()
    assert project.snapshots_dir == (root / Path("D:/积分/快照")).resolve()
    assert "\\" not in project.workbook.as_posix()


def test_backslash_credentials_path(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\ngoogle_sheet = "1AbCdEfGhIjKlMnOpQrStUvWxYz"\n'
                                           'credentials = "C:\\Users\\王芳\\kit-secrets\\key.json"\n')
    credentials = load_project(root).sheet.credentials
    assert credentials == (root / Path("C:/Users/王芳/kit-secrets/key.json")).resolve()


def test_stray_backslash_in_other_strings_is_kept_literally(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "sheets/ledger.xlsx"\n'
                                           '[privacy]\npublic_words = ["高明\\文明", "甲\\t乙"]\n')
    # \文 is no TOML escape: a literal backslash; \t is one, and stays a tab
    assert load_project(root).public_words == ("高明\\文明", "甲\t乙")


# --- broken TOML: the line, its text and a Chinese hint ------------------------------------


BROKEN_AT_LINE_7 = """\
# 积分工具包项目配置
[workbook]
path = "sheets/ledger.xlsx"

[output]
site = "site"
private = "private
"""


def test_broken_toml_names_the_line_and_its_text(tmp_path):
    root = write_config(tmp_path / "社区", BROKEN_AT_LINE_7)
    message = failure(root)
    assert message.startswith("kit.toml 第 7 行格式有误：")
    assert 'private = "private' in message
    assert "引号" in message
    assert not PARSER_ENGLISH.search(message), message


def test_broken_gbk_toml_names_the_line(tmp_path):
    text = "# 积分配置\r\n[workbook]\r\n# 台账\r\npath = 数据/台账.xlsx\r\n"
    root = write_config(tmp_path / "社区", text, encoding="gbk")
    message = failure(root)
    assert "第 4 行" in message
    assert "path = 数据/台账.xlsx" in message
    assert "双引号" in message
    assert not PARSER_ENGLISH.search(message), message


@pytest.mark.parametrize(("line", "hint"), [
    ('path = "sheets/ledger.xlsx', "引号没有配对"),
    ('path "sheets/ledger.xlsx"', "缺少等号"),
    ("path = “sheets/ledger.xlsx”", "全角的中文引号"),
    ('path = "sheets/ledger.xlsx”', "全角的中文引号"),
    ('path ＝ "sheets/ledger.xlsx"', "全角"),
    ("path = sheets/ledger.xlsx", "双引号括起来"),
    ('path = "sheets/ledger.xlsx" 台账', "以 # 开头"),
])
def test_each_mistake_gets_its_hint(tmp_path, line, hint):
    root = write_config(tmp_path / "社区", f"# 注释里的“引号”和＝不算错\n[workbook]\n{line}\n")
    message = failure(root)
    assert message.startswith("kit.toml 第 3 行格式有误：")
    assert line in message
    assert hint in message
    assert not PARSER_ENGLISH.search(message), message


def test_fullwidth_equals_hint_names_the_halfwidth_one(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath ＝ "sheets/ledger.xlsx"\n')
    message = failure(root)
    assert "第 2 行" in message and "“＝”" in message and "半角的 =" in message


def test_duplicated_key(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\n# 改成新的\npath = "b.xlsx"\n')
    message = failure(root)
    assert message.startswith("kit.toml 第 4 行格式有误：")
    assert 'path = "b.xlsx"' in message
    assert "“path”" in message and "两次" in message


def test_duplicated_section(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\n[output]\nsite = "site"\n'
                                           "[workbook]\ndemo = true\n")
    message = failure(root)
    assert "第 5 行" in message and "[workbook]" in message and "两次" in message


def test_fullwidth_brackets(tmp_path):
    root = write_config(tmp_path / "社区", '［workbook］\npath = "a.xlsx"\n')
    message = failure(root)
    assert "第 1 行" in message and "方括号" in message


def test_unclosed_multiline_string_points_at_the_last_line(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\nnote = """说明\n第二行\n\n')
    message = failure(root)
    assert "第 4 行" in message and "第二行" in message
    assert not PARSER_ENGLISH.search(message), message


# --- values of the wrong type: the key and its line -----------------------------------------


def test_path_of_the_wrong_type(tmp_path):
    root = write_config(tmp_path / "社区", "# 配置\n[workbook]\npath = 123\n")
    message = failure(root)
    assert "第 3 行" in message and "workbook.path" in message and "123" in message
    assert "双引号" in message


def test_site_of_the_wrong_type(tmp_path):
    root = write_config(tmp_path / "社区", '[output]\nsite = true\n')
    message = failure(root)
    assert "第 2 行" in message and "output.site" in message and "true" in message


def test_limit_of_the_wrong_type(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\n\n[limits]\nmax_cells = 100\n'
                                           'max_file_mb = "lots"\n')
    message = failure(root)
    assert "第 6 行" in message and "limits.max_file_mb" in message and "lots" in message


def test_limits_not_a_table(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\n[output]\nsite = "s"\n'
                                           'limits = 300\n')
    # inside [output] this is output.limits, an unknown key; at the top it is the [limits] table
    assert any("output.limits" in w for w in load_project(root).warnings)
    root = write_config(tmp_path / "另一个", 'limits = 300\n[workbook]\npath = "a.xlsx"\n')
    message = failure(root)
    assert "第 1 行" in message and "[limits]" in message


def test_public_words_of_the_wrong_type(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\npath = "a.xlsx"\n[privacy]\npublic_words = "高明"\n')
    message = failure(root)
    assert "第 4 行" in message and "privacy.public_words" in message


def test_credentials_of_the_wrong_type(tmp_path):
    root = write_config(tmp_path / "社区", '[workbook]\ngoogle_sheet = "1AbCdEf"\ncredentials = 5\n')
    message = failure(root)
    assert "第 3 行" in message and "workbook.credentials" in message


# --- through the command --------------------------------------------------------------------


def run_in(folder: Path, monkeypatch, *args: str):
    monkeypatch.chdir(folder)
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "300", "KIT_DEBUG": None})


def test_kit_validate_with_a_gbk_kit_toml_and_a_backslash_path(tmp_path, base, monkeypatch):
    root = tmp_path / "幸福社区"
    result = CliRunner().invoke(cli, ["init", str(root)])
    assert result.exit_code == 0, result.output
    (root / "数据").mkdir()
    write_xlsx(root / "数据" / "台账.xlsx", base)
    write_config(root, "# 积分工具包项目配置（记事本另存为 ANSI）\r\n[workbook]\r\n"
                       "# 台账在“数据”文件夹\r\npath = \"数据\\台账.xlsx\"\r\n", encoding="gbk")
    result = run_in(root, monkeypatch, "validate", "--as-of", "2026-06-30")
    assert result.exit_code == 0, result.output
    assert "台账.xlsx" in result.stdout
    assert "没有发现问题" in result.stdout
    assert not PARSER_ENGLISH.search(result.output), result.output
    assert "Error" not in result.output


def test_kit_validate_with_a_broken_gbk_kit_toml(tmp_path, monkeypatch):
    root = write_config(tmp_path / "幸福社区", "# 积分配置\r\n[workbook]\r\npath ＝ \"数据\\台账.xlsx\"\r\n",
                        encoding="gbk")
    result = run_in(root, monkeypatch, "validate", "--as-of", "2026-06-30")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "kit.toml 第 3 行格式有误" in result.stderr
    assert "path ＝" in result.stderr and "全角" in result.stderr
    assert not PARSER_ENGLISH.search(result.output), result.output
