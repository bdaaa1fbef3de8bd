"""What became of a command, as the bridge reports it to the user on the gateway's entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pw2mqtt.commands.parse import Transaction
from pw2mqtt.entities.catalogue import format_value

Status = Literal["applied", "unchanged", "refused", "failed", "rejected"]
MAX_SUMMARY: Final = 255  # the longest state Home Assistant keeps


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a gateway did: `applied` (confirmed), `unchanged` (already so); errors raise."""

    status: str  # "applied" | "unchanged"
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """`refused`: the gateway said no (403/404/405), now or recently; `failed`: it could not
    be carried out now; `rejected`: it never reached the gateway (bad value, not enabled)."""

    gateway: str
    status: Status
    change: dict[str, Any]
    reason: str | None = None
    transaction: Transaction = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def summary(self) -> str:
        """One line: `backup_reserve 25: refused, not permitted for the customer role …`."""
        asked = ", ".join(
            f"{key} {format_value(value)}"
            for key, value in self.change.items()
            if key != "backup_reserve_raw"
        )
        text = f"{asked or 'command'}: {self.status}"
        if self.reason:
            text += f", {self.reason}"
        return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "change": self.change,
            "reason": self.reason,
            "at": self.at.isoformat(timespec="seconds"),
            "transaction": self.transaction,
        }
