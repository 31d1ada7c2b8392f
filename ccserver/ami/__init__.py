"""Asterisk Manager Interface for ccserver.

* :mod:`.protocol` - sans-I/O codec: ``AmiProtocol.receive_data(bytes)`` /
  ``events_received() -> [Banner | Response | Event | EventList | Action | ProtocolError]``,
  ``encode_action(name, fields, action_id) -> bytes``.
* :mod:`.agi` - AsyncAGI helpers: ``decode_agi_env(Env)``, ``parse_agi_result(Result)``.
* :mod:`.retry` - ``Retry(backoff=ExponentialBackoff(cap, base), retries=N)``.
* :mod:`.connection` - ``AmiConnection``, the asyncio client the voice channel uses::

      conn = AmiConnection(host, port, user, secret, auth="md5", on_reconnect=resync)
      conn.add_event_handler(callback)              # or: async for ev in conn.events(...)
      await conn.connect()
      await conn.send_action("AGI", {"Channel": ch, "Command": "ANSWER", "CommandID": cid})
      # ... the result arrives later as an AsyncAGIExec event with CommandId == cid
      lst = await conn.send_action("CoreShowChannels")   # -> EventList(.events, .complete)
      await conn.close()

Errors: :mod:`.errors` (``AmiError`` and subclasses, rooted in ``CcserverError``).
"""

from ccserver.ami.agi import AgiResult, decode_agi_env, parse_agi_result
from ccserver.ami.connection import AmiConnection, Subscription
from ccserver.ami.errors import (
    AmiActionFailed,
    AmiAuthError,
    AmiBackpressure,
    AmiClosed,
    AmiConnectionError,
    AmiEncodeError,
    AmiError,
    AmiTimeout,
)
from ccserver.ami.protocol import (
    Action,
    AmiProtocol,
    Banner,
    Event,
    EventList,
    ProtocolError,
    Response,
    encode_action,
)
from ccserver.ami.retry import ConstantBackoff, EqualJitterBackoff, ExponentialBackoff, Retry

__all__ = [
    "Action",
    "AgiResult",
    "AmiActionFailed",
    "AmiAuthError",
    "AmiBackpressure",
    "AmiClosed",
    "AmiConnection",
    "AmiConnectionError",
    "AmiEncodeError",
    "AmiError",
    "AmiProtocol",
    "AmiTimeout",
    "Banner",
    "ConstantBackoff",
    "EqualJitterBackoff",
    "Event",
    "EventList",
    "ExponentialBackoff",
    "ProtocolError",
    "Response",
    "Retry",
    "Subscription",
    "decode_agi_env",
    "encode_action",
    "parse_agi_result",
]
