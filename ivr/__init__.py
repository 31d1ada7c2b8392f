"""IVR core: flows from TOML, a sans-I/O session per caller, the path each caller took.

Imports only the standard library and ``ccserver.domain`` / ``ccserver.errors``.

    registry = FlowRegistry(settings.paths.ivr_dir); registry.load()
    session = IvrSession(registry.get("main"), "voice", now, caller_id="15551230000")
    actions = session.handle(Started(now))      # see ivr.actions / ivr.events
    record = session.path_record()              # for the interaction and the CRM contact
"""

from ivr.errors import IvrConfigError, IvrSessionError
from ivr.loader import load_flow, loads_flow
from ivr.model import Flow
from ivr.registry import FlowRegistry, ReloadReport
from ivr.session import IvrSession, IvrState

__all__ = [
    "Flow",
    "FlowRegistry",
    "IvrConfigError",
    "IvrSession",
    "IvrSessionError",
    "IvrState",
    "ReloadReport",
    "load_flow",
    "loads_flow",
]
