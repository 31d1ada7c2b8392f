"""The simulated PBX: channels, bridges, the dialplan model and the events they produce.

Everything that happens to a channel goes through here, so the AMI sessions (``server.py``),
the AsyncAGI executor (``agi.py``) and the simulated callers (``callers.py``) all see one truth.
Times are in simulated seconds; ``time_scale`` shrinks them for tests.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ccserver.ami.agi import encode_agi_env
from ccserver.ami.protocol import encode_message
from ccserver.simulator.channel import (
    CAUSE_TEXT,
    Endpoint,
    Pairs,
    SimBridge,
    SimChannel,
)

log = logging.getLogger(__name__)

# Context -> (extension patterns, behaviour). Mirrors config/asterisk/extensions.conf.
DEFAULT_DIALPLAN: dict[str, tuple[list[str], str]] = {
    "from-customer": (["s", "_X."], "agi"),
    "ccserver-agi": (["s", "_X."], "agi"),
    "ccserver-hold": (["s"], "moh"),
    "customer-phone": (["s"], "answer_wait"),
    "outbound": (["_X.", "_+X."], "dial"),
    "agents": (["agent1", "agent2", "noanswer", "_X."], "dial"),
}


def _pattern(ext: str) -> re.Pattern[str]:
    if not ext.startswith("_"):
        return re.compile(re.escape(ext) + "$")
    out = []
    for ch in ext[1:]:
        out.append(
            {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(ch, re.escape(ch))
        )
    text = "".join(out).replace(re.escape("["), "[").replace(re.escape("]"), "]")
    text = text.replace(re.escape("-"), "-")
    return re.compile(text + "$")


EventSink = Callable[[str, bytes], None]


class Pbx:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.default_endpoint = Endpoint()
        self.endpoints["PJSIP/noanswer"] = Endpoint(never_answer=True)
        self.globals: dict[str, str] = {}
        self.missing_sounds: set[str] = {"no-such-file"}
        self.dialplan = {
            k: ([_pattern(p) for p in v[0]], v[1]) for k, v in DEFAULT_DIALPLAN.items()
        }
        self.sinks: list[Callable[[str, bytes], None]] = []
        self.started = time.time()
        self._uid = itertools.count(1)
        self._chan_seq = itertools.count(1)
        self._bridge_seq = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- infrastructure ------------------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self.time_scale)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def emit(self, name: str, privilege: str | None, pairs: Pairs) -> None:
        head = [("Event", name)]
        if privilege is not None:
            head.append(("Privilege", privilege))
        self.emit_raw(privilege or "", encode_message(head + pairs))

    def emit_raw(self, privilege: str, data: bytes) -> None:
        for sink in list(self.sinks):
            sink(privilege, data)

    def emit_channel(
        self, name: str, privilege: str, ch: SimChannel, extra: Pairs | None = None
    ) -> None:
        self.emit(name, privilege, ch.block() + (extra or []))

    def new_uniqueid(self) -> str:
        return f"{int(self.started)}.{next(self._uid)}"

    def endpoint(self, resource: str) -> Endpoint:
        return self.endpoints.get(resource, self.default_endpoint)

    def find_channel(self, name: str) -> SimChannel | None:
        return self.channels.get(name)

    # -- channels ------------------------------------------------------------------------
    def new_channel(
        self,
        tech_resource: str,
        *,
        context: str,
        exten: str,
        state: int,
        cid: tuple[str, str] = ("<unknown>", "<unknown>"),
        uniqueid: str | None = None,
        linkedid: str | None = None,
        suffix: str = "",
        seq: int | None = None,
    ) -> SimChannel:
        seq = next(self._chan_seq) if seq is None else seq
        uid = uniqueid or self.new_uniqueid()
        ch = SimChannel(
            name=f"{tech_resource}-{seq:08x}{suffix}",
            uniqueid=uid,
            linkedid=linkedid or uid,
            context=context,
            exten=exten,
            state=state,
            cid_num=cid[0],
            cid_name=cid[1],
            created=time.monotonic(),
        )
        self.channels[ch.name] = ch
        self.emit_channel("Newchannel", "call,all", ch)
        return ch

    def set_state(self, ch: SimChannel, state: int) -> None:
        if ch.state == state or ch.gone.is_set():
            return
        ch.state = state
        self.emit_channel("Newstate", "call,all", ch)
        if state == 6:
            ch.answered.set()

    def answer(self, ch: SimChannel) -> None:
        self.set_state(ch, 6)
        peer = ch.local_peer
        if peer is not None and ch.name.endswith(";2"):
            self.set_state(peer, 6)  # a Local ;2 answering answers its ;1 half

    def set_var(self, ch: SimChannel | None, name: str, value: str) -> None:
        if ch is None:
            self.globals[name] = value
            self.emit("VarSet", "dialplan,all", [("Variable", name), ("Value", value)])
            return
        ch.variables[name] = value
        self.emit_channel("VarSet", "dialplan,all", ch, [("Variable", name), ("Value", value)])

    def dtmf(self, ch: SimChannel, digit: str, duration_ms: int, direction: str) -> None:
        """A digit on ``ch``; it reaches the channel only while something listens."""
        self.emit_channel("DTMFBegin", "dtmf,all", ch, [("Digit", digit), ("Direction", direction)])
        self.emit_channel(
            "DTMFEnd",
            "dtmf,all",
            ch,
            [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", direction)],
        )
        if ch.listening.is_set():
            ch.digits.put_nowait(digit)

    def hangup(self, ch: SimChannel, cause: int = 16, *, request: bool = True) -> None:
        if ch.gone.is_set():
            return
        if request:
            self.emit_channel("HangupRequest", "call,all", ch, [("Cause", str(cause))])
        if ch.in_agi:
            self.end_agi(ch, continue_dialplan=False)
        if ch.spying_on is not None:
            self.emit("ChanSpyStop", "call,all", ch.block("Spyer") + ch.spying_on.block("Spyee"))
            ch.spying_on = None
        for spy in [c for c in self.channels.values() if c.spying_on is ch]:
            self.hangup(spy, 16)
        bridge = ch.bridge
        if bridge is not None:
            self.leave_bridge(ch)
        ch.gone.set()
        ch.hangup_cause = cause
        self.channels.pop(ch.name, None)
        self.emit_channel(
            "Hangup",
            "call,all",
            ch,
            [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))],
        )
        if ch.local_peer is not None and not ch.local_peer.gone.is_set():
            self.hangup(ch.local_peer, cause, request=False)
        if bridge is not None and len(bridge.channels) == 1:
            # Bridge(): when one side leaves, the other's application ends and it hangs up.
            (other,) = bridge.channels
            self.leave_bridge(other)
            goto, other.after_bridge = other.after_bridge, None
            if goto is None or not self.enter_context(other, *goto):
                self.hangup(other, cause, request=False)

    # -- bridges -------------------------------------------------------------------------
    def bridge(self, first: SimChannel, second: SimChannel) -> SimBridge:
        for ch in (first, second):
            if ch.in_agi:
                self.end_agi(ch, continue_dialplan=False)
            if ch.bridge is not None:
                self.leave_bridge(ch)
            if ch.moh:
                self.stop_moh(ch)
        bridge = SimBridge(uniqueid=f"{int(self.started):x}-{next(self._bridge_seq):04x}-bridge")
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", "call,all", bridge.block())
        for ch in (first, second):
            bridge.channels.append(ch)
            ch.bridge = bridge
            self.emit("BridgeEnter", "call,all", bridge.block() + ch.block())
        first.bridged_with, second.bridged_with = second.name, first.name
        first.bridged.set()
        second.bridged.set()
        first.connected_num, first.connected_name = second.cid_num, second.cid_name
        second.connected_num, second.connected_name = first.cid_num, first.cid_name
        return bridge

    def leave_bridge(self, ch: SimChannel) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        bridge.channels.remove(ch)
        ch.bridge = None
        ch.bridged.clear()
        self.emit("BridgeLeave", "call,all", bridge.block() + ch.block())
        if not bridge.channels:
            self.bridges.pop(bridge.uniqueid, None)
            self.emit("BridgeDestroy", "call,all", bridge.block())

    # -- music on hold / hold ------------------------------------------------------------
    def start_moh(self, ch: SimChannel, klass: str = "default") -> None:
        ch.moh = True
        self.emit_channel("MusicOnHoldStart", "call,all", ch, [("Class", klass)])

    def stop_moh(self, ch: SimChannel) -> None:
        if ch.moh:
            ch.moh = False
            self.emit_channel("MusicOnHoldStop", "call,all", ch)

    def hold(self, ch: SimChannel, hold: bool) -> None:
        """A phone putting its call on hold (SIP re-INVITE): Hold / Unhold events."""
        ch.on_hold = hold
        if hold:
            self.emit_channel("Hold", "call,all", ch, [("MusicClass", "default")])
        else:
            self.emit_channel("Unhold", "call,all", ch)

    # -- dialplan ------------------------------------------------------------------------
    def behaviour(self, context: str, exten: str) -> str | None:
        entry = self.dialplan.get(context)
        if entry is None:
            return None
        patterns, kind = entry
        return kind if any(p.match(exten) for p in patterns) else None

    def enter_context(self, ch: SimChannel, context: str, exten: str, priority: int = 1) -> bool:
        """Send ``ch`` to ``exten@context``; False when the dialplan has no such extension."""
        kind = self.behaviour(context, exten)
        ch.context, ch.exten, ch.priority = context, exten, priority
        if kind is None:
            return False
        if kind == "agi":
            ch.priority = 2  # 1: NoOp, 2: AGI(agi:async) in extensions.conf
            self.emit_channel(
                "Newexten",
                "dialplan,all",
                ch,
                [("Extension", exten), ("Application", "AGI"), ("AppData", "agi:async")],
            )
            self.start_agi(ch)
        elif kind == "moh":
            self.answer(ch)
            ch.application, ch.app_data = "MusicOnHold", "default"
            self.start_moh(ch)
        elif kind == "answer_wait":
            self.answer(ch)
            ch.application, ch.app_data = "Wait", "120"
        return True

    def start_agi(self, ch: SimChannel) -> None:
        from ccserver.simulator.agi import agi_worker

        ch.in_agi = True
        ch.application, ch.app_data = "AGI", "agi:async"
        env = {
            "agi_request": "async",
            "agi_channel": ch.name,
            "agi_language": ch.language,
            "agi_type": ch.name.split("/", 1)[0],
            "agi_uniqueid": ch.uniqueid,
            "agi_version": "22.10.1",
            "agi_callerid": ch.cid_num,
            "agi_calleridname": ch.cid_name,
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": ch.variables.get("DNID", "unknown"),
            "agi_rdnis": "unknown",
            "agi_context": ch.context,
            "agi_extension": ch.exten,
            "agi_priority": str(ch.priority),
            "agi_enhanced": "0.0",
            "agi_accountcode": ch.accountcode,
            "agi_threadid": str(id(ch)),
        }
        self.emit_channel("AsyncAGIStart", "agi,all", ch, [("Env", encode_agi_env(env))])
        ch.agi_task = self.spawn(agi_worker(self, ch), f"agi-{ch.name}")

    def end_agi(self, ch: SimChannel, *, continue_dialplan: bool) -> None:
        if not ch.in_agi:
            return
        ch.in_agi = False
        ch.listening.clear()
        task, ch.agi_task = ch.agi_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self.emit_channel("AsyncAGIEnd", "agi,all", ch)
        if continue_dialplan:
            # extensions.conf: the priority after AGI(agi:async) is Hangup().
            self.hangup(ch, 16)
