"""The path a caller took through a flow, kept for the interaction and the CRM contact.

Reports read it to show where callers abandon (``exit``) and which self-service answers
resolved a call without an agent (``self_service``). Sensitive inputs are masked here,
before anything leaves the session.
"""

from __future__ import annotations

from typing import Any

from ivr.checkdigit import mask

# Exits that mean the caller got what they needed from self-service (no agent involved).
_SELF_SERVED_EXITS = frozenset({"hangup", "caller_hangup"})


class PathRecorder:
    def __init__(self, flow: str, channel: str, now: float) -> None:
        self.flow, self.channel, self.started_at = flow, channel, now
        self.nodes: list[dict[str, Any]] = []
        self.inputs: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.exit: dict[str, Any] | None = None
        self.ended_at: float | None = None

    def enter(self, node: str, kind: str, now: float) -> None:
        self.leave(now)
        self.nodes.append({"node": node, "kind": kind, "at": now, "seconds": None})

    def leave(self, now: float) -> None:
        if self.nodes and self.nodes[-1]["seconds"] is None:
            self.nodes[-1]["seconds"] = round(now - self.nodes[-1]["at"], 3)

    def input(self, node: str, value: str | None, result: str, now: float, sensitive: bool) -> None:
        shown = None if value is None else (mask(value) if sensitive else value)
        self.inputs.append({"node": node, "input": shown, "result": result, "at": now})

    def answer(self, node: str, lookup: str, outcome: str) -> None:
        self.answers.append({"node": node, "lookup": lookup, "outcome": outcome})

    def finish(self, node: str, outcome: str, now: float, **extra: Any) -> None:
        self.leave(now)
        self.ended_at = now
        self.exit = {"node": node, "outcome": outcome, **extra}

    def as_dict(self, **context: Any) -> dict[str, Any]:
        answered = any(a["outcome"] == "answered" for a in self.answers)
        resolved = answered and self.exit is not None and self.exit["outcome"] in _SELF_SERVED_EXITS
        return {
            "flow": self.flow,
            "channel": self.channel,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "nodes": [dict(n) for n in self.nodes],
            "inputs": [dict(i) for i in self.inputs],
            "exit": None if self.exit is None else dict(self.exit),
            "self_service": {"answers": [dict(a) for a in self.answers], "resolved": resolved},
            **context,
        }
