"""Row builders of the demo data set: one function per table, all drawing from one seeded
generator so the same seed gives the same rows (ids included)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ccserver.crm.demo_data_vocab import (
    CARRIERS,
    CHANNELS,
    COMPLAINT_TEXTS,
    CURRENCY,
    DISPOSITIONS,
    DOMAINS,
    NAMES,
    ORDER_STATUSES,
    PRODUCTS,
    QUEUES,
    SEGMENTS,
    SEVERITY_HOURS,
    STAGES,
    TIERS,
)


def pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


class Gen:
    """Deterministic ids and values from one seeded generator."""

    def __init__(self, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.used_phones: set[str] = set()

    def uid(self, at: dt.datetime) -> str:
        """UUIDv7 layout (time-sortable like ``new_id``) with seeded random bits."""
        ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
        value = ms << 80 | 0x7 << 76 | self.rng.getrandbits(12) << 64 | 0b10 << 62
        value |= self.rng.getrandbits(62)
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ago(self, max_days: float, min_days: float = 0.0) -> dt.datetime:
        seconds = self.rng.uniform(min_days * 86400, max_days * 86400)
        return (self.now - dt.timedelta(seconds=seconds)).replace(microsecond=0)

    def phone(self, locale: str) -> str:
        r = self.rng
        while True:
            if locale == "ja":
                number = f"+81{r.choice('987')}0{r.randint(1000, 9999)}{r.randint(1000, 9999)}"
            elif locale == "th":
                number = f"+66{r.choice('89')}{r.randint(1, 9)}{r.randint(1000000, 9999999)}"
            elif locale == "zh":
                number = (
                    f"+861{r.choice(['38', '39', '58', '86', '88'])}{r.randint(10**7, 10**8 - 1)}"
                )
            elif r.random() < 0.7:
                area = r.choice(["202", "212", "312", "415", "617", "646", "213", "305"])
                exchange = r.randint(200, 999)
                if exchange % 100 == 11:  # N11 codes are service numbers, never subscribers
                    continue
                number = f"+1{area}{exchange}{r.randint(0, 9999):04d}"
            else:
                number = f"+4420{r.choice('378')}{r.randint(100, 999)}{r.randint(0, 9999):04d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number


def customer_row(g: Gen, locale: str, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    r = g.rng
    firsts, lasts = NAMES[locale]
    (first, first_r), (last, last_r) = r.choice(firsts), r.choice(lasts)
    display = {
        "en": f"{first} {last}",
        "ja": f"{last} {first}",
        "th": f"{first} {last}",
        "zh": f"{last}{first}",
    }[locale]
    created = g.ago(900, 30)
    cid = g.uid(created)
    tier = pick(r, TIERS)
    segment = pick(r, SEGMENTS)
    company = (
        f"{last_r.title().replace(' ', '')} Trading" if segment in ("smb", "enterprise") else None
    )
    value = (
        Decimal(
            r.randint(0, {"bronze": 500, "silver": 3000, "gold": 15000, "platinum": 80000}[tier])
        )
        + Decimal(r.randint(0, 99)) / 100
    )
    tags = r.sample(
        ["newsletter", "b2b", "early-adopter", "vip", "eco", "reseller"], k=r.choice((0, 0, 1, 2))
    )
    customer = {
        "id": cid,
        "customer_number": f"C{number:06d}",
        "display_name": display,
        "name_key": display.lower(),
        "last_name_key": last.lower(),
        "first_name": first,
        "last_name": last,
        "company": company,
        "segment": segment,
        "tier": tier,
        "lifecycle_stage": pick(r, STAGES),
        "lifetime_value": value,
        "preferred_language": locale,
        "consent_phone": True,
        "consent_email": r.random() < 0.9,
        "consent_sms": r.random() < 0.4,
        "consent_survey": r.random() < 0.8,
        "consent_marketing": r.random() < 0.35,
        "owner_agent_id": None,
        "tags": tags,
        "notes": None,
        "created_at": created,
        "updated_at": created,
        "version": 1,
        "merged_into_id": None,
        "erased_at": None,
    }
    email = f"{first_r}.{last_r}{number}@{r.choice(DOMAINS[locale])}".lower().replace("'", "")
    values = [("phone", g.phone(locale))]
    if r.random() < 0.2:
        values.append(("phone", g.phone(locale)))
    values.append(("email", email))
    identities = []
    kinds: set[str] = set()
    for kind, value_ in values:
        identities.append(
            {
                "id": g.uid(created),
                "customer_id": cid,
                "kind": kind,
                "value": value_,
                "raw_value": value_,
                "label": "mobile" if kind == "phone" and kinds else None,
                "is_primary": kind not in kinds,
                "verified": r.random() < 0.5,
                "created_at": created,
            }
        )
        kinds.add(kind)
    return customer, identities


def order_row(g: Gen, locale: str, cid: str, number: str) -> dict[str, Any]:
    r = g.rng
    status = pick(r, ORDER_STATUSES)
    ordered = g.ago(365, 1 if status in ("placed", "paid", "processing", "shipped") else 14)
    if status in ("placed", "paid", "processing", "shipped"):
        ordered = g.ago(10, 0.2)
    items: list[dict[str, Any]] = []
    for sku, name, price in r.sample(PRODUCTS, k=r.randint(1, 3)):
        items.append({"sku": sku, "name": name, "qty": r.randint(1, 3), "unit_price": price})
    factor = {"USD": 1, "JPY": 150, "THB": 35, "CNY": 7}[CURRENCY[locale]]
    total = Decimal(sum(i["qty"] * i["unit_price"] for i in items) * factor).quantize(
        Decimal("0.01")
    )
    shipped = delivered = None
    if status in ("shipped", "delivered", "returned", "refunded"):
        shipped = ordered + dt.timedelta(hours=r.randint(12, 72))
    if status in ("delivered", "returned", "refunded"):
        assert shipped is not None
        delivered = shipped + dt.timedelta(hours=r.randint(20, 120))
    carrier = r.choice(CARRIERS[locale]) if shipped else None
    return {
        "id": g.uid(ordered),
        "order_number": number,
        "customer_id": cid,
        "status": status,
        "total": total,
        "currency": CURRENCY[locale],
        "ordered_at": ordered,
        "shipped_at": shipped,
        "delivered_at": delivered,
        "carrier": carrier,
        "tracking": f"{carrier[:2].upper()}{r.randint(10**9, 10**10 - 1)}" if carrier else None,
        "items": items,
        "created_at": ordered,
        "updated_at": delivered or shipped or ordered,
    }


def contact_row(g: Gen, cid: str, agents: list[str]) -> dict[str, Any]:
    r = g.rng
    channel = pick(r, CHANNELS)
    started = g.ago(180)
    queue = r.choice(QUEUES)
    abandoned = channel in ("voice", "callback") and r.random() < 0.08
    wait = round(r.expovariate(1 / 35), 1) if channel != "email" else round(r.uniform(600, 86400))
    talk = None if abandoned else round(r.uniform(60, 900), 1)
    wrap = None if abandoned else round(r.uniform(10, 120), 1)
    disposition = None if abandoned else r.choice(list(DISPOSITIONS))
    answered = None if abandoned else started + dt.timedelta(seconds=wait)
    ended = started + dt.timedelta(seconds=wait + (talk or 0))
    return {
        "id": g.uid(started),
        "interaction_id": g.uid(started),
        "customer_id": cid,
        "channel": channel,
        "direction": "outbound" if channel == "callback" else "inbound",
        "queue": queue,
        "agent_id": None if abandoned else r.choice(agents),
        "started_at": started,
        "queued_at": started,
        "answered_at": answered,
        "ended_at": ended,
        "wrap_up_end_at": None if abandoned else ended + dt.timedelta(seconds=wrap or 0),
        "wait_s": wait,
        "talk_s": talk,
        "hold_s": None if abandoned else float(r.choice((0, 0, 30))),
        "wrap_s": wrap,
        "outcome": "abandoned" if abandoned else "answered",
        "disposition": disposition,
        "notes": DISPOSITIONS.get(disposition or ""),
        "fcr": None if abandoned else r.random() < 0.75,
        "recording_ref": (
            f"rec/{started:%Y/%m/%d}/{r.getrandbits(40):010x}.wav"
            if channel == "voice" and not abandoned
            else None
        ),
        "ivr_path": ["main", queue] if channel == "voice" else [],
        "attributes": {},
        "related_contact_id": None,
        "case_number": None,
        "created_at": started,
    }


def messages_row(g: Gen, contact: dict[str, Any], customer: dict[str, Any]) -> list[dict[str, Any]]:
    note = contact["notes"] or "Thanks for getting in touch."
    out = []
    at = contact["started_at"]
    texts = [
        ("inbound", f"Hello, I have a question about my account ({customer['customer_number']}).")
    ]
    if contact["outcome"] == "answered":
        texts.append(("outbound", f"Hello {customer['first_name']}, {note}"))
    for direction, body in texts:
        out.append(
            {
                "id": g.uid(at),
                "contact_id": contact["id"],
                "direction": direction,
                "sender": None,
                "recipients": [],
                "subject": "Your enquiry" if contact["channel"] == "email" else None,
                "body_text": body,
                "body_html": None,
                "headers": {},
                "message_id": None,
                "in_reply_to": None,
                "attachments": [],
                "created_at": at,
            }
        )
        at = at + dt.timedelta(seconds=g.rng.randint(20, 600))
    return out


def survey_response_row(g: Gen, contact: dict[str, Any], survey_id: str) -> dict[str, Any]:
    csat = g.rng.choices((1, 2, 3, 4, 5), (4, 6, 15, 35, 40))[0]
    at = contact["ended_at"] + dt.timedelta(minutes=5)
    return {
        "id": g.uid(at),
        "survey_id": survey_id,
        "customer_id": contact["customer_id"],
        "contact_id": contact["id"],
        "agent_id": contact["agent_id"],
        "queue": contact["queue"],
        "complaint_id": None,
        "csat": csat,
        "nps": min(10, max(0, csat * 2 + g.rng.randint(-2, 1))),
        "ces": g.rng.randint(1, 7),
        "text": None if csat > 2 else "Took too long to sort out.",
        "created_at": at,
    }


def complaint_row(
    g: Gen, cid: str, contact: dict[str, Any], agents: list[str], number: int
) -> dict[str, Any]:
    r = g.rng
    (category, sub), text = r.choice(list(COMPLAINT_TEXTS.items()))
    severity = r.choices(list(SEVERITY_HOURS), (3, 20, 60, 17))[0]
    created = contact["started_at"]
    status = r.choices(
        ("received", "acknowledged", "investigating", "resolved", "customer_feedback", "closed"),
        (10, 15, 20, 10, 5, 40),
    )[0]
    closed = status == "closed"
    resolved_at = (
        created + dt.timedelta(hours=r.randint(2, 100))
        if status in ("resolved", "customer_feedback", "closed")
        else None
    )
    return {
        "id": g.uid(created),
        "case_number": f"CMP-{number:06d}",
        "customer_id": cid,
        "contact_id": contact["id"],
        "category": category,
        "subcategory": sub,
        "severity": severity,
        "channel": contact["channel"],
        "order_ref": None,
        "description": text,
        "status": status,
        "owner_id": r.choice(agents),
        "sla_due_at": created + dt.timedelta(hours=SEVERITY_HOURS[severity]),
        "escalated_at": None,
        "validity": "basically_true" if resolved_at else None,
        "resolution": "Apologised and replaced the item." if resolved_at else None,
        "root_cause": "Carrier hand-over delay." if closed else None,
        "corrective_action": "Replacement shipped by express." if closed else None,
        "preventive_action": "Daily carrier exception report." if closed else None,
        "customer_accepted": True if closed else None,
        "customer_rating": r.randint(3, 5) if closed else None,
        "history": [{"at": created.isoformat(), "status": "received"}],
        "created_at": created,
        "updated_at": resolved_at or created,
        "acknowledged_at": created + dt.timedelta(hours=1) if status != "received" else None,
        "resolved_at": resolved_at,
        "closed_at": resolved_at + dt.timedelta(days=3) if closed and resolved_at else None,
        "version": 1,
    }


def follow_up_row(g: Gen, cid: str, agents: list[str], complaint_id: str | None) -> dict[str, Any]:
    r = g.rng
    created = g.ago(20, 1)
    window = g.now + dt.timedelta(days=r.randint(0, 10), hours=9)
    purpose = (
        "complaint_resolution_check"
        if complaint_id
        else r.choice(("delivery_satisfaction", "renewal_reminder", "product_onboarding"))
    )
    return {
        "id": g.uid(created),
        "customer_id": cid,
        "purpose": purpose,
        "outline": [
            {"id": "q1", "kind": "scale", "text": "How satisfied are you now? (1-5)"},
            {"id": "q2", "kind": "text", "text": "Anything else we can do?"},
        ],
        "window_start": window,
        "window_end": window + dt.timedelta(hours=8),
        "channel": "voice",
        "questioner_id": r.choice(agents),
        "recorder_id": r.choice(agents),
        "status": r.choice(("planned", "planned", "due")),
        "outcome": None,
        "answers": {},
        "complaint_id": complaint_id,
        "survey_id": None,
        "contact_id": None,
        "created_at": created,
        "updated_at": created,
        "completed_at": None,
    }
