"""AsyncAGI command execution on a simulated channel.

Per channel, commands queued by ``Action: AGI`` run one at a time, each producing
``AGIExecStart`` (a random internal CommandId), its side effects, ``AGIExecEnd`` and finally
``AsyncAGIExec`` with the client's CommandId and the percent-encoded result, as Asterisk does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shlex

from ccserver.ami.agi import encode_agi_result
from ccserver.simulator.channel import SimChannel
from ccserver.simulator.pbx import Pbx

SOUND_SECONDS = 0.25  # simulated length of any sound file (Asterisk's beep: endpos=2000)
DIGIT_SECONDS = 0.33  # SAY DIGITS / SAY NUMBER per spoken digit (as recorded in b1)
INVALID = "510 Invalid or unknown command"


async def agi_worker(pbx: Pbx, ch: SimChannel) -> None:
    rng = random.Random()
    while ch.in_agi and not ch.gone.is_set():
        command, command_id = await ch.agi_queue.get()
        internal = str(rng.randrange(10**8, 2**31))
        pbx.emit_channel(
            "AGIExecStart", "agi,all", ch, [("CommandId", internal), ("Command", command)]
        )
        line, ends_agi = await execute(pbx, ch, command)
        if ch.gone.is_set():
            return
        code = line.split(" ", 1)[0]
        pbx.emit_channel(
            "AGIExecEnd",
            "agi,all",
            ch,
            [
                ("CommandId", internal),
                ("Command", command),
                ("ResultCode", code),
                ("Result", "Success" if code == "200" else "Usage"),
            ],
        )
        pbx.emit_channel(
            "AsyncAGIExec",
            "agi,all",
            ch,
            [("Result", encode_agi_result(line)), ("CommandId", command_id)],
        )
        if ends_agi:
            pbx.end_agi(ch, continue_dialplan=True)
            return


async def _collect(
    pbx: Pbx, ch: SimChannel, seconds: float, *, max_digits: int, escape: str, stop_hash: bool
) -> tuple[str, bool]:
    """Listen for digits for ``seconds``; returns (digits, timed_out)."""
    got = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds * pbx.time_scale
    ch.listening.set()
    try:
        while len(got) < max_digits:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return got, True
            try:
                digit = await asyncio.wait_for(ch.digits.get(), remaining)
            except TimeoutError:
                return got, True
            if escape and digit in escape:
                return digit, False
            if stop_hash and digit == "#":
                return got, False
            if not escape:
                got += digit
        return got, False
    finally:
        ch.listening.clear()
        while not ch.digits.empty():
            ch.digits.get_nowait()


async def _play(pbx: Pbx, ch: SimChannel, seconds: float, escape: str) -> str:
    """Play for ``seconds``; a pressed escape digit interrupts. Returns the digit or ''."""
    if not escape:
        await pbx.sleep(seconds)
        return ""
    digit, _ = await _collect(pbx, ch, seconds, max_digits=1, escape=escape, stop_hash=False)
    return digit


async def execute(pbx: Pbx, ch: SimChannel, command: str) -> tuple[str, bool]:
    """Run one AGI command; returns (reply line, does AsyncAGI end)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return INVALID, False
    upper = [w.upper() for w in words[:3]]
    if upper[:1] == ["ANSWER"]:
        pbx.answer(ch)
        origin = ch.local_peer.originate_reported if ch.local_peer is not None else None
        if origin is not None:
            # Answering a Local ;2 completes the Originate of its ;1: Asterisk reports that
            # before the AGI result (b1).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(origin.wait(), 1.0)
        return "200 result=0", False
    if upper[:2] == ["ASYNCAGI", "BREAK"]:
        return "200 result=0", True
    if upper[:1] == ["HANGUP"]:
        target = pbx.find_channel(words[1]) if len(words) > 1 else ch
        if target is None:
            return "200 result=-1", False
        pbx.spawn(_later_hangup(pbx, target), f"agi-hangup-{target.name}")
        return "200 result=1", False
    if upper[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
        pbx.set_var(ch, words[2], words[3])
        return "200 result=1", False
    if upper[:2] == ["GET", "VARIABLE"] and len(words) >= 3:
        value = ch.variables.get(words[2], pbx.globals.get(words[2]))
        return ("200 result=0" if value is None else f"200 result=1 ({value})"), False
    if upper[:2] == ["STREAM", "FILE"] and len(words) >= 3:
        if words[2] in pbx.missing_sounds:
            return "200 result=-1 endpos=0", True  # Asterisk 22 ends AsyncAGI here (b3)
        escape = words[3] if len(words) > 3 else ""
        digit = await _play(pbx, ch, SOUND_SECONDS, escape)
        if digit:
            return f"200 result={ord(digit)} endpos=1000", False
        return "200 result=0 endpos=2000", False
    if upper[:2] == ["SAY", "DIGITS"] or upper[:2] == ["SAY", "NUMBER"]:
        if len(words) < 3:
            return "520 Invalid command syntax.  Proper usage not available.", False
        escape = words[3] if len(words) > 3 else ""
        digit = await _play(pbx, ch, DIGIT_SECONDS * len(words[2]), escape)
        return f"200 result={ord(digit) if digit else 0}", False
    if upper[:2] == ["GET", "DATA"] and len(words) >= 3:
        timeout_ms = int(words[3]) if len(words) > 3 and words[3].isdigit() else 5000
        max_digits = int(words[4]) if len(words) > 4 and words[4].isdigit() else 1024
        if words[2] in pbx.missing_sounds:
            return "200 result=-1", False
        # The prompt plays while digits are already accepted, then the timeout runs.
        digits, timed_out = await _collect(
            pbx,
            ch,
            SOUND_SECONDS + timeout_ms / 1000,
            max_digits=max_digits,
            escape="",
            stop_hash=True,
        )
        return (f"200 result={digits} (timeout)" if timed_out else f"200 result={digits}"), False
    if upper[:3] == ["WAIT", "FOR", "DIGIT"]:
        timeout_ms = int(words[3]) if len(words) > 3 and words[3].lstrip("-").isdigit() else -1
        seconds = 3600.0 if timeout_ms < 0 else timeout_ms / 1000
        digits, _ = await _collect(pbx, ch, seconds, max_digits=1, escape="", stop_hash=False)
        return f"200 result={ord(digits) if digits else 0}", False
    if upper[:2] == ["RECORD", "FILE"] and len(words) >= 6:
        return await _record(pbx, ch, words), False
    if upper[:1] == ["EXEC"] and len(words) >= 2:
        return await _exec(pbx, ch, words[1], " ".join(words[2:])), False
    return INVALID, False


async def _record(pbx: Pbx, ch: SimChannel, words: list[str]) -> str:
    """RECORD FILE name format escape timeout [offset] [BEEP] [s=silence]: the caller talks
    until they press an escape digit, the timeout passes or they hang up; the reply says
    which, with endpos in 8 kHz samples, as Asterisk's res_agi does. (Silence cannot be
    simulated: a caller who says nothing is recorded until the timeout.)"""
    name, fmt, escape = words[2], words[3], words[4]
    timeout_ms = int(words[5]) if words[5].lstrip("-").isdigit() else -1
    if any(w.upper() == "BEEP" for w in words[6:]):
        await pbx.sleep(SOUND_SECONDS)
    ch.recording = f"{name}.{fmt}"
    loop = asyncio.get_running_loop()
    started = loop.time()
    seconds = 3600.0 if timeout_ms < 0 else timeout_ms / 1000
    listen = asyncio.ensure_future(
        _collect(pbx, ch, seconds, max_digits=1, escape=escape, stop_hash=False)
    )
    gone = asyncio.ensure_future(ch.gone.wait())
    await asyncio.wait({listen, gone}, return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    samples = int((loop.time() - started) / pbx.time_scale * 8000)
    if not listen.done():
        listen.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listen
        return f"200 result=-1 (hangup) endpos={samples}"
    digit, _ = listen.result()
    if digit:
        return f"200 result={ord(digit)} (dtmf) endpos={samples}"
    return f"200 result=0 (timeout) endpos={samples}"


async def _later_hangup(pbx: Pbx, ch: SimChannel) -> None:
    await asyncio.sleep(0)  # the reply goes out before the Hangup events
    pbx.hangup(ch, 16)


async def _exec(pbx: Pbx, ch: SimChannel, app: str, args: str) -> str:
    name = app.lower()
    if name == "startmusiconhold":
        pbx.start_moh(ch, args or "default")
        return "200 result=0"
    if name == "stopmusiconhold":
        pbx.stop_moh(ch)
        return "200 result=0"
    if name in ("playback", "background"):
        files = [f for f in args.split(",")[0].split("&") if f]
        if any(f in pbx.missing_sounds for f in files):
            return "200 result=-1"
        await pbx.sleep(SOUND_SECONDS * len(files))
        return "200 result=0"
    if name == "wait":
        await pbx.sleep(float(args or 0))
        return "200 result=0"
    if name in ("set", "noop", "ringing", "progress"):
        if name == "set" and "=" in args:
            key, _, value = args.partition("=")
            pbx.set_var(ch, key, value)
        return "200 result=0"
    if name == "mixmonitor":
        ch.recording = args.split(",")[0]
        pbx.emit_channel("MixMonitorStart", "call,all", ch)
        return "200 result=0"
    return "200 result=-2"  # application not found
