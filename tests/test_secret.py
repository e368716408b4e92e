"""化名密钥 under attack (issue 15): only a generated secret, never the public demo one outside
the demo, a rotation that keeps every published record, private files kept out of git,
children never named, and a rewrite reason that cannot publish personal data."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import openpyxl
import pytest

from kit.fingerprint import ROTATION_NOTE
from kit.keys import DEMO_SECRET, secret_fault
from kit.leak_scan import Scanner
from kit.pipeline import open_source, validate
from kit.project import DEFAULT_WORKBOOK
from tests.conftest import make_project, run_kit, write_xlsx
from tests.test_site_privacy import AS_OF, SECRET, privacy_workbook

ARGS = ("--as-of", AS_OF.isoformat())


def with_setting(sheets: dict, name: str, value) -> dict:
    sheets["设置"] = [row for row in sheets["设置"] if row[0] != name] + [[name, value]]
    return sheets


def settings_of(root: Path) -> dict[str, object]:
    wb = openpyxl.load_workbook(root / DEFAULT_WORKBOOK, read_only=True)
    return {row[0]: row[1] for row in wb["设置"].iter_rows(min_row=2, values_only=True) if row[0]}


def site_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root / "site").as_posix(): p.read_bytes()
            for p in sorted((root / "site").rglob("*")) if p.is_file()}


def checkpoints(root: Path) -> list[dict]:
    return json.loads((root / "site" / "ledger" / "checkpoints.json").read_text(encoding="utf-8"))["checkpoints"]


def ranking_names(root: Path) -> set[str]:
    text = (root / "site" / "ranking" / "index.html").read_text(encoding="utf-8")
    return set(re.findall(r"<td>([\u4e00-\u9fff]{2}\d{4})</td>", text))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("secret") / "project", privacy_workbook())
    result = run_kit(root, "build", *ARGS)
    assert result.exit_code == 0, result.output
    return root


# --- what a secret must be ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["my-community-2026", "SECRETKEY-7f3a9c1e5b2d4680xx", "0" * 32, "abab" * 8,
                                   "5EC2E7CA7F3A9C1E5B2D46800D1E2F3A"])
def test_a_typed_secret_is_an_error_at_its_cell(tmp_path, typed):
    root = make_project(tmp_path / "p", with_setting(privacy_workbook(), "化名密钥", typed))
    result = run_kit(root, "validate", "--format", "json")
    assert result.exit_code == 1
    found = [(p["sheet"], p["row"], p["column"], p["code"]) for p in json.loads(result.stdout)
             if p["severity"] == "error"]
    assert found == [("设置", 8, "值", "bad-setting")]
    assert run_kit(root, "build", *ARGS).exit_code == 1
    assert not (root / "site").exists()


def test_the_generator_makes_128_bit_secrets():
    from kit.keys import new_secret

    made = {new_secret() for _ in range(200)}
    assert len(made) == 200 and all(re.fullmatch(r"[0-9a-f]{32}", s) and secret_fault(s) is None for s in made)


def test_the_public_demo_secret_is_refused_outside_the_demo(tmp_path):
    root = make_project(tmp_path / "p", with_setting(privacy_workbook(), "化名密钥", DEMO_SECRET))
    result = run_kit(root, "validate", "--format", "json")
    assert result.exit_code == 0
    assert [p["code"] for p in json.loads(result.stdout) if p["code"] == "public-pseudonym-secret"] == [
        "public-pseudonym-secret"]
    for command in (("build", *ARGS), ("cards", "--grid", "G1"), ("handouts",)):
        refused = run_kit(root, *command)
        assert refused.exit_code == 2, (command, refused.output)
        assert "公开密钥" in refused.output and "kit rotate-secret" in refused.output, refused.output
    assert not (root / "site").exists() and not (root / "private").exists()
    toml = root / "kit.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('path = "sheets/ledger.xlsx"',
                                                             'path = "sheets/ledger.xlsx"\ndemo = true'),
                    encoding="utf-8")
    assert run_kit(root, "build", *ARGS).exit_code == 0  # the kit's own demo


def test_the_repository_demo_is_marked_as_the_demo():
    root = Path(__file__).resolve().parent.parent
    assert "demo = true" in (root / "kit.toml").read_text(encoding="utf-8")
    result = validate(open_source(root / "sheets" / "example.xlsx"), AS_OF)
    assert result.book.settings.pseudonym_secret == DEMO_SECRET


# --- rotation ------------------------------------------------------------------------------


def test_rotating_the_secret_keeps_every_published_record(built, tmp_path):
    import shutil

    root = tmp_path / "rotated"
    shutil.copytree(built, root)
    leaves_before = (root / "site" / "ledger" / "leaves.txt").read_text()
    names_before = ranking_names(root)
    result = run_kit(root, "rotate-secret")
    assert result.exit_code == 0, result.output
    settings = settings_of(root)
    new = settings["化名密钥"]
    assert new != SECRET and secret_fault(new) is None
    assert settings["旧化名密钥"] == SECRET
    assert list((root / "sheets" / "备份").glob("ledger-*.xlsx"))  # backed up first
    build = run_kit(root, "build", *ARGS)
    assert build.exit_code == 0, build.output  # no history-rewritten: the old leaves are found again
    cps = checkpoints(root)
    assert [c["number"] for c in cps] == [1, 2]
    assert cps[1]["size"] == cps[0]["size"] and cps[1]["root"] == cps[0]["root"]
    assert cps[1]["note"] == ROTATION_NOTE.format(generation=1) and cps[1]["key_generation"] == 1
    assert (root / "site" / "ledger" / "leaves.txt").read_text() == leaves_before
    assert "化名密钥已更换" in (root / "site" / "fingerprint" / "index.html").read_text(encoding="utf-8")
    names_after = ranking_names(root)
    assert names_before and names_after and not names_before & names_after  # every pseudonym re-keyed
    verify = run_kit(root, "verify")
    assert verify.exit_code == 0 and "化名密钥已更换" in verify.output
    book = validate(open_source(root / DEFAULT_WORKBOOK), AS_OF).book
    assert Scanner(book).scan_site(root / "site") == []  # neither secret is published
    # a second rotation keeps both old secrets, and the build still extends the same history
    assert run_kit(root, "rotate-secret").exit_code == 0
    assert settings_of(root)["旧化名密钥"] == f"{SECRET} {new}"
    assert run_kit(root, "build", *ARGS).exit_code == 0
    assert [c.get("key_generation", 0) for c in checkpoints(root)] == [0, 1, 2]


def test_a_secret_changed_by_hand_is_refused_with_the_way_out(built, tmp_path):
    import shutil

    root = tmp_path / "by-hand"
    shutil.copytree(built, root)
    sheets = with_setting(privacy_workbook(), "化名密钥", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    write_xlsx(root / DEFAULT_WORKBOOK, sheets)
    before = site_files(root)
    result = run_kit(root, "build", *ARGS)
    assert result.exit_code == 1
    assert "history-rewritten" in result.output and "旧化名密钥" in result.output
    assert site_files(root) == before


# --- children ------------------------------------------------------------------------------


def test_a_child_is_never_named_whatever_the_consent(tmp_path):
    sheets = privacy_workbook()
    child = next(i for i, row in enumerate(sheets["居民"]) if row[0] == "RIDZQX0001")  # 张宝三, consents
    sheets["居民"][child][3] = 2014
    root = make_project(tmp_path / "p", sheets)
    problems = json.loads(run_kit(root, "validate", "--format", "json", "--as-of", AS_OF.isoformat()).stdout)
    assert [(p["row"], p["column"], p["code"]) for p in problems if p["code"] == "minor-name-consent"] == [
        (child + 1, "同意公开姓名", "minor-name-consent")]
    assert run_kit(root, "build", *ARGS).exit_code == 0
    ranking = (root / "site" / "ranking" / "index.html").read_text(encoding="utf-8")
    assert "张*三" not in ranking
    adult = "欧阳*华"  # the other consenting residents are still shown masked
    assert adult in ranking


# --- the rewrite reason --------------------------------------------------------------------


@pytest.mark.parametrize("reason, what", [
    ("张宝三 的备注写错了", "居民姓名"),
    ("电话 139 1234 5678 录错", "一长串数字"),
    ("RIDZQX0004 的记录", "居民编号"),
])
def test_a_rewrite_reason_with_personal_data_is_refused(built, tmp_path, reason, what):
    import shutil

    root = tmp_path / "reason"
    shutil.copytree(built, root)
    before = site_files(root)
    result = run_kit(root, "build", *ARGS, "--rewrite-history", reason, "--yes")
    assert result.exit_code == 2 and what in result.output, result.output
    assert site_files(root) == before


def test_a_rewrite_reason_is_shown_back_and_needs_a_yes(built, tmp_path):
    import shutil
    from click.testing import CliRunner

    from kit.cli import cli

    root = tmp_path / "confirm"
    shutil.copytree(built, root)
    before = site_files(root)
    reason = "误录了一条不该公开的备注"
    import os
    here = os.getcwd()
    os.chdir(root)
    try:
        refused = CliRunner().invoke(cli, ["build", *ARGS, "--rewrite-history", reason], input="n\n")
        assert refused.exit_code == 2 and f"「{reason}」" in refused.output
        assert site_files(root) == before
        accepted = CliRunner().invoke(cli, ["build", *ARGS, "--rewrite-history", reason], input="y\n")
        assert accepted.exit_code == 0, accepted.output
    finally:
        os.chdir(here)
    assert checkpoints(root)[-1]["rewrite"]["reason"] == reason


# --- private files stay out of a repository --------------------------------------------------


def test_the_generated_gitignore_covers_every_private_file(tmp_path):
    root = tmp_path / "community"
    assert run_kit(tmp_path, "init", str(root)).exit_code == 0
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    private = ["sheets/ledger.xlsx", "sheets/备份/ledger-20261203-101500.xlsx", "snapshots/s.xlsx",
               ".kit-cache/parse.pickle", "private/积分卡.pdf", "site/index.html", ".kit-build.lock"]
    public = ["kit.toml", "docs/privacy.md", "mkdocs.yml"]
    checked = subprocess.run(["git", "-c", "core.quotePath=false", "-C", str(root), "check-ignore", "--no-index",
                              *private, *public],
                             capture_output=True, text=True)
    assert sorted(checked.stdout.split("\n")[:-1]) == sorted(private), checked.stdout
