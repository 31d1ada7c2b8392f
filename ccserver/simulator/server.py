"""One AMI TCP session of the simulator: banner, Login (plain or MD5 challenge), permission
checks, event filtering by class, and dispatch to :mod:`ccserver.simulator.actions`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from ccserver.ami.agi import md5_login_key
from ccserver.ami.protocol import Action, AmiProtocol, ProtocolError, encode_message
from ccserver.simulator.actions import ACTIONS
from ccserver.simulator.channel import Pairs
from ccserver.simulator.pbx import Pbx

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _tv() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class AmiSession:
    def __init__(
        self,
        pbx: Pbx,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        users: dict[str, str],
        login_failure_delay: float,
        frozen: Callable[[], bool] = lambda: False,
    ) -> None:
        self.frozen = frozen
        self.pbx = pbx
        self._reader = reader
        self._writer = writer
        self._users = users
        self._login_failure_delay = login_failure_delay
        self._challenge: str | None = None
        self.username: str | None = None
        self._events: set[str] | None = None  # None: every class; empty: events off
        self._closed = False
        # Asterisk writes a session's events from the thread running its action: while an
        # action runs they pile up and follow its response. ``_held`` models that.
        self._held: list[bytes] | None = None

    # -- output --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self._closed and not self._writer.is_closing():
            self._writer.write(data)

    def respond(self, action: Action, status: str, pairs: Pairs) -> None:
        head = [("Response", status)]
        if action.action_id is not None:
            head.append(("ActionID", action.action_id))
        self.write(encode_message(head + pairs))

    def event(
        self,
        action: Action,
        name: str,
        pairs: Pairs,
        *,
        privilege: str | None = None,
        action_id_first: bool = False,
    ) -> None:
        """A list item event for this session only (it carries the ActionID)."""
        aid = [("ActionID", action.action_id)] if action.action_id is not None else []
        head = [("Event", name)] + ([("Privilege", privilege)] if privilege else [])
        body = aid + pairs if action_id_first else pairs + aid
        self.write(encode_message(head + body))

    def deliver(self, privilege: str, data: bytes) -> None:
        """Broadcast sink: write the event when this session subscribed to its class."""
        if self.username is None or (self._events is not None and not self._events):
            return
        if self._events is not None:
            classes = privilege.split(",")
            if not any(c in self._events for c in classes):
                return
        if self._held is not None:
            self._held.append(data)
        else:
            self.write(data)

    def _flush_held(self) -> None:
        held, self._held = self._held, None
        for data in held or ():
            self.write(data)

    def set_events(self, mask: str) -> None:
        mask = mask.strip().lower()
        if mask in ("on", "yes", "true", "all"):
            self._events = None
        elif mask in ("off", "no", "false", ""):
            self._events = set()
        else:
            self._events = {c.strip() for c in mask.split(",") if c.strip()}

    def close(self) -> None:
        self._flush_held()
        self._closed = True
        self._writer.close()

    def abort(self) -> None:
        """Drop the TCP link without a goodbye (tests: 'Asterisk vanished')."""
        self._closed = True
        self._writer.transport.abort()

    # -- input ---------------------------------------------------------------------------
    async def run(self) -> None:
        proto = AmiProtocol(expect_banner=False, collect_lists=False)
        self.write(BANNER)
        try:
            while not self._closed:
                data = await self._reader.read(65536)
                if not data:
                    break
                proto.receive_data(data)
                for item in proto.events_received():
                    if self.frozen():
                        continue  # a hung Asterisk: reads, never answers
                    if isinstance(item, Action):
                        await self._handle(item)
                    elif isinstance(item, ProtocolError):
                        log.info("simulator: bad frame from client (%s)", item.reason)
                    if self._closed:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self._closed = True
            self._writer.close()

    async def _handle(self, action: Action) -> None:
        name = action.name.lower()
        if name == "login":
            await self._login(action)
            return
        if name == "challenge":
            self._challenge = str(secrets.randbelow(10**9))
            self.respond(action, "Success", [("Challenge", self._challenge)])
            return
        if self.username is None and name != "logoff":
            self.respond(action, "Error", [("Message", "Permission denied")])
            return
        handler = ACTIONS.get(name)
        if handler is None:
            self.respond(
                action,
                "Error",
                [
                    (
                        "Message",
                        f"Invalid/unknown command: {action.name}. "
                        "Use Action: ListCommands to show available commands.",
                    )
                ],
            )
            return
        self._held = []
        try:
            await handler(self, action)
        finally:
            self._flush_held()

    async def _login(self, action: Action) -> None:
        user = action.get("Username") or ""
        secret = self._users.get(user)
        if (action.get("AuthType") or "").lower() == "md5":
            ok = (
                secret is not None
                and self._challenge is not None
                and action.get("Key") == md5_login_key(self._challenge, secret)
            )
        else:
            ok = secret is not None and action.get("Secret") == secret
        if not ok:
            await self.pbx.sleep(self._login_failure_delay)
            self.respond(action, "Error", [("Message", "Authentication failed")])
            self.close()
            return
        self.username = user
        self.set_events(action.get("Events") or "on")
        self.respond(action, "Success", [("Message", "Authentication accepted")])
        uptime = str(int(asyncio.get_running_loop().time()) % 100000)
        fully_booted = [
            ("Event", "FullyBooted"),
            ("Privilege", "system,all"),
            ("Uptime", uptime),
            ("LastReload", uptime),
            ("Status", "Fully Booted"),
        ]
        self.deliver("system,all", encode_message(fully_booted))
        sock = self._writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        peer = self._writer.get_extra_info("peername") or ("127.0.0.1", 0)
        tv = _tv()
        auth = [
            ("Event", "SuccessfulAuth"),
            ("Privilege", "security,all"),
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", user),
            ("SessionID", hex(id(self))),
            ("LocalAddress", f"IPV4/TCP/{sock[0]}/{sock[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        ]
        self.pbx.emit_raw("security,all", encode_message(auth))
