"""Simulated callers: a script of steps (wait, press digits, wait for an agent, talk, hang up)
or a random model (patience, digit choices, talk time) that generates one."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from ccserver.simulator.channel import SimChannel
from ccserver.simulator.pbx import Pbx


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Press:
    """Press ``digits``. By default the caller waits (up to ``prompt_timeout`` s) until the IVR
    listens (GET DATA, WAIT FOR DIGIT, an interruptible prompt): like a person who waits for
    the menu. Digits pressed while nothing listens are lost, as on a real PBX."""

    digits: str
    gap: float = 0.2
    prompt_timeout: float | None = 30.0


@dataclass(frozen=True)
class WaitForAgent:
    """Wait to be connected; hang up (abandon) when ``patience`` runs out first."""

    patience: float


@dataclass(frozen=True)
class Talk:
    """Stay on the line this long (ends early if the other side hangs up)."""

    seconds: float


@dataclass(frozen=True)
class Hangup:
    cause: int = 16


Step = Wait | Press | WaitForAgent | Talk | Hangup


@dataclass(eq=False)
class CallHandle:
    """What a test holds on to for one simulated call."""

    channel: SimChannel
    finished: asyncio.Future[int]  # resolves to the hangup cause
    pressed: list[str] = field(default_factory=list)
    abandoned: bool = False

    @property
    def name(self) -> str:
        return self.channel.name

    @property
    def uniqueid(self) -> str:
        return self.channel.uniqueid

    @property
    def connected_to(self) -> str | None:
        return self.channel.bridged_with


def random_script(
    rng: random.Random,
    *,
    digit_choices: Sequence[str] = ("1", "2"),
    patience: tuple[float, float] = (20.0, 120.0),
    talk: tuple[float, float] = (30.0, 300.0),
) -> list[Step]:
    """A caller who picks a menu option, waits up to their patience, talks, hangs up."""
    return [
        Press(rng.choice(list(digit_choices))),
        WaitForAgent(rng.uniform(*patience)),
        Talk(rng.uniform(*talk)),
        Hangup(16),
    ]


async def _wait_event(pbx: Pbx, event: asyncio.Event, ch: SimChannel, seconds: float) -> bool:
    """Wait for ``event`` unless the channel goes first; False on timeout or hang-up."""
    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(ch.gone.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds * pbx.time_scale, return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return event.is_set() and not ch.gone.is_set()


async def run_script(pbx: Pbx, handle: CallHandle, script: Sequence[Step]) -> None:
    ch = handle.channel
    for step in script:
        if ch.gone.is_set():
            return
        if isinstance(step, Wait):
            await _wait_event(pbx, asyncio.Event(), ch, step.seconds)
        elif isinstance(step, Press):
            for digit in step.digits:
                if step.prompt_timeout is not None:
                    await _wait_event(pbx, ch.listening, ch, step.prompt_timeout)
                if ch.gone.is_set():
                    return
                pbx.dtmf(ch, digit, 120, "Received")
                handle.pressed.append(digit)
                await pbx.sleep(step.gap)
        elif isinstance(step, WaitForAgent):
            if not await _wait_event(pbx, ch.bridged, ch, step.patience):
                if not ch.gone.is_set():
                    handle.abandoned = True
                    pbx.hangup(ch, 16)
                return
        elif isinstance(step, Talk):
            await _wait_event(pbx, asyncio.Event(), ch, step.seconds)
        elif isinstance(step, Hangup):
            if ch.bridge is None and ch.bridged_with is None:
                handle.abandoned = True
            pbx.hangup(ch, step.cause)
            return
