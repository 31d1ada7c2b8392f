"""The post-call survey by keypad (config/ivr/survey.toml: CSAT 1-5, then NPS 0-10).

Reached when the agent ends the call "with survey": the caller comes back under AsyncAGI,
this runs the survey flow with the same AGI driver as the IVR, hands the scores to
``VoiceChannel.on_survey`` (the CRM's survey service: stored with the contact, agent and
queue; a detractor gets a follow-up) and hangs up. A caller who hangs up midway leaves
whatever scores they gave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccserver.channels.voice.calls import Call
from ccserver.channels.voice.errors import CallGone
from ccserver.channels.voice.ivr_driver import AgiCommand, VoiceIvrDriver
from ccserver.logs import get_logger
from ivr import actions as a
from ivr.session import IvrSession

if TYPE_CHECKING:
    from ccserver.channels.voice.channel import VoiceChannel

log = get_logger(__name__)
SURVEY_FLOW = "survey"


async def run_survey(vc: VoiceChannel, call: Call) -> None:
    context: dict[str, Any] = dict(call.attributes.get("survey_for") or {})
    language = context.pop("language", None)
    variables = {"language": language} if language else {}
    session = IvrSession(
        vc.flows.get(SURVEY_FLOW),
        "voice",
        vc.cc.clock(),
        caller_id=call.caller_id,
        variables=variables,
    )
    driver = VoiceIvrDriver(session)
    scores: dict[str, Any] = {}
    try:
        driver.start(vc.cc.clock())
        while (step := driver.next_step()) is not None:
            if isinstance(step, AgiCommand):
                if step.kind == "hangup":
                    break
                driver.on_result(await vc.agi.run(call.channel, step.text), vc.cc.clock())
            elif isinstance(step, a.SurveyResult):
                scores.update(step.scores)
            elif isinstance(step, a.Lookup):
                driver.lookup_result(None, vc.cc.clock())
    except CallGone:
        driver.hangup(vc.cc.clock())
        while (left := driver.next_step()) is not None:
            if isinstance(left, a.SurveyResult):
                scores.update(left.scores)
    finally:
        if scores and vc.on_survey is not None:
            try:
                await vc.on_survey(scores, context)
            except Exception:
                log.exception("storing a post-call survey failed", channel=call.channel)
        await vc.safe_hangup(call.channel)
