"""How long the points engine takes, and how much memory, at sub-district scale.

    python bench/ledger.py [--residents 100000] [--entries 1000000] [--redemptions 50000]
    python bench/ledger.py --workbook PATH [--as-of 2026-11-15]

Reports, separately: (a) generating the book, or with --workbook reading the file
(python-calamine alone) and validating it (kit.pipeline.validate, which already
includes one ledger run); (b) kit.ledger.compute alone: wall time, process peak
RSS before/after, and the tracemalloc peak of a second, traced run; (c) counts,
problems by code and the per-account invariant. Figures only; no pass/fail.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gc
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/ledger.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import AS_OF, ENTRIES, REDEMPTIONS, RESIDENTS, SEED, big_book
from kit.ledger import Ledger, compute
from kit.model import Book
from kit.problems import Problem


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time and measure kit.ledger.compute.")
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--redemptions", type=int, default=REDEMPTIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workbook", type=Path, help="read and validate this xlsx instead of generating")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF,
                        help=f"the ledger date (default {AS_OF}, the generated books' own)")
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="skip the second, traced compute run (it is 2-3× slower)")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()} on {os.cpu_count()} cores; as of {args.as_of}")
    print()
    section("(a) input")
    if args.workbook:
        book, extra = _from_workbook(args.workbook, args.as_of)
    else:
        started = time.perf_counter()
        book = big_book(args.residents, args.entries, args.redemptions, args.seed)
        line("generation (bench.generate.big_book)", seconds(time.perf_counter() - started))
        extra = None
    line("process peak RSS so far", megabytes(peak_rss()))

    gc.collect()
    print()
    section("(b) kit.ledger.compute alone")
    rss_before, peak_before = current_rss(), peak_rss()
    started = time.perf_counter()
    ledger = compute(book, args.as_of)
    elapsed = time.perf_counter() - started
    rss_after, peak_after = current_rss(), peak_rss()
    line("compute time", seconds(elapsed))
    line("process current RSS before → after", f"{megabytes(rss_before)} → {megabytes(rss_after)}")
    line("process peak RSS before → after", f"{megabytes(peak_before)} → {megabytes(peak_after)}")

    if not args.no_tracemalloc:
        del ledger  # the traced run's ledger is the one counted below
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        ledger = compute(book, args.as_of)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        line("tracemalloc peak during compute", megabytes(peak))
        line("  (second run, traced: takes longer)", seconds(elapsed))

    print()
    section("(c) counts")
    report_counts(book, ledger, extra)


def _from_workbook(path: Path, as_of: dt.date) -> tuple[Book, tuple[Problem, ...]]:
    import python_calamine

    from kit.pipeline import open_source, validate

    line("workbook", f"{path} ({megabytes(path.stat().st_size)})")
    started = time.perf_counter()
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = 0
    for name in workbook.sheet_names:
        rows += len(workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
    line("reading alone (python-calamine, all sheets)", f"{seconds(time.perf_counter() - started)}"
         f"  ({rows:,} rows)")
    del workbook
    gc.collect()
    started = time.perf_counter()
    validated = validate(open_source(path), as_of)
    line("reading + validation (kit.pipeline.validate)", seconds(time.perf_counter() - started))
    line("  (validate includes one ledger run)", "")
    from_ledger = {id(p) for p in validated.ledger.problems}
    workbook_problems = tuple(p for p in validated.problems if id(p) not in from_ledger)
    return validated.book, workbook_problems


def report_counts(book: Book, ledger: Ledger, workbook_problems: tuple[Problem, ...] | None) -> None:
    statuses = collections.Counter(e.status for e in book.entries)
    line("residents", f"{len(book.residents):,}")
    line("grids / staff", f"{len(book.grids):,} / {len(book.staff):,}")
    line("entries", f"{len(book.entries):,}  (" + ", ".join(
        f"{k} {v:,}" for k, v in sorted(statuses.items())) + ")")
    line("awards (counted entries)", f"{len(ledger.awards):,}")
    corrected = sum(1 for a in ledger.awards.values() if a.appeal is not None)
    line("appeals / corrections applied / under appeal",
         f"{len(book.appeals):,} / {corrected:,} / {len(ledger.under_appeal):,}")
    line("redemptions applied", f"{len(ledger.redemptions):,} of {len(book.redemptions):,}")
    if workbook_problems is not None:
        by_code = collections.Counter(p.code for p in workbook_problems)
        line("workbook problems (validation, not ledger)", f"{len(workbook_problems):,}")
        for code, count in sorted(by_code.items()):
            line(f"  {code}", f"{count:,}")
    by_code = collections.Counter((p.code, "error" if p.is_error else "warning") for p in ledger.problems)
    line("ledger problems", f"{len(ledger.problems):,}")
    for (code, severity), count in sorted(by_code.items()):
        line(f"  {code} ({severity})", f"{count:,}")

    accounts = ledger.accounts.values()
    earned = sum(a.earned for a in accounts)
    redeemed = sum(a.redeemed for a in accounts)
    decayed = sum(a.decayed for a in accounts)
    balance = sum(a.balance for a in accounts)
    line("points earned / redeemed / decayed", f"{earned:,} / {redeemed:,} / {decayed:,}")
    line("points balance / expiring in 30 days",
         f"{balance:,} / {sum(a.expiring_30d for a in accounts):,}")
    line("events", f"{sum(len(a.events) for a in accounts):,}")

    broken = [a.resident_id for a in accounts
              if a.earned - a.redeemed - a.decayed != a.balance
              or sum(e.points for e in a.events) != a.balance
              or a.balance < 0]
    costs = {r.code: r.cost for r in book.rewards}
    applied_cost = sum(costs[r.reward_code] * r.quantity for r in ledger.redemptions)
    if broken:
        verdict = f"FAILS for {len(broken):,} of {len(ledger.accounts):,} accounts, e.g. {broken[:5]}"
    else:
        verdict = f"holds for all {len(ledger.accounts):,} accounts"
    line("earned − redeemed − decayed = balance ≥ 0", verdict)
    line("  (balance also = the sum of the account's events)", "")
    line("redeemed = cost of applied redemptions",
         "yes" if applied_cost == redeemed else f"no: {applied_cost:,} ≠ {redeemed:,}")
    stock = {r.code: r.stock for r in book.rewards}
    over = [code for code, used in ledger.stock_used.items()
            if stock.get(code) is not None and used > stock[code]]
    line("stock used within stock", "yes" if not over else f"no: {over}")


# --- plain table -----------------------------------------------------------------

WIDTH = 48


def section(title: str) -> None:
    print(title)
    print("-" * (WIDTH + 24))


def line(label: str, value: str) -> None:
    if not value:
        print(label, flush=True)
        return
    pad = WIDTH - _width(label)
    print(f"{label}{' ' * max(1, pad)}{value}", flush=True)


def _width(text: str) -> int:
    """Columns on a terminal: CJK and full-width characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def megabytes(value: float) -> str:
    return f"{value / 1e6:,.1f} MB"


def peak_rss() -> int:
    """The process's peak resident set size so far, in bytes (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def current_rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


if __name__ == "__main__":
    main()
