"""What the contact center asks of a channel (voice, chat, email, forms/callbacks).

Each channel registers one adapter; the contact center calls it when routing decides
something the customer or the agent's device must feel (ring the agent's phone, tell a
waiting caller their position, hang up). Adapters never touch routing state directly: they
report back through the ContactCenter methods (``accepted``, ``ended``, ``abandoned``…).
"""

from __future__ import annotations

from typing import Any, Protocol

from ccserver.domain import Interaction


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
