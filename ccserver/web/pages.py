"""The browser pages: login, the agent console and the supervisor wallboard, plus their static
files (plain ES modules and CSS, no build step).

Pages need a session: without one the browser is sent to ``/login?next=<page>``. ``/``
sends each person to their own screen (agents to the console, supervisors and admins to the
wallboard). Every response of the application gets the browser security headers here
(a strict same-origin CSP, no framing, no MIME sniffing, no referrer to other sites), so
customer data shown by the pages cannot be framed or exfiltrated by injected script.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ccserver.web.auth import Principal, current, require

# The choices the console and supervisor forms offer besides the complaint taxonomy
# (which comes from crm.toml): follow-up channels and statuses the workflow API accepts.
FOLLOWUP_CHANNELS = ("phone", "email", "visit")

PACKAGE_STATIC = Path(__file__).resolve().parent / "static"
STATIC_DIR = web.AppKey("static_dir", Path)

# 'self' also covers ws:// and wss:// to this origin (CSP level 3), which /ws needs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Only these names are served from /static: no directory listing, no dot files, no traversal.
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(?:js|css|html|svg|ico|png)$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if "Content-Security-Policy" in response.headers:
        # A route with its own policy (the public chat demo, embeddable web forms) also
        # decides its own framing; it still gets the two headers that never hurt.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def home_for(principal: Principal) -> str:
    return "/supervisor" if principal.allows("supervise") else "/console"


def _file(request: web.Request, name: str) -> web.FileResponse:
    path = request.app[STATIC_DIR] / name
    if not path.is_file():
        raise web.HTTPNotFound()
    ctype = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
    # Pages and modules change with each release and are small: always revalidate.
    return web.FileResponse(
        path, headers={"Content-Type": f"{ctype}; charset=utf-8", "Cache-Control": "no-cache"}
    )


def _login_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")


async def index(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound(home_for(principal))


def _local_path(raw: str | None) -> str | None:
    """``raw`` when it is a path on this site (no open redirect to another one)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return None
    return raw


async def login_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is not None:  # already logged in: straight on
        raise web.HTTPFound(_local_path(request.query.get("next")) or home_for(principal))
    return _file(request, "login.html")


async def console_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is None:
        raise _login_redirect(request)
    if not principal.allows("console:use"):
        raise web.HTTPForbidden(text="your role cannot use the agent console")
    return _file(request, "console.html")


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is None:
        raise _login_redirect(request)
    if not principal.allows("supervise"):
        raise web.HTTPFound("/console")
    return _file(request, "supervisor.html")


async def crm_options(request: web.Request) -> web.Response:
    """GET /api/v1/ui/crm-options: the complaint taxonomy of crm.toml (categories with their
    subcategories, severities with SLA hours, validity assessments) and the follow-up
    channels, so the pages' selects offer exactly what the workflow API accepts."""
    from ccserver.app import SERVICES
    from ccserver.runtime.scheduler import workflows_of

    require(request, "complaints:read")
    rules = workflows_of(request.app[SERVICES]).rules
    taxonomy = rules.taxonomy
    return web.json_response(
        {
            "categories": {k: list(v) for k, v in taxonomy.categories.items()},
            "severities": [
                {"name": s.name, "sla_hours": s.sla_hours, "escalate_to": s.escalate_to}
                for s in taxonomy.severities.values()
            ],
            "validity": list(taxonomy.validity),
            "followup_channels": list(FOLLOWUP_CHANNELS),
            "followup_purpose": rules.resolution_followup.purpose,
        },
        headers={"Cache-Control": "no-cache"},
    )


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not _STATIC_NAME.match(name):
        raise web.HTTPNotFound()
    return _file(request, name)


def add_routes(app: web.Application, static_dir: Path | None = None) -> None:
    """Register the pages. ``static_dir`` (or ``paths.static_dir`` in the settings) replaces
    the shipped files, e.g. for a site's own branding."""
    if static_dir is None:
        from ccserver.app import SERVICES

        services = app.get(SERVICES)
        configured = services.settings.paths.static_dir if services is not None else None
        static_dir = configured or PACKAGE_STATIC
    app[STATIC_DIR] = static_dir.resolve()
    app.on_response_prepare.append(_security_headers)
    r = app.router
    r.add_get("/", index)
    r.add_get("/login", login_page)
    r.add_get("/console", console_page)
    r.add_get("/supervisor", supervisor_page)
    r.add_get("/static/{name}", static_file)
    r.add_get("/api/v1/ui/crm-options", crm_options)
