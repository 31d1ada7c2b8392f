"""After hours a caller leaves a voicemail over real AMI/AGI: the IVR's closed menu, the
prompt and a beep, Asterisk records until # (or the caller hangs up); the call's contact
ends as voicemail with the recording's reference and length, and the message becomes a
callback task for the morning, parked until the queue opens. A caller who hangs up at the
beep leaves no task."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.domain import Channel, InteractionState
from ccserver.simulator import Press, Talk, WaitForAgent


def _general_closed(config: Path) -> None:
    """Queue "general" closed all day (a holiday today, whatever the time zone)."""
    days = [dt.date.today() + dt.timedelta(days=d) for d in (-1, 0, 1)]
    holidays = ", ".join(f'"{d.isoformat()}"' for d in days)
    routing = config / "routing.toml"
    text = routing.read_text()
    text += (
        '\n[calendars.holiday]\ntimezone = "UTC"\nhours = { "mon-fri" = "08:00-20:00" }\n'
        f"holidays = [{holidays}]\n"
    )
    text = re.sub(
        r'(\[queues\.general\][^\[]*?)calendar = "always"', r'\1calendar = "holiday"', text
    )
    routing.write_text(text)


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path, _general_closed):
        yield v


async def test_after_hours_voicemail_becomes_a_callback_for_the_morning(vapp: VoiceApp) -> None:
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    assert not cc.queue_open("general")
    # 1 = English; closed menu: 2 = leave a message; talk 2 s, then # ends the recording.
    call = sim.place_call(CALLER, [Press("1"), Press("2"), Talk(2.0), Press("#"), Talk(1.0)])
    iid = await eventually(lambda: next(iter(voice.by_interaction), None), what="the call")
    contact = await vapp.contact(iid)
    assert contact.outcome == "voicemail"
    assert contact.recording_ref == f"voicemail/{call.channel.uniqueid}.wav"
    assert call.channel.recording == contact.recording_ref  # what Asterisk was told to write
    assert 1.5 <= contact.attributes["voicemail_s"] <= 3.0
    assert contact.attributes["voicemail_ended_by"] == "dtmf"
    assert [n["node"] for n in contact.ivr_path][-2:] == ["closed_menu", "voicemail"]

    # The message is a callback task, parked until "general" opens (not routed at night).
    task = await eventually(
        lambda: next((i for i in cc.interactions.values() if i.channel == Channel.CALLBACK), None),
        what="the callback task",
    )
    assert task.state == InteractionState.NEW
    assert task.attributes["parked_until_open"] == "general"
    assert task.attributes["voicemail_ref"] == contact.recording_ref
    assert task.attributes["callback_number"] == "+12025550143"
    assert task.attributes["related_contact_id"] == contact.id
    assert task.customer_id == contact.customer_id is not None


async def test_hanging_up_at_the_beep_leaves_no_task(vapp: VoiceApp) -> None:
    cc, voice, sim = vapp.cc, vapp.voice, vapp.sim
    call = sim.place_call(CALLER, [Press("1"), Press("2"), WaitForAgent(60)])
    iid = await eventually(lambda: next(iter(voice.by_interaction), None), what="the call")
    # The caller hangs up as soon as the recording starts.
    await eventually(lambda: call.channel.recording is not None, what="recording")
    sim.pbx.hangup(call.channel, 16)
    contact = await vapp.contact(iid)
    assert contact.outcome == "voicemail"
    assert contact.recording_ref is None and contact.attributes["voicemail_s"] < 1.0
    assert not [i for i in cc.interactions.values() if i.channel == Channel.CALLBACK]
