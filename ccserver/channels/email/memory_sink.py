"""An in-memory :class:`EmailSink` for tests, demos and the embedded single-node default
until the CRM-backed sink is wired in ``app.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ccserver.channels.email.delivery import Delivery, DeliveryStatus
from ccserver.channels.email.parsing import ParsedEmail
from ccserver.channels.email.threading import CaseRef
from ccserver.domain import new_id


@dataclass
class StoredCase:
    ref: CaseRef
    inbound: list[ParsedEmail] = field(default_factory=list)
    outbound: list[Delivery] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Enqueued:
    case_number: str
    message_id: str | None
    preferred_agent_id: str | None


class InMemoryEmailSink:
    def __init__(self, first_case_number: int = 10001, prefix: str = "C") -> None:
        self._next = first_case_number
        self._prefix = prefix
        self.cases: dict[str, StoredCase] = {}  # by case number
        self.by_message_id: dict[str, str] = {}  # message id -> case number
        self.enqueued: list[Enqueued] = []
        self.status_log: list[tuple[str, DeliveryStatus]] = []
        self.fail_store = False  # tests: simulate the database being down

    async def find_cases(
        self, message_ids: Sequence[str], case_numbers: Sequence[str]
    ) -> tuple[Mapping[str, CaseRef], Mapping[str, CaseRef]]:
        by_id = {
            mid: self.cases[self.by_message_id[mid]].ref
            for mid in message_ids
            if mid in self.by_message_id
        }
        by_number = {n: self.cases[n].ref for n in case_numbers if n in self.cases}
        return by_id, by_number

    async def store_inbound(self, mail: ParsedEmail, case: CaseRef | None) -> CaseRef:
        if self.fail_store:
            from ccserver.errors import StoreUnavailable

            raise StoreUnavailable("in-memory sink told to fail")
        if case is None:
            number = f"{self._prefix}-{self._next}"
            self._next += 1
            case = CaseRef(case_id=new_id(), case_number=number, customer_address=mail.from_address)
            self.cases[number] = StoredCase(case)
        stored = self.cases[case.case_number]
        stored.inbound.append(mail)
        if mail.message_id:
            self.by_message_id.setdefault(mail.message_id, case.case_number)
        return stored.ref

    async def enqueue(
        self, case: CaseRef, mail: ParsedEmail, preferred_agent_id: str | None
    ) -> None:
        self.enqueued.append(Enqueued(case.case_number, mail.message_id, preferred_agent_id))

    async def record_outbound(
        self, case: CaseRef, delivery: Delivery, agent_id: str | None
    ) -> None:
        stored = self.cases[case.case_number]
        stored.outbound.append(delivery)
        self.by_message_id[delivery.id] = case.case_number
        if agent_id is not None:
            stored.ref = replace(stored.ref, last_agent_id=agent_id)

    async def delivery_changed(self, delivery: Delivery) -> None:
        self.status_log.append((delivery.id, delivery.status))
