"""Signed session cookies and CSRF tokens (stdlib HMAC-SHA256).

A session is stateless so any node can serve any console: the cookie carries the user id, role,
expiry, a session id and a fingerprint of the password hash — changing a password therefore
ends every session of that user. Logout revokes the session id in this process (and the cookie
is cleared); sessions also expire after ``session_ttl_s``.
The CSRF token is HMAC(secret, session id): a page reads it from a non-HttpOnly cookie and
echoes it in ``X-CSRF-Token`` (double-submit), which a cross-site form cannot do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SESSION_COOKIE = "ccs_session"
CSRF_COOKIE = "ccs_csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class SessionData:
    user_id: str
    role: str
    session_id: str
    expires_at: float
    password_fingerprint: str


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("session secret must be at least 32 bytes")
        self._secret = secret
        self._revoked: dict[str, float] = {}

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, payload, hashlib.sha256).digest())

    def issue(
        self, user_id: str, role: str, pw_fingerprint: str, now: float, ttl_s: float
    ) -> tuple[str, SessionData]:
        data = SessionData(user_id, role, secrets.token_urlsafe(12), now + ttl_s, pw_fingerprint)
        payload = json.dumps(
            [data.user_id, data.role, data.session_id, data.expires_at, data.password_fingerprint],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{self._sign(payload)}", data

    def parse(self, cookie: str, now: float) -> SessionData | None:
        body, _, sig = cookie.partition(".")
        try:
            payload = _unb64(body)
        except (ValueError, TypeError):
            return None
        if not sig or not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            uid, role, sid, exp, fp = json.loads(payload)
        except (ValueError, TypeError):
            return None
        if float(exp) <= now or sid in self._revoked:
            return None
        return SessionData(str(uid), str(role), str(sid), float(exp), str(fp))

    def revoke(self, data: SessionData) -> None:
        self._revoked[data.session_id] = data.expires_at

    def forget_expired(self, now: float) -> None:
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}

    def csrf_token(self, session_id: str) -> str:
        return self._sign(b"csrf:" + session_id.encode())


def load_or_create_secret(path: Path) -> bytes:
    """The node's signing secret: read from ``path`` or created there (mode 0600).

    Nodes of one site share it by sharing the file (or CCSERVER_SECRET_KEY in the env)."""
    env = os.environ.get("CCSERVER_SECRET_KEY")
    if env:
        return env.encode()
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret
