"""The codes and ids staff most likely meant when they typed one that does not exist.

Staff type codes by hand on phones and in WPS: case, full-width letters (ＸＬ０１), O for 0
and l or I for 1 are the usual slips, then one key too many, too few, wrong or swapped.
A look-alike match wins over an edit; edits are found through a one-deletion index
(as SymSpell does), so 100,000 resident ids cost one pass to index and a few dictionary
lookups per typo, not 100,000 comparisons.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Characters read alike on a form: one skeleton for each group.
_ALIKE = str.maketrans({"O": "0", "I": "1", "L": "1", "|": "1", "—": "-", "_": "-", " ": ""})


def folded(text: str) -> str:
    """What staff mean: full-width as half-width, any case, no surrounding spaces."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def skeleton(text: str) -> str:
    return folded(text).translate(_ALIKE)


def _deletions(text: str) -> set[str]:
    return {text[:i] + text[i + 1:] for i in range(len(text))}


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insert, delete, substitute, swap neighbours."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]


class Suggester:
    """Existing ids, in sheet order; near(typed) gives the likeliest ones, best first."""

    def __init__(self, ids: Iterable[str], most: int = 3):
        self.ids = list(dict.fromkeys(i for i in ids if i))
        self.most = most
        self._alike: dict[str, list[str]] | None = None
        self._near: dict[str, list[str]] | None = None

    def _index(self) -> None:
        self._alike, self._near = {}, {}
        for known in self.ids:
            shape = skeleton(known)
            self._alike.setdefault(shape, []).append(known)
            for key in {shape} | _deletions(shape):
                self._near.setdefault(key, []).append(known)

    def near(self, typed: str) -> list[str]:
        if self._alike is None:
            self._index()
        shape = skeleton(str(typed))
        if not shape:
            return []
        alike = [k for k in self._alike.get(shape, ()) if k != typed]
        if alike:
            return alike[: self.most]
        if len(shape) < 3:  # one edit away from a two-letter code is half the alphabet
            return []
        found: dict[str, int] = {}
        for key in {shape} | _deletions(shape):
            for known in self._near.get(key, ()):
                if known not in found:
                    distance = edit_distance(shape, skeleton(known))
                    if distance <= 1:
                        found[known] = distance
        order = {k: n for n, k in enumerate(self.ids)}
        return sorted(found, key=lambda k: (found[k], order[k]))[: self.most]


def did_you_mean(candidates: list[str], label=None) -> str:
    """是不是 XL01（治安巡逻）？ — empty when nothing is close."""
    if not candidates:
        return ""
    shown = [f"{c}（{label(c)}）" if label and label(c) else c for c in candidates]
    return f"是不是 {'或 '.join(shown)}？"
