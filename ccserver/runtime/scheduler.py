"""Periodic workflow jobs: complaint SLA escalation, follow-ups becoming due, retention and
nightly segmentation. ``scheduler_ctx`` is the aiohttp cleanup context the lead adds to
``app.py``; each job is a method of :class:`WorkflowJobs` taking ``now``, so tests drive
one job at a given time without waiting for the loop.

* Escalation: every breached complaint is escalated once and pushed to supervisors as
  ``{"type": "alert", "data": {"kind": "complaint_sla", ...}}`` on ``supervisor.alerts``.
* Due follow-ups: a phone follow-up becomes an outbound ``follow_up`` interaction enqueued
  for the assigned questioner (``preferred_agent_id``) with the customer's number in
  ``dial_number`` for the voice channel to Originate; an email follow-up gets a signed survey
  link, handed to ``extras["survey_link_sender"]`` when a part registered one, and always
  published on the bus topic ``followups.survey_link``.
* :class:`FollowUpCalls` is the contact center's adapter for ``follow_up`` interactions:
  when the agent accepts, the customer is dialled (the voice channel's Originate through
  a :class:`Dialer`); no answer / busy is recorded on the follow-up, whose retry policy plans
  the next attempt or marks the customer unreachable.
* Retention runs hourly, segmentation once a night (02:00 UTC) — a failing job is logged
  and retried at its next turn; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.bus import EventBus
from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.models import CustomerIdentity, FollowUp
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.services import WorkflowServices, workflow_services
from ccserver.crm.services.common import load_rules, now_utc
from ccserver.crm.services.followups import FollowUpService
from ccserver.crm.services.retention import RetentionRule, apply_retention
from ccserver.crm.services.segmentation_job import recompute_segments
from ccserver.domain import Channel, Direction, Interaction
from ccserver.logs import get_logger
from ccserver.runtime.channel_port import QuietChannelAdapter

if TYPE_CHECKING:
    from ccserver.runtime.contact_center import ContactCenter

log = get_logger(__name__)

ALERTS_TOPIC = "supervisor.alerts"
SURVEY_LINK_TOPIC = "followups.survey_link"


class SurveyLinkSender(Protocol):
    async def send_survey_link(
        self, *, follow_up_id: str, customer_id: str | None, email: str, link: str
    ) -> None: ...


class FollowUpDialer(Protocol):
    """What the scheduler needs of the live contact center (ContactCenter satisfies it)."""

    async def new_interaction(
        self,
        channel: Channel,
        *,
        direction: Direction = ...,
        customer_id: str | None = ...,
        attributes: dict[str, Any] | None = ...,
        interaction_id: str | None = ...,
    ) -> Any: ...

    async def enqueue(
        self,
        interaction_id: str,
        queue: str,
        *,
        priority: int = ...,
        skills: dict[str, int] | None = ...,
        customer_tier: str | None = ...,
        preferred_agent_id: str | None = ...,
    ) -> Any: ...


class Dialer(Protocol):
    """The voice channel's dial-out (``ccserver.channels.setup.VoiceDialer`` fits)."""

    async def dial_out(
        self, number: str, *, agent_id: str, endpoint: str | None, interaction: Interaction
    ) -> str: ...


ANSWERED = frozenset({"answered", "manual"})


class FollowUpCalls(QuietChannelAdapter):
    """ChannelAdapter for ``follow_up`` interactions (agent first, then the customer): the
    console shows the follow-up (purpose, outline), the agent accepts, then it is dialled."""

    label = "a follow-up call"

    def __init__(
        self, cc: ContactCenter, followups: FollowUpService, dialer: Dialer | None
    ) -> None:
        self.cc, self.followups, self.dialer = cc, followups, dialer
        self._dials: set[asyncio.Task[str]] = set()

    async def connect(self, interaction: Interaction, agent_id: str) -> None:
        # Dial in the background: accepting must not wait for the customer's phone to ring.
        task = asyncio.create_task(self.dial(interaction, agent_id), name="follow-up-dial")
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def dial(self, i: Interaction, agent_id: str) -> str:
        """Call the customer for an accepted follow-up; returns the dial result."""
        fid = str(i.attributes["follow_up_id"])
        number = i.attributes.get("dial_number")
        info = self.cc.agents.get(agent_id)
        usable = self.dialer is not None and getattr(self.dialer, "available", True)
        if self.dialer is None or not usable or not number:
            outcome = "manual"  # no voice channel or number: the agent calls by hand
        else:
            try:
                outcome = await self.dialer.dial_out(
                    str(number),
                    agent_id=agent_id,
                    endpoint=info.endpoint if info else None,
                    interaction=i,
                )
            except Exception:
                log.exception("follow-up dial failed", interaction=i.id)
                outcome = "failed"
        actor = Actor(agent_id, "agent")
        i.attributes["dial_result"] = outcome
        with contextlib.suppress(Exception):
            await self.cc.writer.updated(i)
        await self.followups.act(fid, "start", actor=actor)
        if outcome in ANSWERED:
            return outcome  # the agent records the answers and completes it from the console
        await self.followups.act(fid, "no_answer", actor=actor, note=outcome)
        i.attributes["outcome"] = f"follow_up_{outcome}"
        await self.cc.customer_left(i.id)
        return outcome

    async def close(self) -> None:
        for task in list(self._dials):
            task.cancel()
        for task in list(self._dials):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def survey_token(secret: bytes, follow_up_id: str) -> str:
    mac = hmac.new(secret, f"survey:{follow_up_id}".encode(), hashlib.sha256).hexdigest()
    return f"{follow_up_id}.{mac[:32]}"


def check_survey_token(secret: bytes, token: str) -> str | None:
    """The follow-up id a valid token names, else None."""
    follow_up_id, _, _mac = token.partition(".")
    if not follow_up_id or not hmac.compare_digest(survey_token(secret, follow_up_id), token):
        return None
    return follow_up_id


@dataclass
class WorkflowJobs:
    sessions: async_sessionmaker[AsyncSession]
    services: WorkflowServices
    bus: EventBus | None = None
    contact_center: FollowUpDialer | None = None
    survey_sender: SurveyLinkSender | None = None
    secret: bytes = b""
    public_url: str = "http://127.0.0.1:8080"
    followup_queue: str = "general"
    complaint_followup_queue: str = "complaints"
    # None: the [retention] rules of crm.toml (CrmRules.retention).
    retention_rules: tuple[RetentionRule, ...] | None = None
    # Whether a queue is open right now (the routing calendars); None: always open.
    queue_open: Callable[[str], bool] | None = None
    last_segmentation: dt.date | None = field(default=None, repr=False)
    _last_retention: dt.datetime | None = field(default=None, repr=False)

    def _queue_open(self, queue: str) -> bool:
        return True if self.queue_open is None else self.queue_open(queue)

    @property
    def rules(self) -> CrmRules:
        return self.services.rules

    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(topic, message)
        except Exception:
            log.warning("bus publish failed", topic=topic, exc_info=True)

    async def escalate_complaints(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        alerts = await self.services.complaints.escalate_due(now_utc(now))
        for alert in alerts:
            message = f"complaint {alert['case_number']} ({alert['severity']}) is past its SLA"
            await self._publish(
                ALERTS_TOPIC, {"type": "alert", "data": {**alert, "message": message}}
            )
        return alerts

    async def start_due_followups(self, now: dt.datetime | None = None) -> dict[str, list[str]]:
        """Move planned follow-ups whose time has come to ``due`` and start their outreach."""
        at = now_utc(now)
        rows = await self.services.followups.ready(at)
        done: dict[str, list[str]] = {"called": [], "emailed": [], "listed": [], "waiting": []}
        for row in rows:
            if self._is_call(row) and not self._queue_open(self._queue_of(row)):
                # Routing would turn a call into a closed queue into an after-hours callback
                # at once; the follow-up stays planned and is placed when the queue opens.
                done["waiting"].append(row.id)
                continue
            try:
                await self.services.followups.act(row.id, "due", now=at)
                kind = await self._outreach(row, at)
            except Exception:
                log.error("follow-up outreach failed", follow_up_id=row.id, exc_info=True)
                continue
            done[kind].append(row.id)
        return done

    async def _identity(self, customer_id: str | None, kind: str) -> str | None:
        if customer_id is None:
            return None
        async with self.sessions() as session:
            rows = await session.scalars(
                select(CustomerIdentity)
                .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == kind)
                .order_by(CustomerIdentity.is_primary.desc(), CustomerIdentity.created_at)
            )
            first = rows.first()
            return None if first is None else first.value

    def _is_call(self, row: FollowUp) -> bool:
        return row.channel in ("phone", "voice", "callback") and self.contact_center is not None

    def _queue_of(self, row: FollowUp) -> str:
        return self.complaint_followup_queue if row.complaint_id else self.followup_queue

    async def _outreach(self, row: FollowUp, at: dt.datetime) -> str:
        channel = row.channel
        if self._is_call(row) and self.contact_center is not None:
            number = await self._identity(row.customer_id, "phone")
            cc = self.contact_center
            interaction = await cc.new_interaction(
                Channel.FOLLOW_UP,
                direction=Direction.OUTBOUND,
                customer_id=row.customer_id,
                attributes={
                    "follow_up_id": row.id,
                    "purpose": row.purpose,
                    "complaint_id": row.complaint_id,
                    "dial_number": number,
                    "outline": row.outline,
                },
            )
            await cc.enqueue(
                interaction.id, self._queue_of(row), preferred_agent_id=row.questioner_id
            )
            await self._audit(row.id, "dial_queued", {"interaction_id": interaction.id})
            return "called"
        if channel == "email":
            email = await self._identity(row.customer_id, "email")
            link = f"{self.public_url.rstrip('/')}/survey/{survey_token(self.secret, row.id)}"
            message = {
                "follow_up_id": row.id,
                "customer_id": row.customer_id,
                "email": email,
                "link": link,
            }
            if self.survey_sender is not None and email:
                await self.survey_sender.send_survey_link(
                    follow_up_id=row.id, customer_id=row.customer_id, email=email, link=link
                )
            await self._publish(SURVEY_LINK_TOPIC, {"type": "survey_link", "data": message})
            await self._audit(row.id, "survey_link", {"email_known": bool(email)})
            return "emailed"
        return "listed"  # visits (or calls with no contact center) wait in the due list

    async def _audit(self, followup_id: str, action: str, details: dict[str, Any]) -> None:
        async with self.sessions.begin() as session:
            add_audit(session, SYSTEM, action, "follow_up", followup_id, details)

    async def retention(self, now: dt.datetime | None = None) -> dict[str, int]:
        rules = self.rules.retention if self.retention_rules is None else self.retention_rules
        return await apply_retention(
            self.sessions, rules, now_utc(now), self.services.privacy.data_dir
        )

    async def segmentation(self, now: dt.datetime | None = None) -> dict[str, int]:
        return await recompute_segments(self.sessions, self.rules.segmentation, now_utc(now))

    async def tick(self, now: dt.datetime | None = None) -> None:
        """One pass of every job that is due at ``now`` (each failure logged, not raised)."""
        at = now_utc(now)
        jobs: list[tuple[str, Callable[[dt.datetime], Awaitable[Any]]]] = [
            ("escalation", self.escalate_complaints),
            ("follow_ups", self.start_due_followups),
        ]
        if self._last_retention is None or at - self._last_retention >= dt.timedelta(hours=1):
            self._last_retention = at
            jobs.append(("retention", self.retention))
        if at.hour >= 2 and self.last_segmentation != at.date():
            self.last_segmentation = at.date()
            jobs.append(("segmentation", self.segmentation))
        for name, job in jobs:
            try:
                await job(at)
            except Exception:
                log.error("scheduled job failed", job=name, exc_info=True)


def workflows_of(services: Any) -> WorkflowServices:
    """The application's workflow services (``extras["workflows"]``), built on first use
    (the session factory exists only once the database context has started)."""
    found = services.extras.get("workflows")
    if isinstance(found, WorkflowServices):
        return found
    built = workflow_services(
        services.require_sessions(),
        load_rules(services.settings.paths.crm),
        services.settings.server.data_dir,
    )
    services.extras["workflows"] = built
    return built


def jobs_for_app(app: web.Application) -> WorkflowJobs:
    """The jobs of a running application (after the database, bus and contact center)."""
    from ccserver.app import SERVICES
    from ccserver.web.routes_console import CONTACT_CENTER
    from ccserver.web.sessions import load_or_create_secret

    services = app[SERVICES]
    settings = services.settings
    cc = app.get(CONTACT_CENTER)

    def queue_open(queue: str) -> bool:
        return True if cc is None else cc.queue_open(queue)

    host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    return WorkflowJobs(
        sessions=services.require_sessions(),
        services=workflows_of(services),
        bus=services.bus,
        contact_center=cc,
        queue_open=queue_open,
        survey_sender=services.extras.get("survey_link_sender"),
        secret=load_or_create_secret(settings.server.data_dir / "secret_key"),
        public_url=f"http://{host}:{settings.server.port}",
    )


SCHEDULER_INTERVAL_S = 30.0


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: run :meth:`WorkflowJobs.tick` every 30 s until shutdown;
    the jobs are in ``extras["workflow_jobs"]``."""
    from ccserver.app import SERVICES

    jobs = jobs_for_app(app)
    services = app[SERVICES]
    services.extras["workflow_jobs"] = jobs
    calls = None
    from ccserver.web.routes_console import CONTACT_CENTER

    cc = app.get(CONTACT_CENTER)
    if cc is not None:
        calls = FollowUpCalls(cc, jobs.services.followups, _voice_dialer(services.extras))
        cc.register(Channel.FOLLOW_UP, calls)
    # Nightly means at night: a server started at noon segments first at the next 02:00.
    jobs.last_segmentation = dt.datetime.now(dt.UTC).date()

    async def loop() -> None:
        while True:
            # Sleep first: start-up (migrations, demo seeding) finishes before any job runs.
            await asyncio.sleep(SCHEDULER_INTERVAL_S)
            await jobs.tick()

    task = asyncio.create_task(loop(), name="workflow-scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if calls is not None:
            await calls.close()


def _voice_dialer(extras: dict[str, Any]) -> Dialer | None:
    """The voice channel's dialer (it may start after us: it looks voice up per call)."""
    try:
        from ccserver.channels.setup import VoiceDialer
    except ImportError:  # a build without the channels package
        return None
    return VoiceDialer(extras)
