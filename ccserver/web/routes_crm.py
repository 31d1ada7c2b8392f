"""REST API over the CRM store: customers, orders, contacts (users and tokens live in
:mod:`ccserver.web.routes_users`, the document in :mod:`ccserver.web.openapi`).

Handlers only translate HTTP to the CRM services (which validate, audit and enforce
concurrency); every handler checks a permission first. Reading one customer record is
written to the audit log with who, when and from which address.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete

from ccserver.app import SERVICES
from ccserver.crm.audit import add_audit
from ccserver.crm.contacts import ContactFilters, contact_to_json, message_to_json
from ccserver.crm.customer_views import CustomerView
from ccserver.crm.errors import OrderNotFound
from ccserver.crm.identities import IdentityKind
from ccserver.crm.importer import import_orders
from ccserver.crm.models import Order
from ccserver.crm.orders import ORDER_STATUSES
from ccserver.domain import Channel
from ccserver.errors import BadRequest, PayloadTooLarge, StaleWrite
from ccserver.web import api_support as api
from ccserver.web.pii_view import masked_response, masker

CUSTOMERS = "/api/v1/customers"
IDENTITY_KINDS = frozenset(k.value for k in IdentityKind)


def _customer_response(request: web.Request, view: CustomerView, status: int = 200) -> web.Response:
    return masked_response(
        request, "customer", view.to_json(), status=status, headers={"ETag": view.etag}
    )


def _expected_version(request: web.Request, customer_id: str) -> int | None:
    """The version named by If-Match (``"<id>.<version>"``); None when absent or ``*``.

    A tag for another record, or one that cannot be ours, can never match: 412.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    ident, _, version = tag.rpartition(".")
    if ident != customer_id or not version.isdigit():
        raise StaleWrite(
            "If-Match does not match this customer; reload and retry",
            details={"if_match": header},
        )
    return int(version)


# --- customers -----------------------------------------------------------------------------
async def search_customers(request: web.Request) -> web.Response:
    principal, actor = api.allowed(request, "customers:read")
    limit, offset = api.page_params(request)
    region = api.str_param(request, "region", 2)
    if region is not None and not (len(region) == 2 and region.isalpha()):
        raise BadRequest("region must be a two-letter country code", details={"region": region})
    page = (
        await api.crm(request)
        .customers(request, region)
        .search(
            api.str_param(request, "q"),
            name=api.str_param(request, "name"),
            phone=api.str_param(request, "phone"),
            email=api.str_param(request, "email"),
            order_number=api.str_param(request, "order_number"),
            customer_number=api.str_param(request, "customer_number"),
            segment=api.str_param(request, "segment"),
            limit=limit,
            offset=offset,
        )
    )
    if page.items and principal.kind == "session":
        # A result list shows whole records to a person: one audit row names them all.
        await (
            api.crm(request)
            .audit(request)
            .record(actor, "search", "customer", None, details={"ids": [c.id for c in page.items]})
        )
    return masked_response(request, "customer", page.to_json(CustomerView.to_json), page=True)


async def create_customer(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:write")
    on_duplicate = api.one_of(request, "on_duplicate", {"error", "return"}) or "error"
    data = await api.json_object(request)
    view, created = (
        await api.crm(request)
        .customers(request)
        .create_or_get(
            data, actor=actor, on_duplicate="return" if on_duplicate == "return" else "error"
        )
    )
    response = _customer_response(request, view, 201 if created else 200)
    if created:
        response.headers["Location"] = f"{CUSTOMERS}/{view.id}"
    return response


async def get_customer(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:read")
    view = await api.crm(request).customers(request).get(request.match_info["id"], reader=actor)
    return _customer_response(request, view)


async def update_customer(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:write")
    customer_id = request.match_info["id"]
    expected = _expected_version(request, customer_id)
    data = await api.json_object(request)
    view = (
        await api.crm(request)
        .customers(request)
        .update(customer_id, data, expected_version=expected, actor=actor)
    )
    return _customer_response(request, view)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_id: str = Field(min_length=1, max_length=64)


async def merge_customers(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:merge")
    body = await api.body_model(request, MergeBody)
    view = (
        await api.crm(request)
        .customers(request)
        .merge(request.match_info["id"], body.other_id, actor=actor)
    )
    return _customer_response(request, view)


class IdentityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(phone|email|chat|account)$")
    value: str = Field(min_length=1, max_length=320)


async def add_identity(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:write")
    body = await api.body_model(request, IdentityBody)
    view = (
        await api.crm(request)
        .customers(request)
        .add_identity(request.match_info["id"], body.kind, body.value, actor=actor)
    )
    return _customer_response(request, view)


async def remove_identity(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:write")
    kind = request.match_info["kind"]
    if kind not in IDENTITY_KINDS:
        raise BadRequest(
            f"identity kind must be one of {', '.join(sorted(IDENTITY_KINDS))}",
            details={"kind": kind},
        )
    view = (
        await api.crm(request)
        .customers(request)
        .remove_identity(request.match_info["id"], kind, request.match_info["value"], actor=actor)
    )
    return _customer_response(request, view)


async def customer_history(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "customers:read")
    services = api.crm(request)
    # Resolve first, so an unknown id is a 404 and the read of the history is audited.
    view = await services.customers(request).get(request.match_info["id"], reader=actor)
    limit = min(api.int_param(request, "limit", 100, minimum=1), 500)
    items = await services.customers(request).history(view.id, limit=limit)
    mask = masker(request, "history")
    return web.json_response({"customer_id": view.id, "items": [mask(i) for i in items]})


async def customer_contacts(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "contacts:read")
    services = api.crm(request)
    view = await services.customers(request).get(request.match_info["id"], reader=actor)
    limit, offset = api.page_params(request)
    page = await services.contacts(request).list(
        ContactFilters(customer_id=view.id), limit=limit, offset=offset
    )
    return masked_response(request, "contact", page.to_json(contact_to_json), page=True)


# --- orders --------------------------------------------------------------------------------
async def list_orders(request: web.Request) -> web.Response:
    api.allowed(request, "orders:read")
    number = api.str_param(request, "order_number", 64)
    service = api.crm(request).orders(request)
    if number is not None:
        try:
            found = [await service.get_by_number(number)]
        except OrderNotFound:
            found = []
        return web.json_response(
            {"items": [o.to_json() for o in found], "total": len(found), "limit": 1, "offset": 0}
        )
    limit, offset = api.page_params(request)
    page = await service.list(
        customer_id=api.str_param(request, "customer_id", 64),
        status=api.one_of(request, "status", ORDER_STATUSES),
        limit=limit,
        offset=offset,
    )
    return web.json_response(page.to_json(lambda o: o.to_json()))


async def create_order(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "orders:write")
    view = (
        await api.crm(request).orders(request).create(await api.json_object(request), actor=actor)
    )
    return web.json_response(
        view.to_json(), status=201, headers={"Location": f"/api/v1/orders/{view.id}"}
    )


async def get_order(request: web.Request) -> web.Response:
    api.allowed(request, "orders:read")
    view = await api.crm(request).orders(request).get(request.match_info["id"])
    return web.json_response(view.to_json())


async def update_order(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "orders:write")
    view = (
        await api.crm(request)
        .orders(request)
        .update(request.match_info["id"], await api.json_object(request), actor=actor)
    )
    return web.json_response(view.to_json())


async def delete_order(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "orders:write")
    order_id = request.match_info["id"]
    async with api.crm(request).sessions(request).begin() as session:
        result = await session.execute(delete(Order).where(Order.id == order_id))
        if not getattr(result, "rowcount", 0):
            raise OrderNotFound("no such order", details={"id": order_id})
        add_audit(session, actor, "delete", "order", order_id)
    return web.Response(status=204)


def _bulk_format(request: web.Request) -> str:
    ctype = request.content_type
    if ctype == "application/json":
        return "json"
    if ctype in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return "jsonl"
    if ctype in ("text/csv", "application/csv"):
        return "csv"
    if ctype == "multipart/form-data":
        return "multipart"
    raise BadRequest(
        "send a JSON array, JSON Lines (application/x-ndjson), CSV (text/csv) or a "
        "multipart upload with a 'file' field",
        details={"content_type": ctype},
    )


async def _read_bounded(part: BodyPartReader, limit: int) -> bytes:
    """A multipart part is streamed, outside aiohttp's body limit: enforce it here."""
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(
                "request body is larger than the limit", details={"limit_bytes": limit}
            )
    return bytes(data)


async def _bulk_payload(request: web.Request) -> tuple[bytes, str]:
    """The uploaded rows as bytes of a CSV or JSON Lines file, and that file's format."""
    kind = _bulk_format(request)
    if kind == "json":
        rows = await api.json_value(request)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadRequest("the body must be a JSON array of order objects")
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return lines.encode(), "jsonl"
    if kind == "multipart":
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = await _read_bounded(
                    part, request.app[SERVICES].settings.server.max_body_bytes
                )
                filename = (part.filename or "").lower()
                return data, "csv" if filename.endswith(".csv") else "jsonl"
        raise BadRequest("the multipart upload has no 'file' field")
    return await request.read(), kind


async def bulk_orders(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "orders:write")
    on_duplicate = api.one_of(request, "on_duplicate", {"skip", "update"}) or "skip"
    payload, fmt = await _bulk_payload(request)
    services = api.crm(request)
    engine = request.app[SERVICES].engine
    assert engine is not None
    with tempfile.TemporaryDirectory(prefix="ccs-bulk-") as tmp:
        path = Path(tmp) / f"orders.{fmt}"
        await asyncio.to_thread(path.write_bytes, payload)
        report = await import_orders(
            engine,
            path,
            fmt=fmt,
            default_region=services.default_region(request),
            on_duplicate="update" if on_duplicate == "update" else "skip",
            actor=actor,
        )
    return web.json_response(report.to_json(), status=200)


# --- contacts ------------------------------------------------------------------------------
async def list_contacts(request: web.Request) -> web.Response:
    api.allowed(request, "contacts:read")
    limit, offset = api.page_params(request)
    filters = ContactFilters(
        customer_id=api.str_param(request, "customer_id", 64),
        agent_id=api.str_param(request, "agent_id", 64),
        queue=api.str_param(request, "queue", 64),
        channel=api.one_of(request, "channel", {c.value for c in Channel}),
        outcome=api.str_param(request, "outcome", 40),
        started_from=api.time_param(request, "from"),
        started_to=api.time_param(request, "to"),
    )
    page = await api.crm(request).contacts(request).list(filters, limit=limit, offset=offset)
    return masked_response(request, "contact", page.to_json(contact_to_json), page=True)


async def get_contact(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "contacts:read")
    service = api.crm(request).contacts(request)
    contact = await service.get(request.match_info["id"])
    messages = await service.messages(contact.id)
    if contact.customer_id is not None:
        # A contact with its messages is part of the customer's record: audit the read.
        await (
            api.crm(request)
            .audit(request)
            .record(
                actor, "read", "contact", contact.id, details={"customer_id": contact.customer_id}
            )
        )
    body: dict[str, Any] = contact_to_json(contact)
    body["messages"] = [message_to_json(m) for m in messages]
    return masked_response(request, "contact", body)


def add_routes(app: web.Application) -> None:
    from ccserver.web import openapi, routes_users

    api.install_services(app)
    r = app.router
    r.add_get(CUSTOMERS, search_customers)
    r.add_post(CUSTOMERS, create_customer)
    r.add_get(CUSTOMERS + "/{id}", get_customer)
    r.add_patch(CUSTOMERS + "/{id}", update_customer)
    r.add_post(CUSTOMERS + "/{id}/merge", merge_customers)
    r.add_post(CUSTOMERS + "/{id}/identities", add_identity)
    r.add_delete(CUSTOMERS + "/{id}/identities/{kind}/{value}", remove_identity)
    r.add_get(CUSTOMERS + "/{id}/history", customer_history)
    r.add_get(CUSTOMERS + "/{id}/contacts", customer_contacts)
    r.add_post("/api/v1/orders/bulk", bulk_orders)
    r.add_get("/api/v1/orders", list_orders)
    r.add_post("/api/v1/orders", create_order)
    r.add_get("/api/v1/orders/{id}", get_order)
    r.add_patch("/api/v1/orders/{id}", update_order)
    r.add_delete("/api/v1/orders/{id}", delete_order)
    r.add_get("/api/v1/contacts", list_contacts)
    r.add_get("/api/v1/contacts/{id}", get_contact)
    routes_users.add_routes(app)
    openapi.add_routes(app)
