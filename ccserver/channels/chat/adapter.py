"""What the contact center asks of a chat (the ChannelAdapter for Channel.CHAT): an offer
is shown on the console only, an accept joins the agent to the conversation, a transfer
continues it as a new leg, the end asks the customer for the survey; after hours the
customer is offered to leave a message or ask for a callback."""

from __future__ import annotations

from typing import Any

from ccserver.channels.chat.service import ChatService, interaction_topic, public_customer
from ccserver.channels.chat.session import ChatSession
from ccserver.domain import Interaction
from ccserver.errors import ValidationFailed


class ChatChannelAdapter:
    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    async def offer(
        self, interaction: Interaction, agent_id: str, endpoint: str | None, expires_at: float
    ) -> None:
        return None  # the console shows the offer; the customer keeps waiting

    async def revoke_offer(self, interaction: Interaction, agent_id: str) -> None:
        return None

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        s = self.chat.sessions.get(interaction.id)
        if s is None:
            return
        info = self.chat.cc.agents.get(agent_id)
        s.state, s.agent_id = "connected", agent_id
        s.agent_name = info.display_name if info else "Agent"
        await s.emit("agent_joined", {"name": s.agent_name})
        await self.chat.to_agent(
            s, "chat_history", {"interaction_id": s.id, "case_number": s.case_number,
                                "customer": public_customer(s), "lines": list(s.transcript)},
        )  # fmt: skip

    async def announce(self, interaction: Interaction, position: int, ewt_s: float) -> None:
        await self.chat.announce(interaction, position, ewt_s)

    async def control(
        self, interaction: Interaction, action: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        s = self.chat.sessions.get(interaction.id)
        if action == "monitor" and s is not None:
            # A chat is watched, not listened to: where its lines are (the answer is audited,
            # so it names them rather than carrying them).
            return {
                "topic": interaction_topic(s.id),
                "transcript": f"/api/v1/supervisor/interactions/{s.id}/chat",
            }
        if action == "transfer_queue" and s is not None:
            await self._transferred(s, str(params["new_interaction"]), str(params["queue"]))
            return {}
        if action in ("voicemail", "callback", "disconnect") and s is not None:
            # After hours / overflow: offer the customer the ways to leave word.
            await s.emit("no_agents", {"options": ["leave_message", "callback"]})
            s.state = "closed"  # routing is done with it; the customer can still leave word
            return {}
        raise ValidationFailed(f"a chat has no {action} control")

    async def _transferred(self, s: ChatSession, new_id_: str, queue: str) -> None:
        """The agent sent the chat to another queue: the same conversation continues as
        the new interaction (a new contact linked to the first)."""
        leg = self.chat.cc.interactions.get(new_id_)
        self.chat.sessions.pop(s.id, None)
        s.id, s.state, s.queue, s.agent_id = new_id_, "queued", queue, None
        if leg is not None and leg.contact_id:
            s.contact_id = leg.contact_id
        self.chat.sessions[new_id_] = s
        await s.emit("transferred", {"queue": queue})

    async def end(self, interaction: Interaction) -> None:
        """The agent closed the chat: the customer is asked for the survey."""
        s = self.chat.sessions.get(interaction.id)
        if s is not None and s.state != "ended":
            await s.emit("agent_left", {"name": s.agent_name})
            await self.chat.finish(s, ask_survey=True)
