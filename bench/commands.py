"""The kit's commands at sub-district scale: wall time and peak RSS of each, as a
ratio to reading the same file with python-calamine alone, in the same run.

    python bench/commands.py [--workbook PATH] [--residents N] [--entries N]
                             [--redemptions N] [--dir DIR]

Without --workbook a book is generated (bench/generate.py) and written first.
The commands run as real `kit` processes in a fresh project (kit init) holding the
workbook; each child's peak RSS comes from wait4. Also reported: the site's files,
bytes, largest page and search index. Figures only; no pass/fail.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/commands.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import AS_OF, ENTRIES, REDEMPTIONS, RESIDENTS, SEED, big_book, write_workbook

KIT = [sys.executable, "-m", "kit"]
RAW_READ = """
import sys, python_calamine
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
rows = sum(len(book.get_sheet_by_name(n).to_python(skip_empty_area=False)) for n in book.sheet_names)
print(rows)
"""
# (label, arguments after `kit`, target as a ratio to the raw read, None when the issue sets none)
COMMANDS = (
    ("kit validate", ["validate", "--as-of", AS_OF.isoformat()], 1.5),
    ("kit balances", ["balances", "--as-of", AS_OF.isoformat(), "--format", "csv"], 1.7),
    # the generated book has a few overdrawn redemptions (ledger errors): build skips them
    ("kit build", ["build", "--as-of", AS_OF.isoformat(), "--skip-invalid"], 3.0),
    ("kit build (unchanged)", ["build", "--as-of", AS_OF.isoformat(), "--skip-invalid"], None),
    ("kit cards --grid", None, None),  # arguments need the first grid's id
)
RSS_TARGET_MB = 2048


def run(args: list[str], cwd: Path, stdout=subprocess.DEVNULL) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit status, stderr tail) of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(args, cwd=cwd, stdout=stdout, stderr=err)
        status, peak = wait_with_peak(child)
        wall = time.perf_counter() - started
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-300:]
    return wall, peak, status, tail


def wait_with_peak(child: subprocess.Popen, every: float = 0.02) -> tuple[int, float]:
    """(exit status, peak RSS MB) of a child, from its own VmHWM.

    Not wait4's ru_maxrss: Linux carries the parent's high-water mark over fork and
    exec, so a child of a big process would report the parent's size."""
    peak_kb = 0
    status_file = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(every)
    return child.returncode, peak_kb / 1024


def site_size(site: Path) -> dict[str, object]:
    files = [p for p in site.rglob("*") if p.is_file()]
    pages = [p for p in files if p.suffix == ".html"]
    if not pages:
        return {"files": "no site was built"}
    largest = max(pages, key=lambda p: p.stat().st_size)
    index = site / "search" / "search_index.json"
    sealed = [p for p in files if p.parent.name == "d" and p.suffix == ".bin"]
    return {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "pages": len(pages),
        "largest page": f"{largest.relative_to(site)} ({largest.stat().st_size / 1e6:.2f} MB)",
        "search index": f"{index.stat().st_size / 1e6:.3f} MB" if index.is_file() else "none",
        "sealed personal files": f"{len(sealed):,} ({sum(p.stat().st_size for p in sealed) / 1e6:.1f} MB)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time kit's commands at scale.")
    parser.add_argument("--workbook", type=Path, help="use this xlsx instead of generating one")
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--redemptions", type=int, default=REDEMPTIONS)
    parser.add_argument("--dir", type=Path, help="project folder to use (default: a temporary one)")
    args = parser.parse_args(argv)

    root = args.dir or Path(tempfile.mkdtemp(prefix="kit-bench-"))
    print(f"python {platform.python_version()} on {os.cpu_count()} cores; project {root}; as of {AS_OF}")
    subprocess.run([*KIT, "init", str(root)], check=True, stdout=subprocess.DEVNULL)
    workbook = root / "sheets" / "ledger.xlsx"
    if args.workbook:
        shutil.copyfile(args.workbook, workbook)
    else:
        started = time.perf_counter()
        book = big_book(args.residents, args.entries, args.redemptions, SEED)
        write_workbook(book, workbook)
        print(f"generated and wrote {len(book.entries):,} entries, {len(book.residents):,} residents "
              f"in {time.perf_counter() - started:.1f} s")
    print(f"workbook {workbook.stat().st_size / 1e6:.1f} MB")
    (root / "private").mkdir(exist_ok=True)

    raw, raw_rss, status, tail = run([sys.executable, "-c", RAW_READ, str(workbook)], root)
    assert status == 0, tail
    print(f"\n{'step':26s} {'wall s':>8s} {'× raw':>7s} {'target':>7s} {'peak RSS MB':>12s}")
    print(f"{'raw read (calamine alone)':26s} {raw:8.2f} {1:7.2f} {'':>7s} {raw_rss:12.0f}")
    grid = _first_grid(workbook)
    for label, command, target in COMMANDS:
        command = command or ["cards", "--grid", grid, "-o", str(root / "private" / "cards.pdf")]
        out = open(root / "private" / "balances.csv", "wb") if label == "kit balances" else subprocess.DEVNULL
        try:
            wall, rss, status, tail = run([*KIT, *command], root, stdout=out)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        goal = f"≤{target:.1f}×" if target else ("≤2 s" if "unchanged" in label else "")
        met = (wall / raw <= target if target else wall <= 2 if "unchanged" in label else True) \
            and rss <= RSS_TARGET_MB
        flag = "" if status in (0, 1) else f"  exit {status}: {tail.strip()[-200:]}"
        print(f"{label:26s} {wall:8.2f} {wall / raw:7.2f} {goal:>7s} {rss:12.0f}"
              f"{'' if met else '  (target missed)'}{flag}")
    print("\nsite/")
    for key, value in site_size(root / "site").items():
        print(f"  {key:24s} {value}")
    return 0


def _first_grid(workbook: Path) -> str:
    import python_calamine

    rows = python_calamine.CalamineWorkbook.from_path(str(workbook)).get_sheet_by_name("居民").to_python()
    return str(rows[1][2])


if __name__ == "__main__":
    sys.exit(main())
