"""The office PCs the kit really runs on (issue 16): GBK output, files open in other programs,
unwritable outputs, a busy port, Click's own text in Chinese, dates as staff type them, next
steps that paste, and the repository's demo that the README's commands never modify.

Commands run as real processes (`python -m kit`) where the console's encoding matters."""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kit.project import DEFAULT_WORKBOOK
from tests.conftest import BASE, make_project, run_kit

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-06-30"


def sheets(with_error: bool = False) -> dict:
    book = copy.deepcopy(BASE)
    book["设置"].append(["网站地址", "https://jf.example.cn/"])
    if with_error:
        book["积分记录"][2][3] = "R9"  # an unknown resident
    return book


def kit(cwd: Path, *args: str, encoding: str = "gbk", timeout: int = 300) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONIOENCODING": encoding}
    env.pop("KIT_DEBUG", None)
    # -P: the kit under test, not a kit/ folder in cwd (a clone of the repository has one)
    return subprocess.run([sys.executable, "-P", "-m", "kit", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=timeout)


def text(result: subprocess.CompletedProcess, encoding: str = "gbk") -> str:
    return result.stdout.decode(encoding) + result.stderr.decode(encoding)  # must decode: never a broken byte


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("field") / "幸福 社区", sheets())
    assert run_kit(root, "build", "--as-of", AS_OF).exit_code == 0
    return root


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("field-broken") / "p", sheets(with_error=True))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith(".kit-"))


# --- GBK output -------------------------------------------------------------------------------


@pytest.mark.parametrize("args, status", [
    (("validate", "--as-of", AS_OF), 0),
    (("validate", "--format", "json", "--as-of", AS_OF), 0),
    (("balances", "--as-of", AS_OF), 0),
    (("balances", "--resident", "R1", "--as-of", AS_OF), 0),
    (("build", "--as-of", "2026-07-01"), 0),
    (("verify",), 0),
    (("cards", "--grid", "G1"), 0),
    (("handouts", "--as-of", AS_OF), 0),
    (("report", "--quarter", "2026Q2"), 0),
    (("--help",), 0),
    (("pull",), 2),
    (("init", "新的 社区"), 0),
])
def test_every_command_prints_in_gbk(project, args, status):
    result = kit(project, *args)
    output = text(result)
    assert result.returncode == status, output
    assert "内部出错" not in output and "Traceback" not in output
    assert re.search(r"[\u4e00-\u9fff]", output) or args[1:2] == ("--format",)


@pytest.mark.parametrize("args, status", [
    (("validate", "--as-of", AS_OF), 1),
    (("build", "--as-of", AS_OF), 1),
    (("balances", "--as-of", AS_OF), 0),
])
def test_errors_print_in_gbk(broken, args, status):
    result = kit(broken, *args)
    output = text(result)
    assert result.returncode == status, output
    assert "内部出错" not in output
    if status == 1:
        assert "unknown-resident" in output and "×" in output  # ✗ has no GBK code: × stands in
    else:
        assert "表格有 1 个错误" in output


def test_an_unusable_file_prints_in_gbk(tmp_path):
    (tmp_path / "不是表格.xlsx").write_text("这不是表格", encoding="utf-8")
    result = kit(tmp_path, "validate", "不是表格.xlsx")
    assert result.returncode == 2 and "unreadable-workbook" in text(result) and "内部出错" not in text(result)


def test_gbk_output_keeps_the_check_marks_readable(project):
    result = kit(project, "build", "--as-of", "2026-07-02")
    assert result.returncode == 0
    assert "√ 网站已更新" in text(result)  # ✓ has no GBK code: √ stands in


# --- files that cannot be written -------------------------------------------------------------


def _immutable(path: Path) -> None:
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")


def _mutable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.mark.parametrize("command, target, what", [
    (("cards", "--grid", "G1", "-o"), "private/积分卡.pdf", "PDF"),
    (("report", "--quarter", "2026Q2", "-o"), "private/报告.pdf", "报告"),
    (("validate", "--as-of", AS_OF, "--annotate"), "private/检查结果.xlsx", "批注副本"),
])
@pytest.mark.parametrize("how", ["directory", "locked"])
def test_an_unwritable_output_is_a_clear_message_and_leaves_nothing(project, command, target, what, how):
    """A PDF still open in a viewer or a copy open in Excel (a locked file; here an immutable
    one), or a folder where the file should go: exit 2, the file named, nothing half-written."""
    path = project / target
    path.parent.mkdir(exist_ok=True)
    if path.exists():
        path.unlink()
    if how == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"held by another program")
        _immutable(path)
    try:
        result = kit(project, *command, target)
        output = text(result)
        assert result.returncode == 2, output
        assert "内部出错" not in output and path.name in output, output
        assert ("文件夹" in output) if how == "directory" else ("别的程序打开" in output), output
        assert leftovers(path.parent) == []
        if how == "locked":
            assert path.read_bytes() == b"held by another program"
    finally:
        _mutable(path)
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def test_a_full_disk_is_a_clear_message(project):
    """The file-size limit of the process stands in for a full disk: the write fails part-way."""
    import resource
    import signal

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, 4_000))

    assert kit(project, "cards", "--grid", "G1").returncode == 0  # every card number is in the workbook now
    target = project / "private" / "满了.pdf"
    result = subprocess.run([sys.executable, "-P", "-m", "kit", "cards", "--grid", "G1", "-o", str(target)],
                            cwd=project, capture_output=True, preexec_fn=small_disk,
                            env=os.environ | {"PYTHONIOENCODING": "gbk"}, timeout=300)
    output = text(result)
    assert result.returncode == 2, output
    assert "磁盘已经满了" in output and "满了.pdf" in output and "内部出错" not in output
    assert not target.exists() and leftovers(target.parent) == []


def test_an_unwritable_handouts_folder_is_a_clear_message(project):
    folder = project / "private" / "锁住的讲义"
    folder.mkdir(parents=True, exist_ok=True)
    _immutable(folder)
    try:
        result = kit(project, "handouts", "--as-of", AS_OF, "-o", str(folder))
        assert result.returncode == 2 and "内部出错" not in text(result), text(result)
        assert "无法写入" in text(result)
    finally:
        _mutable(folder)
    assert leftovers(folder) == []


# --- a workbook open in Excel or WPS ----------------------------------------------------------


@pytest.mark.parametrize("owner", ["~$ledger.xlsx", ".~lock.ledger.xlsx#"])
def test_a_workbook_open_in_excel_is_never_written(tmp_path, owner):
    root = make_project(tmp_path / "p", sheets())
    workbook = root / DEFAULT_WORKBOOK
    before = workbook.read_bytes()
    (workbook.parent / owner).write_bytes(b"\x00" * 165)  # what Excel leaves beside an open file
    for args in (("cards", "--grid", "G1"), ("cards", "--reissue", "R1"), ("rotate-secret",)):
        result = kit(root, *args)
        output = text(result)
        assert result.returncode == 2, output
        assert "workbook-open" in output and "正在被 Excel/WPS 打开" in output, output
        assert workbook.read_bytes() == before
    assert not (workbook.parent / "备份").exists()


def test_an_annotated_copy_open_in_excel_is_not_overwritten(project):
    out = project / "private" / "问题.xlsx"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(b"old copy")
    (out.parent / "~$问题.xlsx").write_bytes(b"\x00")
    try:
        result = kit(project, "validate", "--as-of", AS_OF, "--annotate", str(out))
        assert result.returncode == 2 and "workbook-open" in text(result)
        assert out.read_bytes() == b"old copy"
    finally:
        (out.parent / "~$问题.xlsx").unlink()


# --- kit serve --------------------------------------------------------------------------------


def test_a_busy_port_suggests_another(project):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = kit(project, "serve", "--port", str(port), timeout=60)
    output = text(result)
    assert result.returncode == 2, output
    assert f"端口 {port} 已经被别的程序占用" in output and f"--port {port + 1}" in output


def test_serve_on_the_lan_shows_this_computers_address(project):
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "kit", "serve", "--host", "0.0.0.0", "--port", str(port)],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        first, second = process.stdout.readline().decode(), process.stdout.readline().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "请在浏览器打开" in first
    from kit.serve import lan_addresses

    addresses = lan_addresses()
    if addresses:
        assert any(f"http://{ip}:" in second for ip in addresses), second
    else:
        assert "没有找到这台电脑的局域网地址" in second


# --- Click's own text, dates, next steps ------------------------------------------------------

ENGLISH = ("Usage", "Options", "Commands", "Show this message", "Show the version", "[OPTIONS]", "COMMAND",
           "ARGS", "INTEGER", "TEXT", "PATH", "FILE", "DIRECTORY", "default:", "Error", "Try ")


def test_help_is_chinese_everywhere():
    from kit.cli import WORKFLOW, cli

    pages = {"kit": run_kit(REPO, "--help")} | {name: run_kit(REPO, name, "--help") for name in cli.commands}
    for name, result in pages.items():
        assert result.exit_code == 0, name
        found = [word for word in ENGLISH if word in result.output]
        assert not found, (name, found, result.output)
        assert "用法" in result.output and "选项：" in result.output, name
        if name != "kit":
            assert "示例：" in result.output and f"kit {name}" in result.output.split("示例：")[1], name
    listed = re.findall(r"^  ([a-z-]+)  ", pages["kit"].output.split("命令：")[1], flags=re.M)
    assert listed == list(WORKFLOW)  # in the order of the work, not the alphabet


@pytest.mark.parametrize("args, expected", [
    (("build", "--nope"), "没有选项 '--nope'"),
    (("cards", "--grid"), "选项 '--grid' 后面要写一个值"),
    (("balances", "--as-of", "明天"), "“明天”不是有效日期"),
    (("serve", "--port", "八千"), "不是端口号"),
    (("nosuch",), "没有命令 'nosuch'"),
    (("validate", "a.xlsx", "b.xlsx"), "多了参数"),
])
def test_click_errors_are_chinese(args, expected):
    result = run_kit(REPO, *args)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert not [w for w in ("Error:", "Usage:", "Try '", "No such", "Invalid value") if w in result.output]


@pytest.mark.parametrize("typed", ["2026-06-30", "2026/6/30", "2026年6月30日", " 2026/06/30 "])
def test_as_of_accepts_the_workbooks_date_forms(project, typed):
    result = run_kit(project, "balances", "--as-of", typed, "--format", "json")
    assert result.exit_code == 0, result.output
    assert run_kit(project, "validate", "--as-of", typed).exit_code == 0


def test_the_next_step_after_init_pastes_into_a_shell(tmp_path):
    name = "我的 社区"
    result = run_kit(tmp_path, "init", name)
    assert result.exit_code == 0
    step = re.search(r"^  (cd .+)$", result.output, flags=re.M).group(1)
    assert step == f'cd "{name}"'
    pasted = subprocess.run(["bash", "-c", f"{step} && pwd"], cwd=tmp_path, capture_output=True, text=True)
    assert pasted.returncode == 0 and pasted.stdout.strip().endswith(name)


# --- the repository's own demo ------------------------------------------------------------------


def test_the_readmes_commands_leave_the_repository_unchanged(tmp_path):
    """The README's commands, run in a clean clone of this repository, change no tracked file:
    the demo's workbook is generated and never written (its cards without numbers are skipped)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    for args in (("validate", "--as-of", "2026-11-15"), ("build", "--as-of", "2026-11-15"),
                 ("balances", "--resident", "R0001", "--as-of", "2026-11-15"), ("cards", "--grid", "G1"),
                 ("cards", "--reissue", "R0001"), ("rotate-secret",), ("handouts", "--as-of", "2026-11-15")):
        result = kit(clone, *args, encoding="utf-8")
        assert result.returncode in (0, 2), (args, text(result, "utf-8"))
        assert "内部出错" not in text(result, "utf-8")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True).stdout
    assert status == "", status
    assert (clone / "site" / "index.html").is_file() and list((clone / "private").glob("积分卡-*.pdf"))


def test_python_versions_and_ci():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11,<3.14"' in pyproject
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "for version in 3.12 3.13" in ci and "pip install -q ." in ci and "-m kit build" in ci
    assert sys.version_info[:2] in ((3, 11), (3, 12), (3, 13))  # CI runs this suite under each of them


# --- kit cards writes back only the 卡号 cells ---------------------------------------------------


def _lived_in_ledger(path: Path) -> None:
    """The conftest ledger as staff leave it: a picture, a chart, a comment and a formula with its
    cached result on 居民, plus an x14 cross-sheet dropdown and sparklines that openpyxl drops."""
    import io
    import zipfile

    import openpyxl
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment
    from openpyxl.drawing.image import Image

    from tests.conftest import write_xlsx
    from tests.test_xlsx_patch import X14, insert, png, rewrite

    book = sheets()
    book["居民"][0] = book["居民"][0] + ["备注公式"]
    write_xlsx(path, book)
    wb = openpyxl.load_workbook(path)
    ws = wb["居民"]
    ws["I2"] = "=LEN(B2)"
    ws["B2"].comment = Comment("本人同意公开", "王芳", width=300, height=80)
    ws.add_image(Image(io.BytesIO(png())), "K2")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=3), titles_from_data=True)
    ws.add_chart(chart, "K8")
    wb.save(path)
    data = path.read_bytes()
    sheet_name = "xl/worksheets/sheet4.xml"  # 设置, 网格, 工作人员, 居民: openpyxl numbers them in order
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(sheet_name)
    assert b"<f>LEN(B2)</f><v /></c>" in xml
    xml = xml.replace(b"<f>LEN(B2)</f><v /></c>", b"<f>LEN(B2)</f><v>2</v></c>")  # as Excel saves it
    xml = insert(xml, "</worksheet>", X14)
    path.write_bytes(rewrite(data, replace={sheet_name: xml}))


def test_cards_write_back_only_the_card_cells(tmp_path):
    import io
    import zipfile

    import python_calamine

    root = make_project(tmp_path / "p", sheets())
    workbook = root / DEFAULT_WORKBOOK
    _lived_in_ledger(workbook)
    before = workbook.read_bytes()
    result = kit(root, "cards", "--grid", "G1", encoding="utf-8")
    assert result.returncode == 0, text(result, "utf-8")
    after = workbook.read_bytes()
    with zipfile.ZipFile(io.BytesIO(before)) as old, zipfile.ZipFile(io.BytesIO(after)) as new:
        assert old.namelist() == new.namelist()
        changed = [n for n in old.namelist() if old.read(n) != new.read(n)]
        assert changed == ["xl/worksheets/sheet4.xml"], changed  # 居民 only
        sheet = new.read(changed[0]).decode()
        old_sheet = old.read(changed[0]).decode()
    assert "x14:dataValidations" in sheet and "x14:sparklineGroups" in sheet
    assert sheet.split("<extLst>")[1] == old_sheet.split("<extLst>")[1]  # the extension list, byte for byte
    assert "<f>LEN(B2)</f><v>2</v>" in sheet  # the formula keeps its cached result
    rows = python_calamine.CalamineWorkbook.from_path(str(workbook)).get_sheet_by_name("居民").to_python()
    tokens = [row[rows[0].index("卡号")] for row in rows[1:]]
    assert all(re.fullmatch(r"[A-Z2-7]{26}", t) for t in tokens), tokens
    assert list((root / "sheets" / "备份").glob("*.xlsx"))[0].read_bytes() == before
