"""What the contact center asks of a channel (voice, chat, email, forms/callbacks).

Each channel registers one adapter; the contact center calls it when routing decides
something the customer or the agent's device must feel (ring the agent's phone, tell a
waiting caller their position, hang up). Adapters never touch routing state directly: they
report back through the ContactCenter methods (``accepted``, ``ended``, ``abandoned``…).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ccserver.domain import Interaction
from ccserver.errors import ValidationFailed


class ChannelAdapter(Protocol):
    async def offer(
        self, interaction: Interaction, agent_id: str, endpoint: str | None, expires_at: float
    ) -> None:
        """An agent was reserved. Voice dials the agent's endpoint; text channels do nothing
        (the console shows the offer and the agent accepts there)."""

    async def revoke_offer(self, interaction: Interaction, agent_id: str) -> None:
        """The offer ended without an answer (timeout, reject, caller gone)."""

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        """The agent accepted from the console: join customer and agent."""

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        """Tell a waiting customer their place and the estimated wait."""

    async def control(
        self, interaction: Interaction, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Agent call control: hold, unhold, hangup, record, stop_record, dtmf, transfer…
        Returns details for the console; raises a CcserverError when not possible."""
        ...

    async def end(self, interaction: Interaction) -> None:
        """The interaction is over from ccserver's side (agent hung up / closed the chat)."""


# Routing's exits (overflow / after hours) and a queue transfer: for a channel whose customer
# is not held on a line, the work simply stays stored on its case.
QUIET_CONTROLS = frozenset({"voicemail", "callback", "disconnect", "transfer_queue"})


class QuietChannelAdapter:
    """Defaults for channels whose customer does not wait on a line (email, callbacks and
    follow-ups before the dial): an offer, its withdrawal, an announcement and the end need
    no I/O; subclasses override what their channel does."""

    label: ClassVar[str] = "this channel"

    async def offer(
        self, interaction: Interaction, agent_id: str, endpoint: str | None, expires_at: float
    ) -> None:
        return None  # the console shows the offer; the agent accepts there

    async def revoke_offer(self, interaction: Interaction, agent_id: str) -> None:
        return None

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        return None

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        return None

    async def control(
        self, interaction: Interaction, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        if action in QUIET_CONTROLS:
            return {}
        raise ValidationFailed(f"{self.label} has no {action} control")

    async def end(self, interaction: Interaction) -> None:
        return None
