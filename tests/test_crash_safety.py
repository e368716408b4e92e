"""Crash safety and concurrent runs of `kit build`.

A build is killed (SIGKILL) at spread-out moments and at named points: while the
pages render, while mkdocs writes, and inside the swap. After every kill the
site folder holds either the whole previous site or the whole new one, never a
mix and never nothing, and the next build recovers and cleans up. Two builds at
once: the second refuses with a clear message and touches nothing.

The kills are real: the CLI in a subprocess, or a forked build whose os.replace
or directory exchange kills its own process right there (a fake of the moment
the OS kills it, not of the kit's code).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import kit.site
from kit.lock import Busy, exclusive
from kit.project import DEFAULT_WORKBOOK
from tests.conftest import BASE, make_project, run_kit, write_xlsx

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, SIGSTOP and fork are POSIX")

AS_OF = dt.date(2026, 6, 30)
BUILD = ("build", "--as-of", AS_OF.isoformat())
# Kills at spread-out moments, besides the named points: some of the installed CLI,
# more of forked builds, which skip the interpreter's start-up (a second or so each).
CLI_KILLS = 1
FORK_KILLS = 7
REPO = Path(__file__).resolve().parent.parent


# --- helpers ----------------------------------------------------------------------


def version(k: int, quantity_of: dict[str, int] | None = None) -> dict[str, list[list[object]]]:
    """The small ledger with k more entries (E101…) than BASE: each version publishes more."""
    sheets = copy.deepcopy(BASE)
    entries = sheets["积分记录"]
    for i in range(1, k + 1):
        entries.append([f"E{100 + i}", dt.date(2026, 5, 1) + dt.timedelta(days=i), None, "R1", "XL", 1, None,
                        "S1", "S2", None, "通过"])
    for row in entries[1:]:
        row[5] = (quantity_of or {}).get(row[0], row[5])
    return sheets


def set_version(project: Path, k: int, quantity_of: dict[str, int] | None = None) -> None:
    write_xlsx(project / DEFAULT_WORKBOOK, version(k, quantity_of))


def snapshot(project: Path) -> dict[str, str] | None:
    """Every file of site/ with its hash; None when there is no site folder."""
    site = project / "site"
    if not site.is_dir():
        return None
    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


def checkpoints(project: Path) -> int:
    data = json.loads((project / "site" / "ledger" / "checkpoints.json").read_text(encoding="utf-8"))
    return len(data["checkpoints"])


def stages(project: Path) -> list[Path]:
    return sorted(project.glob(".kit-build-*"))


def kit_command() -> list[str]:
    script = Path(sys.executable).parent / "kit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kit"]


def start(project: Path, capture: bool = False) -> subprocess.Popen:
    """`kit build` through the installed CLI; its output goes to a pipe, or to a log beside the project."""
    if capture:
        return subprocess.Popen(kit_command() + list(BUILD), cwd=project, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    log = project.parent / f"kit-build-{time.monotonic_ns()}.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(kit_command() + list(BUILD), cwd=project, stdout=out, stderr=out)
    proc.log = log
    return proc


def said(proc) -> str:
    """What a CLI build printed, for assertion messages."""
    log = getattr(proc, "log", None)
    return log.read_text(encoding="utf-8", errors="replace")[-2000:] if log else ""


class Forked:
    """`kit build` in a forked child of this (warm) process, with the Popen methods the tests use."""

    def __init__(self, project: Path, setup=lambda: None):
        """setup() runs in the child first, e.g. to arrange where it dies."""
        self.returncode = None
        self.pid = os.fork()
        if self.pid == 0:
            try:
                setup()
                run_kit(project, *BUILD)
            finally:
                os._exit(0)  # a child meant to be killed that ends fails the test on its exit code

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def wait_for(condition, proc, timeout: float = 60) -> bool:
    """Poll (about every millisecond) until condition() holds; False if proc ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    raise AssertionError("the build neither reached the point nor ended")


def next_build(project: Path) -> dict[str, str]:
    """The build after a kill: succeeds, leaves no staging folder; returns the site."""
    result = run_kit(project, *BUILD)
    assert result.exit_code == 0, result.output
    assert stages(project) == []
    return snapshot(project)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Sites:
    template: Path  # a project with version 0 published and version 1 in its workbook
    old: dict[str, str]  # its site
    new: dict[str, str]  # the site an uninterrupted build of version 1 makes on top (builds are byte-identical)


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Sites:
    folder = tmp_path_factory.mktemp("crash")
    template = make_project(folder / "幸福社区", version(0))
    old = next_build(template)
    set_version(template, 1)
    twin = shutil.copytree(template, folder / "twin")
    return Sites(template, old, next_build(twin))


@pytest.fixture
def project(sites, tmp_path) -> Path:
    """A copy of the template: version 0 published, version 1 about to be built."""
    return shutil.copytree(sites.template, tmp_path / "幸福社区")


# --- killed at any moment -------------------------------------------------------------


def rendering(stage: Path) -> bool:
    return (stage / "docs").is_dir() and not (stage / "site").exists()


def in_mkdocs(stage: Path) -> bool:
    # ledger/ is written after mkdocs; after an exchange stage/site is the old site, which has one
    return (stage / "site").is_dir() and not (stage / "site" / "ledger").exists()


def test_sigkill_at_any_moment_leaves_a_whole_site_and_the_next_build_cleans_up(sites, project, tmp_path):
    old, new = sites.old, sites.new
    saved = shutil.copytree(project / "site", tmp_path / "old-site")

    def restore_old() -> None:
        shutil.rmtree(project / "site")
        shutil.copytree(saved, project / "site")

    def window(launch) -> float:
        """How long a whole build works beside the site (the CLI also imports as it goes)."""
        proc = launch(project)
        assert wait_for(lambda: stages(project), proc)
        opened = time.monotonic()
        assert proc.wait() == 0, said(proc)
        took = time.monotonic() - opened
        assert stages(project) == [] and snapshot(project) == new
        restore_old()
        return took

    cli_window, fork_window = window(start), window(Forked)
    assert (project / ".kit-build.lock").is_file()

    # Every kill interrupts the same change, old → new, so that each one can be
    # compared byte for byte; a kill that let the new site in puts the old one back.
    jitter = random.Random(11)

    def moments(n: int, window: float) -> list[float]:  # spread over the window and a little past it
        return [(i + jitter.random()) / n * 1.1 * window for i in range(n)]

    points = [("pages", rendering, start), ("mkdocs", in_mkdocs, start)] + [
        ("moment", delay, start) for delay in moments(CLI_KILLS, cli_window)] + [
        ("moment", delay, Forked) for delay in moments(FORK_KILLS, fork_window)]
    outcomes = []
    for point, when, launch in points:
        stale = set(stages(project))  # left by earlier kills; the next build removes them
        proc = launch(project)

        def started(condition=lambda stage: True) -> bool:
            return any(condition(stage) for stage in set(stages(project)) - stale)

        if point == "moment":
            assert wait_for(started, proc)
            time.sleep(when)
        else:
            assert wait_for(lambda: started(when), proc), (point, said(proc))
        mid_way = proc.poll() is None
        proc.kill()
        proc.wait()
        killed = snapshot(project)
        assert killed is not None, point
        assert killed in (old, new), point  # the whole old site or the whole new one, never a mix
        outcomes.append((point, mid_way, "old" if killed == old else "new"))
        if point != "moment":  # killed before the swap: the old site, and the next build cleans up
            assert killed == old, point
            assert next_build(project) == new  # the killed build's lock does not block it
        if snapshot(project) == new:
            restore_old()
    assert next_build(project) == new  # and no staging folder is left from any of the kills
    assert checkpoints(project) == 2
    assert sum(mid_way for _, mid_way, _ in outcomes) >= len(points) // 2, outcomes


# --- killed inside the swap -----------------------------------------------------------


def exchange_then_die() -> None:
    real = kit.site._exchange

    def exchange(a, b):
        assert real(a, b)
        die()

    kit.site._exchange = exchange


def die_before_exchange() -> None:
    kit.site._exchange = lambda a, b: die()


def exchange_works(folder: Path) -> bool:
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    return kit.site._exchange(folder / "a", folder / "b")


def two_step_swap_dying(after: str):
    """Like Windows (no exchange): die right after the old site moves aside, or after the new one is in place."""
    def setup() -> None:
        real = os.replace
        kit.site._exchange = lambda a, b: False

        def replace(src, dst, **kwargs):
            real(src, dst, **kwargs)
            if Path(src).name == "site" and Path(dst).parent.name == "old" and after == "aside":
                die()
            if Path(dst).name == "site" and Path(src).parent.name.startswith(".kit-build-") and after == "placed":
                die()

        os.replace = replace
    return setup


@pytest.mark.parametrize("point, setup, expected", [
    ("before the exchange", die_before_exchange, "old"),
    ("after the exchange", exchange_then_die, "new"),
    ("old site moved aside", two_step_swap_dying("aside"), "old"),
    ("new site in place", two_step_swap_dying("placed"), "new"),
])
def test_sigkill_inside_the_swap_is_recovered(sites, project, tmp_path, point, setup, expected):
    if point == "after the exchange" and not exchange_works(tmp_path):
        pytest.skip("this file system cannot exchange folders; builds use the two-step swap")
    old, new = sites.old, sites.new
    assert Forked(project, setup).wait() == -signal.SIGKILL, point
    assert stages(project), point  # the killed build could not clean up
    killed = snapshot(project)
    if point == "old site moved aside":
        assert killed is None  # the one moment with no site folder; the next build puts it back
    else:
        assert killed == {"old": old, "new": new}[expected], point

    # The next build recovers first. Here it refuses (a row published by the site in
    # place was changed) and still names the row: the private row map written before
    # the swap covers whichever site a kill leaves.
    edited = "E101" if expected == "new" else "E1"
    set_version(project, 1, {edited: 3})
    refused = run_kit(project, *BUILD)
    assert refused.exit_code == 1, refused.output
    assert "history-rewritten" in refused.stderr
    assert f"行（{edited}）" in refused.stderr and "无法确定位置" not in refused.stderr
    assert snapshot(project) == {"old": old, "new": new}[expected]
    assert stages(project) == []

    set_version(project, 1)
    assert next_build(project) == new
    assert checkpoints(project) == 2  # history went on from the recovered site


def test_two_step_swap_publishes_the_same_site(sites, project, monkeypatch):
    monkeypatch.setattr(kit.site, "_exchange", lambda a, b: False)
    assert next_build(project) == sites.new


def test_recovery_restores_only_missing_sites(sites, project):
    # Stale stages: one moved aside a site that is in place again (a kill after the
    # second rename): dropped. Another one moved aside the only copy of a second
    # site kept in the same folder (output.site): put back, as that site's build would.
    for stage, name in ((".kit-build-a", "site"), (".kit-build-b", "其他网站")):
        (project / stage / "old" / name).mkdir(parents=True)
        (project / stage / "old" / name / "index.html").write_text(stage, encoding="utf-8")
    assert next_build(project) == sites.new
    assert (project / "其他网站" / "index.html").read_text(encoding="utf-8") == ".kit-build-b"


# --- two builds at once ---------------------------------------------------------------


def test_second_build_refuses_while_one_runs_and_never_interleaves(sites, project):
    before = sites.old
    first = start(project, capture=True)
    assert wait_for(lambda: stages(project), first)  # the stage exists only under the lock
    os.kill(first.pid, signal.SIGSTOP)  # hold the first build mid-way, whatever the machine's speed
    try:
        working = stages(project)
        second = run_kit(project, *BUILD)
        assert second.exit_code == 2, second.output
        assert "无法继续（build-running）" in second.stderr
        assert "另一个 kit build 正在生成这个网站" in second.stderr and "网站保持不变" in second.stderr
        assert "Traceback" not in second.output
        assert stages(project) == working  # it did not clean up the running build's stage
        assert snapshot(project) == before
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert snapshot(project) == sites.new  # exactly the first build's site: nothing of the second
    assert stages(project) == []


HOLD = """
import sys, time
from pathlib import Path
from kit.lock import exclusive
with exclusive(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_dies_with_its_process(tmp_path):
    lock = tmp_path / ".kit-build.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy):
            with exclusive(lock):
                pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with exclusive(lock):  # nothing to delete by hand after a kill
        with pytest.raises(Busy):  # and it excludes a second open in the same process too
            with exclusive(lock):
                pass
    with exclusive(lock):  # released after the block
        pass
