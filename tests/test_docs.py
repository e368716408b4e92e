"""Docs are tested: every problem code and command has an entry in the README."""

from __future__ import annotations

from pathlib import Path

from kit.cli import cli
from kit.errors import KitError
from kit.problems import CATALOGUE

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_problem_code_is_documented():
    missing = [code for code in CATALOGUE if f"| `{code}` |" not in README]
    assert missing == []


def test_every_unusable_file_code_is_documented():
    missing = [c.code for c in _all_subclasses(KitError) if f"| `{c.code}` |" not in README]
    assert missing == []


def test_every_command_is_documented():
    missing = [name for name in cli.commands if f"`kit {name}" not in README]
    assert missing == []


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    blocks = README.split("```bash\n")
    first, second = blocks[1].split("\n```")[0], blocks[2].split("\n```")[0]
    assert "pip install -e ." in first and "kit " in first
    assert "pytest" in second
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert second in ci
