"""A realistic, deterministic demo data set (``ccserver demo-data``).

Customers from several locales (English, Japanese, Thai, Chinese; names in their own
script), valid E.164 phones of their regions and e-mail addresses, tiers, segments and life-cycle
stages; orders with statuses and shipping/delivery dates; past contacts across channels with
queues, agents, dispositions and notes (chat and e-mail contacts with their messages); CSAT/NPS
answers; some open and some closed complaints; pending follow-ups; and the people who use the
console: an admin, a supervisor and agents with skills and SIP endpoints (``PJSIP/agent1001``).

Same ``seed`` and ``now`` -> the very same rows (ids included), so demos and tests can name
them. Rows are bulk-inserted with the outbox's compiled inserts, a few statements per table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.database import session_factory
from ccserver.crm.errors import DuplicateUser
from ccserver.crm.models import (
    Complaint,
    Contact,
    Counter,
    Customer,
    CustomerIdentity,
    FollowUp,
    Message,
    Order,
    Survey,
    SurveyResponse,
)
from ccserver.crm.outbox_handlers import insert_handler
from ccserver.crm.users import UserService

DEMO_PASSWORD = "ccserver-demo"  # printed by the CLI; demo databases only

# (native script, romanised) name parts per locale
_NAMES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "en": (
        [
            (n, n)
            for n in (
                "James",
                "Mary",
                "Robert",
                "Patricia",
                "John",
                "Jennifer",
                "Michael",
                "Linda",
                "David",
                "Elizabeth",
                "William",
                "Sarah",
                "Thomas",
                "Emma",
                "Oliver",
                "Sophie",
                "Daniel",
                "Grace",
            )
        ],
        [
            (n, n)
            for n in (
                "Smith",
                "Johnson",
                "Williams",
                "Brown",
                "Jones",
                "Garcia",
                "Miller",
                "Davis",
                "Wilson",
                "Taylor",
                "Clark",
                "Walker",
                "Hall",
                "Young",
                "O'Brien",
                "Evans",
            )
        ],
    ),
    "ja": (
        [
            ("太郎", "taro"),
            ("花子", "hanako"),
            ("健太", "kenta"),
            ("美咲", "misaki"),
            ("翔", "sho"),
            ("陽菜", "hina"),
            ("大輔", "daisuke"),
            ("結衣", "yui"),
            ("蓮", "ren"),
            ("さくら", "sakura"),
        ],
        [
            ("佐藤", "sato"),
            ("鈴木", "suzuki"),
            ("高橋", "takahashi"),
            ("田中", "tanaka"),
            ("伊藤", "ito"),
            ("渡辺", "watanabe"),
            ("山本", "yamamoto"),
            ("中村", "nakamura"),
            ("小林", "kobayashi"),
            ("加藤", "kato"),
        ],
    ),
    "th": (
        [
            ("สมชาย", "somchai"),
            ("สมศรี", "somsri"),
            ("วิชัย", "wichai"),
            ("สุดา", "suda"),
            ("อนันต์", "anan"),
            ("มาลี", "malee"),
            ("ธนพล", "thanapon"),
            ("กนกวรรณ", "kanokwan"),
        ],
        [
            ("ศรีสุข", "srisuk"),
            ("วงศ์สวัสดิ์", "wongsawat"),
            ("แก้วมณี", "kaewmanee"),
            ("ทองดี", "thongdee"),
            ("สุขใจ", "sukjai"),
            ("บุญมา", "boonma"),
        ],
    ),
    "zh": (
        [
            ("伟", "wei"),
            ("芳", "fang"),
            ("娜", "na"),
            ("敏", "min"),
            ("静", "jing"),
            ("强", "qiang"),
            ("磊", "lei"),
            ("洋", "yang"),
            ("丽", "li"),
            ("军", "jun"),
        ],
        [
            ("王", "wang"),
            ("李", "li"),
            ("张", "zhang"),
            ("刘", "liu"),
            ("陈", "chen"),
            ("杨", "yang"),
            ("黄", "huang"),
            ("赵", "zhao"),
        ],
    ),
}
_LOCALE_WEIGHTS = {"en": 45, "ja": 20, "th": 15, "zh": 20}
_DOMAINS = {
    "en": ("example.com", "example.org", "example.net"),
    "ja": ("example.jp",),
    "th": ("example.co.th",),
    "zh": ("example.cn",),
}
_CURRENCY = {"en": "USD", "ja": "JPY", "th": "THB", "zh": "CNY"}
_TIERS = (("bronze", 50), ("silver", 30), ("gold", 15), ("platinum", 5))
_SEGMENTS = (("retail", 60), ("smb", 25), ("enterprise", 10), ("public", 5))
_STAGES = (
    ("active", 50),
    ("loyal", 15),
    ("new", 15),
    ("at_risk", 8),
    ("prospect", 5),
    ("inactive", 5),
    ("churned", 2),
)
_ORDER_STATUSES = (
    ("delivered", 55),
    ("shipped", 12),
    ("processing", 8),
    ("paid", 6),
    ("placed", 4),
    ("cancelled", 7),
    ("returned", 5),
    ("refunded", 3),
)
_PRODUCTS = (
    ("KB-100", "Wireless keyboard", 49),
    ("MS-20", "Mouse", 19),
    ("HD-7", "Headset with microphone", 89),
    ("MN-27", "27-inch monitor", 279),
    ("CB-1", "USB-C cable", 9),
    ("LP-14", "14-inch laptop", 999),
    ("DK-3", "Docking station", 159),
)
_CARRIERS = {
    "en": ("UPS", "FedEx", "Royal Mail"),
    "ja": ("Yamato", "Sagawa"),
    "th": ("Thailand Post", "Kerry Express"),
    "zh": ("SF Express", "China Post"),
}
_CHANNELS = (("voice", 50), ("email", 20), ("chat", 20), ("web", 5), ("callback", 5))
_QUEUES = ("sales", "support", "billing", "delivery", "vip")
# disposition -> note the agent typed
_DISPOSITIONS = {
    "order_status": "Customer asked where the order is; gave tracking number.",
    "delivery_issue": "Parcel delayed at the depot; opened a trace with the carrier.",
    "billing_question": "Explained the invoice lines; customer satisfied.",
    "refund_request": "Refund approved for returned item; 3-5 working days.",
    "product_question": "Explained warranty and compatibility with the docking station.",
    "technical_support": "Reset the headset pairing; works now.",
    "complaint": "Customer unhappy with service; complaint logged.",
    "sales_inquiry": "Quoted volume pricing for 20 monitors; sent offer by e-mail.",
    "address_change": "Updated delivery address for the next order.",
    "callback_scheduled": "Customer busy; callback agreed for tomorrow morning.",
}
_COMPLAINT_TEXTS = {
    ("product", "quality"): "The monitor has a line of dead pixels after two weeks.",
    ("product", "delivery"): "The parcel arrived four days late and the box was crushed.",
    ("product", "function"): "The keyboard does not connect after the latest update.",
    ("product", "transaction"): "I was charged twice for the same order.",
    ("product", "safety"): "The charger gets very hot and smells of burning.",
    ("service", "attitude"): "The agent was impatient and hung up on me.",
    ("service", "capability"): "Nobody could tell me why my refund is late.",
    ("service", "quality"): "I had to explain the problem three times to three people.",
    ("service", "etiquette"): "I was put on hold for 25 minutes without explanation.",
}
_SEVERITY_HOURS = {"critical": 4, "high": 24, "normal": 72, "low": 168}


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


@dataclass
class DemoSummary:
    customers: int = 0
    identities: int = 0
    orders: int = 0
    contacts: int = 0
    messages: int = 0
    survey_responses: int = 0
    complaints: int = 0
    open_complaints: int = 0
    follow_ups: int = 0
    users: list[str] = field(default_factory=list)
    password: str = DEMO_PASSWORD
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class _Gen:
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


async def generate_demo_data(
    engine: AsyncEngine,
    *,
    customers: int = 5000,
    seed: int = 1,
    agents: int = 12,
    now: dt.datetime | None = None,
    with_users: bool = True,
) -> DemoSummary:
    """Fill a migrated database with a demo data set; returns what was written."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    g = _Gen(seed, now)
    summary = DemoSummary()
    agent_names = [f"agent{1001 + i}" for i in range(agents)]
    if with_users:
        summary.users = await _create_users(engine, agent_names)
    tables: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in (
            "customers",
            "customer_identities",
            "orders",
            "contacts",
            "messages",
            "surveys",
            "survey_responses",
            "complaints",
            "follow_ups",
        )
    }
    survey_id = g.uid(now - dt.timedelta(days=400))
    tables["surveys"].append(
        {
            "id": survey_id,
            "kind": "csat",
            "name": f"Post-contact satisfaction (demo {seed})",
            "questions": [
                {"id": "csat", "text": "How satisfied were you? (1-5)"},
                {"id": "nps", "text": "How likely are you to recommend us? (0-10)"},
            ],
            "active": True,
            "created_at": now - dt.timedelta(days=400),
        }
    )
    async with engine.begin() as conn:
        last = (
            await conn.execute(
                update(Counter)
                .where(Counter.name == "customer")
                .values(value=Counter.value + customers)
                .returning(Counter.value)
            )
        ).scalar_one()
        first_number = int(last) - customers + 1
        complaint_base = int(
            (
                await conn.execute(select(Counter.value).where(Counter.name == "complaint"))
            ).scalar_one()
            or 0
        )
    complaint_no = complaint_base
    for i in range(customers):
        locale = _pick(g.rng, list(_LOCALE_WEIGHTS.items()))
        customer, identities = _customer(g, locale, first_number + i)
        tables["customers"].append(customer)
        tables["customer_identities"].extend(identities)
        cid = customer["id"]
        for k in range(g.rng.choices((0, 1, 2, 3, 4), (25, 35, 20, 12, 8))[0]):
            number = f"SO-{first_number + i:06d}-{k + 1}"  # unique as customer numbers are
            tables["orders"].append(_order(g, locale, cid, number))
        contacts = [
            _contact(g, cid, agent_names)
            for _ in range(g.rng.choices((0, 1, 2, 3, 5), (20, 35, 25, 12, 8))[0])
        ]
        contacts.sort(key=lambda c: c["started_at"])
        tables["contacts"].extend(contacts)
        for c in contacts:
            if c["channel"] in ("email", "chat", "web"):
                tables["messages"].extend(_messages(g, c, customer))
            if c["outcome"] == "answered" and g.rng.random() < 0.25:
                tables["survey_responses"].append(_survey_response(g, c, survey_id))
        if contacts and g.rng.random() < 0.06:
            complaint_no += 1
            complaint = _complaint(g, cid, contacts[-1], agent_names, complaint_no)
            tables["complaints"].append(complaint)
            summary.open_complaints += complaint["closed_at"] is None
            if complaint["status"] in ("resolved", "customer_feedback") or g.rng.random() < 0.3:
                tables["follow_ups"].append(_follow_up(g, cid, agent_names, complaint["id"]))
        elif g.rng.random() < 0.02:
            tables["follow_ups"].append(_follow_up(g, cid, agent_names, None))

    models: dict[str, Any] = {
        "customers": Customer,
        "customer_identities": CustomerIdentity,
        "orders": Order,
        "contacts": Contact,
        "messages": Message,
        "surveys": Survey,
        "survey_responses": SurveyResponse,
        "complaints": Complaint,
        "follow_ups": FollowUp,
    }
    async with engine.begin() as conn:
        for name, rows in tables.items():
            handler = insert_handler(cast(Table, models[name].__table__))
            for start in range(0, len(rows), 5000):
                await handler(conn, rows[start : start + 5000])
        if complaint_no != complaint_base:
            await conn.execute(
                update(Counter).where(Counter.name == "complaint").values(value=complaint_no)
            )
    summary.customers = len(tables["customers"])
    summary.identities = len(tables["customer_identities"])
    summary.orders = len(tables["orders"])
    summary.contacts = len(tables["contacts"])
    summary.messages = len(tables["messages"])
    summary.survey_responses = len(tables["survey_responses"])
    summary.complaints = len(tables["complaints"])
    summary.follow_ups = len(tables["follow_ups"])
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _customer(g: _Gen, locale: str, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    r = g.rng
    firsts, lasts = _NAMES[locale]
    (first, first_r), (last, last_r) = r.choice(firsts), r.choice(lasts)
    display = {
        "en": f"{first} {last}",
        "ja": f"{last} {first}",
        "th": f"{first} {last}",
        "zh": f"{last}{first}",
    }[locale]
    created = g.ago(900, 30)
    cid = g.uid(created)
    tier = _pick(r, _TIERS)
    segment = _pick(r, _SEGMENTS)
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
        "lifecycle_stage": _pick(r, _STAGES),
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
    email = f"{first_r}.{last_r}{number}@{r.choice(_DOMAINS[locale])}".lower().replace("'", "")
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


def _order(g: _Gen, locale: str, cid: str, number: str) -> dict[str, Any]:
    r = g.rng
    status = _pick(r, _ORDER_STATUSES)
    ordered = g.ago(365, 1 if status in ("placed", "paid", "processing", "shipped") else 14)
    if status in ("placed", "paid", "processing", "shipped"):
        ordered = g.ago(10, 0.2)
    items: list[dict[str, Any]] = []
    for sku, name, price in r.sample(_PRODUCTS, k=r.randint(1, 3)):
        items.append({"sku": sku, "name": name, "qty": r.randint(1, 3), "unit_price": price})
    factor = {"USD": 1, "JPY": 150, "THB": 35, "CNY": 7}[_CURRENCY[locale]]
    total = Decimal(sum(i["qty"] * i["unit_price"] for i in items) * factor).quantize(
        Decimal("0.01")
    )
    shipped = delivered = None
    if status in ("shipped", "delivered", "returned", "refunded"):
        shipped = ordered + dt.timedelta(hours=r.randint(12, 72))
    if status in ("delivered", "returned", "refunded"):
        assert shipped is not None
        delivered = shipped + dt.timedelta(hours=r.randint(20, 120))
    carrier = r.choice(_CARRIERS[locale]) if shipped else None
    return {
        "id": g.uid(ordered),
        "order_number": number,
        "customer_id": cid,
        "status": status,
        "total": total,
        "currency": _CURRENCY[locale],
        "ordered_at": ordered,
        "shipped_at": shipped,
        "delivered_at": delivered,
        "carrier": carrier,
        "tracking": f"{carrier[:2].upper()}{r.randint(10**9, 10**10 - 1)}" if carrier else None,
        "items": items,
        "created_at": ordered,
        "updated_at": delivered or shipped or ordered,
    }


def _contact(g: _Gen, cid: str, agents: list[str]) -> dict[str, Any]:
    r = g.rng
    channel = _pick(r, _CHANNELS)
    started = g.ago(180)
    queue = r.choice(_QUEUES)
    abandoned = channel in ("voice", "callback") and r.random() < 0.08
    wait = round(r.expovariate(1 / 35), 1) if channel != "email" else round(r.uniform(600, 86400))
    talk = None if abandoned else round(r.uniform(60, 900), 1)
    wrap = None if abandoned else round(r.uniform(10, 120), 1)
    disposition = None if abandoned else r.choice(list(_DISPOSITIONS))
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
        "notes": _DISPOSITIONS.get(disposition or ""),
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


def _messages(g: _Gen, contact: dict[str, Any], customer: dict[str, Any]) -> list[dict[str, Any]]:
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


def _survey_response(g: _Gen, contact: dict[str, Any], survey_id: str) -> dict[str, Any]:
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


def _complaint(
    g: _Gen, cid: str, contact: dict[str, Any], agents: list[str], number: int
) -> dict[str, Any]:
    r = g.rng
    (category, sub), text = r.choice(list(_COMPLAINT_TEXTS.items()))
    severity = r.choices(list(_SEVERITY_HOURS), (3, 20, 60, 17))[0]
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
        "sla_due_at": created + dt.timedelta(hours=_SEVERITY_HOURS[severity]),
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


def _follow_up(g: _Gen, cid: str, agents: list[str], complaint_id: str | None) -> dict[str, Any]:
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


async def _create_users(engine: AsyncEngine, agents: list[str]) -> list[str]:
    service = UserService(session_factory(engine))
    skills_pool = ("sales", "support", "billing", "delivery", "vip")
    languages = ("en", "ja", "th", "zh")
    people: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
        ("admin", "admin", "Administrator", None, {}),
        ("supervisor", "supervisor", "Sam Supervisor", "PJSIP/supervisor", {}),
    ]
    for i, name in enumerate(agents):
        skills: dict[str, Any] = {s: 1 + (i * 7 + k * 3) % 5 for k, s in enumerate(skills_pool)}
        skills[languages[i % len(languages)]] = 5
        if i % 3 == 0:
            skills["en"] = 5
        people.append((name, "agent", f"Agent {1001 + i}", f"PJSIP/{name}", skills))
    created = []
    for username, role, display, endpoint, skills in people:
        with contextlib.suppress(DuplicateUser):  # added twice: the people are there
            await service.create_user(
                username,
                DEMO_PASSWORD,
                role=role,
                display_name=display,
                endpoint=endpoint,
                skills=skills,
                teams=["demo"] if role != "admin" else [],
            )
        created.append(username)
    return created
