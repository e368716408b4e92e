"""kit rotate-secret: replace the 化名密钥, keeping the old one to verify what was published.

Only the 设置 cells change: 化名密钥 gets a new secret from the generator, and the
old one is added to 旧化名密钥 (a new row when there is none). The next build
declares the change in the ledger fingerprint (kit/fingerprint.py ROTATION_NOTE).
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.keys import new_secret, split_keys
from kit.schema import SETTINGS_BY_KEY, labels, normalize_label
from kit.tables import SheetLayout
from kit.values import is_empty
from kit.write_back import Columns


@dataclass(frozen=True)
class Rotation:
    secret: str
    retired: str  # the new 旧化名密钥
    columns: Columns  # the 设置 cells to write


def plan_rotation(layout: SheetLayout, cells: list[list[object]]) -> Rotation:
    """cells: the 设置 sheet as it is in the file, row 1 first."""
    key_col, value_col = layout.columns["key"], layout.columns["value"]
    rows: dict[str, tuple[int, str]] = {}  # setting key → (row, raw value)
    last = layout.header_row
    for number, row in enumerate(cells, start=1):
        if number <= layout.header_row or not any(not is_empty(c) for c in row):
            continue
        last = number
        name = normalize_label(row[key_col]) if key_col < len(row) else ""
        for key in ("pseudonym_secret", "retired_secrets"):
            if name in labels(SETTINGS_BY_KEY[key]) and key not in rows:
                value = row[value_col] if value_col < len(row) else ""
                rows[key] = (number, "" if is_empty(value) else str(value).strip())
    secret = new_secret()
    old_secret = rows.get("pseudonym_secret", (0, ""))[1]
    retired = " ".join(dict.fromkeys((*split_keys(rows.get("retired_secrets", (0, ""))[1]),
                                      *((old_secret,) if old_secret else ()))))
    columns: Columns = {"key": {}, "value": {}}
    for key, text in (("pseudonym_secret", secret), ("retired_secrets", retired)):
        if not text:
            continue
        if key in rows:
            columns["value"][rows[key][0]] = text
        else:  # a new row after the last setting
            last += 1
            columns["key"][last] = SETTINGS_BY_KEY[key].zh
            columns["value"][last] = text
    return Rotation(secret, retired, columns)
