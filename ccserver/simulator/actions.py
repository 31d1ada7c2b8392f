"""AMI action handlers of the simulator. Each gets the session and the parsed action, writes
its response first (Asterisk answers before the events an action causes), then acts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ccserver.ami.protocol import Action
from ccserver.simulator.channel import Pairs, SimChannel
from ccserver.simulator.originate import OriginateRequest, parse_caller_id, run_originate

if TYPE_CHECKING:
    from ccserver.simulator.server import AmiSession

Handler = Callable[["AmiSession", Action], Coroutine[Any, Any, None]]
VERSION = "Asterisk 22.10.1 built by ccserver @ simulator on a x86_64 running Linux"


def _chan(session: AmiSession, action: Action) -> SimChannel | None:
    return session.pbx.find_channel(action.get("Channel") or "")


async def ping(s: AmiSession, a: Action) -> None:
    s.respond(a, "Success", [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])


async def logoff(s: AmiSession, a: Action) -> None:
    s.respond(a, "Goodbye", [("Message", "Thanks for all the fish.")])
    s.close()


async def events(s: AmiSession, a: Action) -> None:
    mask = (a.get("EventMask") or "on").strip().lower()
    s.set_events(mask)
    s.respond(a, "Success", [("Events", "Off" if mask == "off" else "On")])


async def originate(s: AmiSession, a: Action) -> None:
    timeout = a.get("Timeout") or "30000"
    req = OriginateRequest(
        channel=a.get("Channel") or "",
        action_id=a.action_id,
        application=a.get("Application"),
        data=a.get("Data") or "",
        context=a.get("Context"),
        exten=a.get("Exten"),
        priority=a.get("Priority"),
        timeout_ms=int(timeout) if timeout.isdigit() else 30000,
        caller_id=parse_caller_id(a.get("CallerID")),
        variables=tuple(
            (v.partition("=")[0], v.partition("=")[2])
            for item in a.get_all("Variable")
            for v in item.split(",")
        ),
        channel_id=a.get("ChannelId"),
        other_channel_id=a.get("OtherChannelId"),
    )
    error = req.validate()
    if error:
        s.respond(a, "Error", [("Message", error)])
        return
    if (a.get("Async") or "").lower() in ("true", "yes", "1", "on"):
        s.respond(a, "Success", [("Message", "Originate successfully queued")])
        s.pbx.spawn(run_originate(s.pbx, req), f"originate-{req.channel}")
        return
    ok = await run_originate(s.pbx, req, report=False)
    if ok:
        s.respond(a, "Success", [("Message", "Originate successfully queued")])
    else:
        s.respond(a, "Error", [("Message", "Originate failed")])


async def hangup(s: AmiSession, a: Action) -> None:
    target = a.get("Channel") or ""
    cause_text = a.get("Cause") or "16"
    cause = int(cause_text) if cause_text.isdigit() else 16
    if target.startswith("/") and target.endswith("/") and len(target) > 1:
        pattern = re.compile(target[1:-1])
        matched = [c for c in s.pbx.channels.values() if pattern.search(c.name)]
        s.respond(
            a, "Success", [("EventList", "start"), ("Message", "Channels hung up will follow")]
        )
        for found in matched:
            s.event(a, "ChannelHungup", [("Channel", found.name)])
            s.pbx.hangup(found, cause)
        s.event(
            a,
            "ChannelsHungupListComplete",
            [("EventList", "Complete"), ("ListItems", str(len(matched)))],
        )
        return
    ch = _chan(s, a)
    if ch is None:
        s.respond(a, "Error", [("Message", "No such channel")])
        return
    s.respond(a, "Success", [("Message", "Channel Hungup")])
    s.pbx.hangup(ch, cause)


async def agi(s: AmiSession, a: Action) -> None:
    ch = _chan(s, a)
    if ch is None:
        s.respond(a, "Error", [("Message", f"Channel {a.get('Channel')} does not exist.")])
        return
    if not ch.in_agi:
        s.respond(a, "Error", [("Message", "Failed to add AGI command to queue")])
        return
    s.respond(a, "Success", [("Message", "Added AGI command to queue")])
    ch.agi_queue.put_nowait((a.get("Command") or "", a.get("CommandID") or ""))


async def redirect(s: AmiSession, a: Action) -> None:
    ch = _chan(s, a)
    if ch is None:
        s.respond(a, "Error", [("Message", f"Channel does not exist: {a.get('Channel')}")])
        return
    context, exten = a.get("Context") or "", a.get("Exten") or "s"
    extra = s.pbx.find_channel(a.get("ExtraChannel") or "")
    s.respond(a, "Success", [("Message", "Redirect successful")])
    for target, ctx, ext in (
        (ch, context, exten),
        (extra, a.get("ExtraContext") or context, a.get("ExtraExten") or exten),
    ):
        if target is None:
            continue
        s.pbx.end_agi(target, continue_dialplan=False)
        s.pbx.stop_moh(target)
        if target.bridge is not None:
            bridge = target.bridge
            s.pbx.leave_bridge(target)
            for other in list(bridge.channels):
                if extra is None or other is not extra:
                    s.pbx.leave_bridge(other)
                    s.pbx.hangup(other, 16, request=False)
        if not s.pbx.enter_context(target, ctx, ext):
            s.pbx.hangup(target, 1, request=False)


async def bridge(s: AmiSession, a: Action) -> None:
    one = s.pbx.find_channel(a.get("Channel1") or "")
    two = s.pbx.find_channel(a.get("Channel2") or "")
    if one is None or two is None:
        missing = a.get("Channel1") if one is None else a.get("Channel2")
        s.respond(a, "Error", [("Message", f"Channel does not exist: {missing}")])
        return
    s.respond(a, "Success", [("Message", "Channels have been bridged")])
    # Asterisk's Bridge action sets its own after-bridge location on both channels, replacing
    # any F() of a Bridge() application they were in; the simulator keeps its plain rule.
    one.after_bridge = two.after_bridge = None
    s.pbx.bridge(one, two)


async def getvar(s: AmiSession, a: Action) -> None:
    name = a.get("Variable") or ""
    if a.get("Channel"):
        ch = _chan(s, a)
        if ch is None:
            s.respond(a, "Error", [("Message", "No such channel")])
            return
        value = ch.variables.get(name, s.pbx.globals.get(name, ""))
    else:
        value = s.pbx.globals.get(name, "")
    s.respond(a, "Success", [("Variable", name), ("Value", value)])


async def setvar(s: AmiSession, a: Action) -> None:
    ch = None
    if a.get("Channel"):
        ch = _chan(s, a)
        if ch is None:
            s.respond(a, "Error", [("Message", "No such channel")])
            return
    s.respond(a, "Success", [("Message", "Variable Set")])
    s.pbx.set_var(ch, a.get("Variable") or "", a.get("Value") or "")


async def play_dtmf(s: AmiSession, a: Action) -> None:
    ch = _chan(s, a)
    digit = a.get("Digit") or ""
    if ch is None:
        s.respond(a, "Error", [("Message", "Channel not found")])
        return
    if not digit:
        s.respond(a, "Error", [("Message", "No digit specified")])
        return
    duration = a.get("Duration") or "250"
    s.respond(a, "Success", [("Message", "DTMF successfully queued")])
    # On a Local ;1 half the digit comes out of the ;2 half, as with Asterisk (b1).
    target = ch.local_peer if ch.local_peer is not None and ch.name.endswith(";1") else ch
    s.pbx.dtmf(target, digit[0], int(duration) if duration.isdigit() else 250, "Received")


async def mixmonitor(s: AmiSession, a: Action) -> None:
    ch = _chan(s, a)
    if ch is None:
        s.respond(a, "Error", [("Message", "No such channel")])
        return
    s.respond(a, "Success", [])
    ch.recording = a.get("File") or f"{ch.uniqueid}.wav"
    s.pbx.emit_channel("MixMonitorStart", "call,all", ch)


async def stop_mixmonitor(s: AmiSession, a: Action) -> None:
    ch = _chan(s, a)
    if ch is None or ch.recording is None:
        s.respond(a, "Error", [("Message", "No such channel" if ch is None else "Could not stop")])
        return
    s.respond(a, "Success", [])
    ch.recording = None
    s.pbx.emit_channel("MixMonitorStop", "call,all", ch)


async def core_show_channels(s: AmiSession, a: Action) -> None:
    s.respond(a, "Success", [("EventList", "start"), ("Message", "Channels will follow")])
    channels = list(s.pbx.channels.values())
    now = time.monotonic()
    for ch in channels:
        secs = int(now - ch.created)
        s.event(
            a,
            "CoreShowChannel",
            [
                *ch.block(),
                ("Application", ch.application),
                ("ApplicationData", ch.app_data),
                ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
            ],
            action_id_first=True,
        )
    s.event(
        a,
        "CoreShowChannelsComplete",
        [("EventList", "Complete"), ("ListItems", str(len(channels)))],
        action_id_first=True,
    )


async def status(s: AmiSession, a: Action) -> None:
    if a.get("Channel"):
        ch = _chan(s, a)
        if ch is None:
            s.respond(a, "Error", [("Message", "No such channel")])
            return
        channels = [ch]
    else:
        channels = list(s.pbx.channels.values())
    s.respond(a, "Success", [("EventList", "start"), ("Message", "Channel status will follow")])
    now = time.monotonic()
    for ch in channels:
        extra: Pairs = [
            ("Type", ch.name.split("/", 1)[0]),
            ("DNID", ""),
            ("EffectiveConnectedLineNum", ch.connected_num),
            ("EffectiveConnectedLineName", ch.connected_name),
            ("TimeToHangup", "0"),
            ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
            ("Application", ch.application),
            ("Data", ch.app_data),
            ("Nativeformats", "(ulaw)"),
            ("Readformat", "ulaw"),
            ("Readtrans", ""),
            ("Writeformat", "ulaw"),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(int(now - ch.created))),
        ]
        s.event(a, "Status", ch.block() + extra, privilege="Call")
    s.event(
        a,
        "StatusComplete",
        [
            ("EventList", "Complete"),
            ("ListItems", str(len(channels))),
            ("Items", str(len(channels))),
        ],
        action_id_first=True,
    )


async def queue_status(s: AmiSession, a: Action) -> None:
    # ccserver does the queueing itself; Asterisk has no queues configured.
    s.respond(a, "Success", [("EventList", "start"), ("Message", "Queue status will follow")])
    s.event(
        a,
        "QueueStatusComplete",
        [("EventList", "Complete"), ("ListItems", "0")],
        action_id_first=True,
    )


async def command(s: AmiSession, a: Action) -> None:
    cli = (a.get("Command") or "").strip()
    if cli == "core show version":
        lines = [VERSION]
    elif cli.startswith("core show channels"):
        lines = (
            [
                f"{c.name}!{c.context}!{c.exten}!{c.priority}!{c.state_desc}!{c.application}!{c.app_data}"
                for c in s.pbx.channels.values()
            ]
            if "concise" in cli
            else [f"{len(s.pbx.channels)} active channels"]
        )
    elif cli == "core show uptime":
        lines = [f"System uptime: {int(time.time() - s.pbx.started)} seconds"]
    else:
        first = cli.split(" ")[0] if cli else ""
        s.respond(
            a,
            "Error",
            [
                ("Message", "Command output follows"),
                (
                    "Output",
                    f"No such command '{cli}' "
                    f"(type 'core show help {first}' for other possible commands)",
                ),
            ],
        )
        return
    s.respond(
        a,
        "Success",
        [("Message", "Command output follows")] + [("Output", line) for line in lines or [""]],
    )


ACTIONS: dict[str, Handler] = {
    "ping": ping,
    "logoff": logoff,
    "events": events,
    "originate": originate,
    "hangup": hangup,
    "agi": agi,
    "redirect": redirect,
    "bridge": bridge,
    "getvar": getvar,
    "setvar": setvar,
    "playdtmf": play_dtmf,
    "mixmonitor": mixmonitor,
    "stopmixmonitor": stop_mixmonitor,
    "coreshowchannels": core_show_channels,
    "status": status,
    "queuestatus": queue_status,
    "command": command,
}
