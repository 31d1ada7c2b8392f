"""Post-call survey by keypad: the agent ends the call "with survey", the caller stays on
the line, answers CSAT and NPS, and the answers are stored with the contact, agent and
queue; a detractor answer creates a follow-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.crm.models import FollowUp, SurveyResponse
from ccserver.domain import InteractionState
from ccserver.simulator import Press, Wait, WaitForAgent


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


@pytest.mark.parametrize(("csat", "nps", "detractor"), [("5", "9#", False), ("2", "3#", True)])
async def test_agent_ends_with_survey_and_the_answers_are_stored(
    vapp: VoiceApp, csat: str, nps: str, detractor: bool
) -> None:
    await vapp.agent("agent1001")
    call = vapp.sim.place_call(
        CALLER, [Press("1"), Press("0"), WaitForAgent(5000), Press(csat), Press(nps), Wait(30)]
    )
    iid: str = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await eventually(lambda: vapp.cc.get(iid).state == InteractionState.CONNECTED, what="connected")
    i = vapp.cc.get(iid)
    await vapp.cc.end_with_survey(iid, "agent1001")
    assert vapp.cc.get(iid).state == InteractionState.WRAP_UP  # the agent is free to wrap up
    await vapp.cc.wrap_up(iid, "agent1001", disposition="resolved", notes=None, fcr=True)
    sessions = vapp.services.require_sessions()

    async def stored() -> SurveyResponse | None:
        async with sessions() as s:
            row: SurveyResponse | None = await s.scalar(select(SurveyResponse))
            return row

    row = await eventually(stored, what="survey response")
    assert (row.csat, row.nps) == (int(csat), int(nps.rstrip("#")))
    assert (row.contact_id, row.agent_id, row.queue) == (i.contact_id, "agent1001", i.queue)
    assert await eventually(lambda: call.finished.done(), what="caller hung up by ccserver")
    async with sessions() as s:
        follow_ups = (await s.scalars(select(FollowUp))).all()
    assert bool(follow_ups) is detractor
