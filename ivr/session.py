"""One caller's walk through a flow: events in, actions out, no I/O (DESIGN.md §2).

>>> s = IvrSession(flow, "voice", now=0.0, caller_id="15551230000")
>>> s.handle(Started(0.0))        # -> [Lookup("customer_by_phone", ...)] or [Play, Collect]
>>> s.handle(Digits(3.2, "1"))    # -> next batch (see ivr.actions for the batch shape)

The runtime executes each batch in order, answers a trailing ``Lookup`` with
``LookupResult``, a trailing ``Collect`` with ``Digits``/``Text``/``Timeout`` (by
``session.deadline``), and stops after a terminal action. ``Hangup`` may come at any time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ccserver.errors import IllegalTransition
from ivr import actions as a
from ivr import events as e
from ivr.errors import IvrSessionError
from ivr.inputs import LANGUAGE_NAMES, as_int, interpret
from ivr.model import Flow, Node, NodeKind
from ivr.record import PathRecorder

ChannelKind = Literal["voice", "chat"]
QueueOpen = Callable[[str, float], bool]


class IvrState(enum.StrEnum):
    IDLE = "idle"
    WAITING_INPUT = "waiting_input"
    WAITING_LOOKUP = "waiting_lookup"
    FINISHED = "finished"


_S = IvrState
_INPUT_EVENTS = ("digits", "text", "timeout")
# (state, event) -> handler. Anything else is an IllegalTransition: the runtime is out of step.
TRANSITIONS: dict[tuple[IvrState, str], str] = {
    (_S.IDLE, "started"): "_on_started",
    **{(_S.WAITING_INPUT, ev): "_on_input" for ev in _INPUT_EVENTS},
    (_S.WAITING_LOOKUP, "lookup_result"): "_on_lookup",
    **{(st, "hangup"): "_on_hangup" for st in (_S.IDLE, _S.WAITING_INPUT, _S.WAITING_LOOKUP)},
    # Prompts finishing and late hang-ups are facts the session has no use for.
    **{(st, "play_done"): "_ignore" for st in IvrState},
    (_S.FINISHED, "hangup"): "_ignore",
}
_EVENT_NAMES: dict[type, str] = {
    e.Started: "started", e.Digits: "digits", e.Text: "text", e.Timeout: "timeout",
    e.LookupResult: "lookup_result", e.PlayDone: "play_done", e.Hangup: "hangup",
}  # fmt: skip


class IvrSession:
    def __init__(
        self,
        flow: Flow,
        channel_kind: ChannelKind,
        now: float,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        queue_open: QueueOpen | None = None,
    ) -> None:
        if channel_kind not in ("voice", "chat"):
            raise ValueError(f"channel_kind must be 'voice' or 'chat', not {channel_kind!r}")
        self.flow = flow
        self.channel_kind = channel_kind
        self.caller_id = caller_id or None
        self.variables: dict[str, Any] = dict(variables or {})
        self.language = str(self.variables.get("language") or flow.default_language)
        if self.language not in flow.languages:
            self.language = flow.default_language
        self.state = IvrState.IDLE
        self.deadline: float | None = None
        self.attributes: dict[str, Any] = {"skills": {}, "priority": 0}
        self.scores: dict[str, int] = {}
        self._queue_open = queue_open
        self._node: Node = flow.nodes[flow.start]
        self._attempts = 0
        self._visits = 0
        self._identify_phase = "caller_id"
        self._lookup_purpose = ""
        self._survey_sent = False
        self._out: list[a.IvrAction] = []
        self._record = PathRecorder(flow.name, channel_kind, now)
        self._identified_by: str | None = None
        if self.variables.get("customer.id") is not None:  # known already (e.g. chat login)
            self.attributes["customer_id"] = str(self.variables["customer.id"])
            self._identified_by = "login"
        self._overflowed = False
        self._wait_start = now

    # --- public ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state is IvrState.FINISHED

    @property
    def node(self) -> str:
        return self._node.id

    def handle(self, event: e.IvrEvent) -> list[a.IvrAction]:
        name = _EVENT_NAMES[type(event)]
        handler = TRANSITIONS.get((self.state, name))
        if handler is None:
            raise IllegalTransition("ivr_session", self.state.value, name)
        self._out = []
        getattr(self, handler)(event)
        return self._out

    def path_record(self) -> dict[str, Any]:
        """JSON-serialisable path for the interaction and the CRM contact."""
        return self._record.as_dict(
            language=self.language,
            customer_id=self.attributes.get("customer_id"),
            identified_by=self._identified_by,
            attributes={k: v for k, v in self.attributes.items() if k != "skills"},
            skills=dict(self.attributes["skills"]),
            survey=dict(self.scores) or None,
        )

    def contact_fields(self) -> dict[str, Any]:
        """The record in the shape the runtime keeps on ``Interaction.attributes`` and the
        CRM contact: ``ivr_path`` (node visits), ``ivr_inputs`` (node -> accepted input,
        sensitive ones masked), ``ivr_exit``, ``ivr_resolved`` and, once the IVR is over,
        an ``outcome`` hint ("self_service" / "abandoned_ivr" / None when routed on)."""
        rec = self.path_record()
        exit_ = rec["exit"]
        resolved = rec["self_service"]["resolved"]
        outcome = None
        if resolved:
            outcome = "self_service"
        elif exit_ is not None and exit_["outcome"] == "caller_hangup":
            outcome = "abandoned_ivr"
        return {
            "ivr_path": rec["nodes"],
            "ivr_inputs": {i["node"]: i["input"] for i in rec["inputs"] if i["result"] == "ok"},
            "ivr_exit": exit_,
            "ivr_resolved": resolved,
            "outcome": outcome,
        }

    # --- event handlers --------------------------------------------------------------------
    def _ignore(self, event: e.IvrEvent) -> None:
        return None

    def _on_started(self, event: e.Started) -> None:
        self._run(self.flow.start, event.now)

    def _on_hangup(self, event: e.Hangup) -> None:
        self._emit_survey()
        self._finish(event.now, "caller_hangup")

    def _on_input(self, event: e.Digits | e.Text | e.Timeout) -> None:
        node, now = self._node, event.now
        if isinstance(event, e.Timeout):
            self._record.input(node.id, None, "no_input", now, node.sensitive)
            return self._retry(node, node.no_input_prompt, now)
        raw = event.digits if isinstance(event, e.Digits) else event.text
        value = interpret(node, raw, isinstance(event, e.Text), self._text)
        if value is None:
            self._record.input(node.id, raw.strip(), "invalid", now, node.sensitive)
            return self._retry(node, node.invalid_prompt, now)
        self._record.input(node.id, value, "ok", now, node.sensitive)
        self.deadline = None
        if node.kind is NodeKind.MENU:
            target = next(c.target for c in node.choices if c.digit == value)
            return self._run(target, now)
        if node.kind is NodeKind.LANGUAGE:
            self._set_language(next(c.target for c in node.choices if c.digit == value))
            return self._run(self._must(node.next), now)
        if node.kind is NodeKind.RATING:
            self.scores[self._must(node.variable)] = int(value)
            return self._run(self._must(node.next), now)
        if node.kind is NodeKind.IDENTIFY:
            kind = "customer_by_account" if node.by == "account" else "customer_by_order"
            self.variables[f"{node.by}_number"] = value
            return self._lookup(kind, value, "identify_input")
        var = self._must(node.variable)
        self.variables[var] = value
        if not node.sensitive:
            self._emit(a.SetAttribute(f"ivr.{var}", value))
        self._run(self._must(node.next), now)

    def _on_lookup(self, event: e.LookupResult) -> None:
        node, now, data = self._node, event.now, event.data
        purpose = self._lookup_purpose
        if purpose.startswith("identify"):
            if data is not None:
                self._identified_by = "caller_id" if purpose == "identify_phone" else node.by
                self._set_customer(data)
                return self._run(self._must(node.next), now)
            if purpose == "identify_phone":
                self._identify_phase = "input"
                return self._collect(node, now)
            self._record.input(node.id, self.variables.get(f"{node.by}_number"), "not_found",
                               now, node.sensitive)  # fmt: skip
            return self._retry(node, node.not_found_prompt or node.invalid_prompt, now)
        if purpose == "branch":
            is_open = bool(data and data.get("open"))
            return self._run(self._branch_target(node, "true" if is_open else "false"), now)
        self._answer(node, data, now)

    # --- walking the graph -----------------------------------------------------------------
    def _run(self, node_id: str, now: float) -> None:
        """Visit nodes until one waits (input or lookup) or ends the IVR."""
        next_id: str | None = node_id
        while next_id is not None:
            self._visits += 1
            if self._visits > self.flow.max_visits:
                overflow = self.flow.overflow
                if overflow is None or self._overflowed:
                    self._emit(a.Hangup("loop_guard"))
                    return self._finish(now, "loop_guard")
                next_id, self._overflowed = overflow, True
            node = self.flow.nodes[next_id]
            self._node, self._attempts = node, 0
            self._record.enter(node.id, node.kind.value, now)
            next_id = self._visit(node, now)

    def _visit(self, node: Node, now: float) -> str | None:
        k = node.kind
        if k is NodeKind.PLAY:
            interruptible = self.flow.nodes[self._must(node.next)].kind is NodeKind.MENU
            self._play(self._must(node.prompt), interruptible)
            return node.next
        if k in (NodeKind.MENU, NodeKind.LANGUAGE, NodeKind.COLLECT, NodeKind.RATING):
            self._collect(node, now)
            return None
        if k is NodeKind.IDENTIFY:
            if self.attributes.get("customer_id") is not None:
                return node.next  # already known (e.g. chat login): nothing to ask
            if self.caller_id and self._identify_phase == "caller_id":
                self._lookup("customer_by_phone", self.caller_id, "identify_phone")
            else:
                self._collect(node, now)
            return None
        if k is NodeKind.BRANCH:
            return self._branch(node, now)
        if k is NodeKind.ANSWER:
            key = self.variables.get(self._must(node.key))
            if key is None or key == "":
                self._record.answer(node.id, self._must(node.lookup), "no_key")
                return node.not_found
            self._lookup(self._must(node.lookup), str(key), "answer")
            return None
        if k is NodeKind.SET:
            for name, value in node.attributes.items():
                self._set_attribute(name, value)
            return node.next
        self._terminal(node, now)
        return None

    def _collect(self, node: Node, now: float) -> None:
        self._wait_start = now
        choices: tuple[a.ChoiceOption, ...] = ()
        if node.kind is NodeKind.MENU:
            choices = tuple(
                a.ChoiceOption(c.digit, self._text(c.label) if c.label else c.digit)
                for c in node.choices
            )
        elif node.kind is NodeKind.LANGUAGE:
            choices = tuple(
                a.ChoiceOption(c.digit, LANGUAGE_NAMES.get(c.target, c.target))
                for c in node.choices
            )
        if node.kind is NodeKind.RATING:
            lo, hi = node.min_value, len(str(node.max_value))
            min_d, max_d = 1, hi
            choices = tuple(a.ChoiceOption(str(v), str(v)) for v in
                            range(lo, node.max_value + 1))  # fmt: skip
        elif node.kind in (NodeKind.COLLECT, NodeKind.IDENTIFY):
            min_d, max_d = node.min_length, node.max_length
        else:
            min_d = max_d = 1
        prompt = self._must(node.prompt)
        self._emit(a.Collect(
            node=node.id, prompt=prompt, language=self.language,
            text=self._text(prompt), timeout=node.timeout,
            min_digits=min_d, max_digits=max_d, choices=choices, sensitive=node.sensitive,
        ))  # fmt: skip
        self.state = IvrState.WAITING_INPUT
        self.deadline = self._wait_start + node.timeout

    def _retry(self, node: Node, prompt: str | None, now: float) -> None:
        self._attempts += 1
        if self._attempts >= node.retries:
            self.deadline = None
            if node.kind is NodeKind.LANGUAGE:  # keep the default language and carry on
                self._set_language(self.language)
                return self._run(self._must(node.next), now)
            if node.kind is NodeKind.RATING:  # an unanswered question is not a failure
                return self._run(self._must(node.next), now)
            return self._run(self._must(node.fallback), now)
        if prompt is not None:
            self._play(prompt, interruptible=node.kind is NodeKind.MENU)
        self._collect(node, now)

    def _branch(self, node: Node, now: float) -> str | None:
        test = node.test
        if test == "queue_open":
            queue = self._must(node.queue)
            if self._queue_open is None:
                self._lookup("queue_open", queue, "branch")
                return None
            value = "true" if self._queue_open(queue, now) else "false"
        elif test == "tier":
            value = str(self.variables.get("customer.tier", ""))
        elif test == "open_complaint":
            count = as_int(self.variables.get("customer.open_complaints")) or 0
            value = "true" if count > 0 else "false"
        elif test == "language":
            value = self.language
        else:
            value = str(self.variables.get(self._must(node.variable), ""))
        return self._branch_target(node, value)

    def _branch_target(self, node: Node, value: str) -> str:
        return node.cases.get(value) or self._must(node.default)

    def _answer(self, node: Node, data: Mapping[str, Any] | None, now: float) -> None:
        lookup = self._must(node.lookup)
        status = "found" if node.select is None else str((data or {}).get(node.select, ""))
        items = None if data is None else (
            node.responses.get(status) or node.responses.get("default"))  # fmt: skip
        if data is None or items is None:
            self._record.answer(node.id, lookup, "not_found")
            return self._run(self._must(node.not_found), now)
        for item in items:
            if item.kind == "prompt":
                self._play(item.ref)
                continue
            value = data.get(item.ref, self.variables.get(item.ref))
            if value is None:
                continue  # a field the CRM did not return: say the rest rather than fail
            if item.kind == "digits":
                self._emit(a.SayDigits(re.sub(r"\D", "", str(value)), self.language))
            elif item.kind == "number":
                number = as_int(value)
                if number is not None:
                    self._emit(a.SayNumber(number, self.language))
            else:
                self._emit(a.SayDate(str(value)[:10], self.language))
        self._record.answer(node.id, lookup, "answered")
        self._run(self._must(node.next), now)

    def _terminal(self, node: Node, now: float) -> None:
        if node.prompt is not None:
            self._play(node.prompt)
        self._emit_survey()
        attrs = self._public_attributes()
        k = node.kind
        action: a.IvrAction
        if k is NodeKind.ROUTE:
            reason = node.reason or self.attributes.get("reason")
            action = a.Route(self._must(node.queue), int(self.attributes["priority"]),
                             dict(self.attributes["skills"]), attrs, reason)  # fmt: skip
        elif k is NodeKind.CALLBACK:
            action = a.OfferCallback(self._must(node.queue), self.caller_id, attrs)
        elif k is NodeKind.VOICEMAIL:
            action = a.Voicemail(self._must(node.queue), node.max_seconds, attrs)
        elif k is NodeKind.TRANSFER:
            action = a.Transfer(self._must(node.number))
        else:
            action = a.Hangup(node.reason or "ivr_end")
        self._emit(action)
        extra = {"queue": node.queue} if node.queue else {}
        self._finish(now, k.value, **extra)

    # --- small helpers ---------------------------------------------------------------------
    def _finish(self, now: float, outcome: str, **extra: Any) -> None:
        self.state = IvrState.FINISHED
        self.deadline = None
        self._record.finish(self._node.id, outcome, now, **extra)

    def _emit(self, action: a.IvrAction) -> None:
        self._out.append(action)

    def _emit_survey(self) -> None:
        if self.scores and not self._survey_sent:
            self._survey_sent = True
            self._emit(a.SurveyResult(dict(self.scores)))

    def _play(self, prompt: str, interruptible: bool = False) -> None:
        text = self._text(prompt)
        self._emit(a.Play(prompt, self.language, text, interruptible))

    def _text(self, prompt: str) -> str:
        return self.flow.text(prompt, self.language, self.channel_kind)

    def _lookup(self, kind: str, key: str, purpose: str) -> None:
        self._lookup_purpose = purpose
        self.state = IvrState.WAITING_LOOKUP
        self.deadline = None
        self._emit(a.Lookup(kind, key))

    def _set_language(self, code: str) -> None:
        self.language = code
        skills = {k: v for k, v in self.attributes["skills"].items() if not k.startswith("lang.")}
        skills[f"lang.{code}"] = 1
        self._set_attribute("skills", skills, replace=True)
        self._set_attribute("language", code)

    def _set_attribute(self, name: str, value: Any, *, replace: bool = False) -> None:
        if name == "language" and value != self.language:
            return self._set_language(str(value))
        if name == "skills" and not replace:
            value = {**self.attributes["skills"], **value}
        self.attributes[name] = value
        self._emit(a.SetAttribute(name, dict(value) if isinstance(value, dict) else value))

    def _set_customer(self, data: Mapping[str, Any]) -> None:
        for k, v in data.items():
            self.variables[f"customer.{k}"] = v
        if data.get("id") is not None:
            self._set_attribute("customer_id", str(data["id"]))

    def _public_attributes(self) -> dict[str, Any]:
        out = {k: v for k, v in self.attributes.items() if k not in ("skills", "priority")}
        out["ivr_path_nodes"] = [n["node"] for n in self._record.nodes]
        return out

    def _must(self, value: str | None) -> str:
        if value is None:  # the loader guarantees these per kind; reaching here is a bug
            raise IvrSessionError(f"node {self._node.id!r} lacks a required field")
        return value
