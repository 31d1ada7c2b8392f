"""Public form pages (``/forms/contact|complaint|callback``) and their JSON API
(``/api/v1/forms/...``). No login; rate-limited per client IP; a honeypot field traps bots.

The pages work with and without JavaScript: a plain POST of the form answers with a page
showing the case number (escaped); the script posts JSON and shows it with textContent.
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ccserver.channels.forms.service import (
    CallbackForm,
    ComplaintForm,
    ContactForm,
    FormsService,
    Submitted,
)
from ccserver.errors import NotFound, ValidationFailed
from ccserver.web.auth import client_ip
from ccserver.web.json_body import read_model, validation_details

_FORMS: dict[str, tuple[type[BaseModel], str]] = {
    "contact": (ContactForm, "Contact us"),
    "complaint": (ComplaintForm, "Make a complaint"),
    "callback": (CallbackForm, "Request a callback"),
}
_FIELDS: dict[str, list[tuple[str, str, str]]] = {  # name, label, input type
    "contact": [("name", "Name", "text"), ("email", "Email", "email"),
                ("phone", "Phone (optional)", "tel"), ("subject", "Subject", "text"),
                ("message", "Message", "textarea")],
    "complaint": [("name", "Name", "text"), ("email", "Email", "email"),
                  ("phone", "Phone (optional)", "tel"), ("order_ref", "Order number", "text"),
                  ("category", "About", "select"), ("subcategory", "Kind of problem", "select"),
                  ("description", "What went wrong?", "textarea")],
    "callback": [("name", "Name", "text"), ("phone", "Phone", "tel"),
                 ("window_start", "From (optional)", "datetime-local"),
                 ("window_end", "Until (optional)", "datetime-local"),
                 ("note", "What is it about?", "textarea")],
}  # fmt: skip

# The complaint taxonomy (DESIGN.md §7); a pair outside it is refused by the CRM (422).
_CHOICES: dict[str, list[tuple[str, str]]] = {
    "category": [("", "(choose)"), ("product", "A product"), ("service", "Our service")],
    "subcategory": [("", "(choose)"), ("function", "Does not work"), ("safety", "Safety"),
                    ("quality", "Quality"), ("transaction", "Payment or order"),
                    ("delivery", "Delivery"), ("capability", "Could not help me"),
                    ("attitude", "Attitude"), ("etiquette", "Manners")],
}  # fmt: skip

_SCRIPT = """
document.getElementById('f').addEventListener('submit', async function (ev) {
  ev.preventDefault();
  var data = {}; new FormData(ev.target).forEach(function (v, k) { if (v !== '') data[k] = v; });
  var out = document.getElementById('out');
  var r = await fetch(ev.target.dataset.api, {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify(data)});
  var body = await r.json();
  if (r.ok) { out.textContent = body.case_number ? 'Thank you. Your case number is ' +
    body.case_number : 'Thank you.'; ev.target.reset(); }
  else { out.textContent = (body.error && body.error.message) || 'Please check the form.'; }
});
"""


def _service(request: web.Request) -> tuple[FormsService, Any]:
    from ccserver.channels.setup import TEXT_CHANNELS

    channels = request.app.get(TEXT_CHANNELS)
    if channels is None:
        raise NotFound("forms are not running")
    return channels.forms, channels


def _page(title: str, body: str) -> web.Response:
    doc = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return web.Response(
        text=doc,
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'"
        },
    )


async def form_page(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind not in _FORMS:
        raise NotFound("no such form")
    rows = []
    for name, label, typ in _FIELDS[kind]:
        if typ == "textarea":
            field = f"<textarea name='{name}' maxlength='5000'></textarea>"
        elif typ == "select":
            options = "".join(
                f"<option value='{v}'>{html.escape(t)}</option>" for v, t in _CHOICES[name]
            )
            field = f"<select name='{name}'>{options}</select>"
        else:
            field = f"<input name='{name}' type='{typ}' maxlength='200'>"
        rows.append(f"<p><label>{html.escape(label)}<br>{field}</label></p>")
    # The honeypot: off-screen and skipped by keyboard and screen readers; bots fill it.
    rows.append(
        "<p style='position:absolute;left:-9999px' aria-hidden='true'><label>Website"
        "<input name='website' tabindex='-1' autocomplete='off'></label></p>"
    )
    body = (
        f"<form id='f' method='post' action='/forms/{kind}' data-api='/api/v1/forms/{kind}'>"
        f"{''.join(rows)}<button type='submit'>Send</button></form>"
        f"<p id='out' role='status'></p><script>{_SCRIPT}</script>"
    )
    return _page(_FORMS[kind][1], body)


async def _submit(request: web.Request, kind: str, form: BaseModel) -> Submitted:
    forms, channels = _service(request)
    channels.form_limits[kind].hit(client_ip(request), forms.cc.clock())
    if isinstance(form, ContactForm):
        return await forms.contact(form)
    if isinstance(form, ComplaintForm):
        return await forms.complaint(form)
    assert isinstance(form, CallbackForm)
    return await forms.callback(form)


async def api_submit(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind not in _FORMS:
        raise NotFound("no such form")
    form = await read_model(request, _FORMS[kind][0])
    done = await _submit(request, kind, form)
    if done.case_number is None:
        return web.json_response({"status": "received"}, status=202)
    return web.json_response(
        {"status": "received", "case_number": done.case_number,
         "interaction_id": done.interaction_id},
        status=201,
    )  # fmt: skip


async def page_submit(request: web.Request) -> web.Response:
    """The same, for a browser without JavaScript (form-encoded POST)."""
    kind = request.match_info["kind"]
    if kind not in _FORMS:
        raise NotFound("no such form")
    raw = await request.post()
    data = {k: str(v) for k, v in raw.items() if isinstance(v, str) and v != ""}
    try:
        form = _FORMS[kind][0].model_validate(data)
    except ValidationError as e:
        details = validation_details(e)
        raise ValidationFailed("the form has errors", details=details) from None
    done = await _submit(request, kind, form)
    text = (
        f"Thank you. Your case number is {done.case_number}." if done.case_number else "Thank you."
    )
    return _page(_FORMS[kind][1], f"<p id='out' role='status'>{html.escape(text)}</p>")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/forms/{kind}", form_page)
    app.router.add_post("/forms/{kind}", page_submit)
    app.router.add_post("/api/v1/forms/{kind}", api_submit)
