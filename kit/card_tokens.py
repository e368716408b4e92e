"""Card tokens for residents who have none, new ones for lost cards (written back by kit/write_back.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.errors import KitError
from kit.keys import retired_tokens
from kit.model import Resident
from kit.tokens import new_token
from kit.write_back import Columns


@dataclass(frozen=True)
class TokenPlan:
    new: dict[str, str]  # resident_id → token, for residents who had none
    reissued: dict[str, str]  # resident_id → token replacing a lost card's
    retired: dict[str, str] = field(default_factory=dict)  # resident_id → 旧卡号 with the lost card's token added

    @property
    def changes(self) -> dict[str, str]:
        return self.new | self.reissued


def plan_tokens(residents: tuple[Resident, ...], reissue: set[str]) -> TokenPlan:
    """New tokens for residents without one, and for those whose card is reissued; a lost
    card's token goes into 旧卡号, which keeps its published records verifiable (kit/keys.py)."""
    by_id = {r.resident_id: r for r in residents}
    unknown = sorted(reissue - set(by_id))
    if unknown:
        raise KitError(f"补办卡片的居民编号不在“居民”表中（或那一行有错误）：{'、'.join(unknown)}。")
    new = {r.resident_id: new_token() for r in residents if not r.card_token and r.resident_id not in reissue}
    reissued = {rid: new_token() for rid in sorted(reissue)}
    retired = {rid: " ".join((*retired_tokens(by_id[rid]), by_id[rid].card_token))
               for rid in sorted(reissue) if by_id[rid].card_token}
    return TokenPlan(new, reissued, retired)


def token_columns(plan: TokenPlan, rows: dict[str, int]) -> Columns:
    """The 居民 cells the plan changes: 卡号, and 旧卡号 for reissued cards."""
    return {"card_token": {rows[rid]: token for rid, token in plan.changes.items()},
            "retired_tokens": {rows[rid]: text for rid, text in plan.retired.items()}}
