"""Where workbook cells come from. A source yields raw cells only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CellError:
    """A cell holding a formula error such as #DIV/0! or #N/A (not an empty cell)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RawSheet:
    name: str  # as shown on the sheet tab
    rows: list[list[object]]  # rows[0] is spreadsheet row 1; '' for an empty cell


class Source(Protocol):
    label: str  # how the staff know it (file name or sheet title)

    def sheet_names(self) -> list[str]: ...

    def read(self, name: str) -> RawSheet: ...
