"""The IVR part's errors (DESIGN.md §2: one hierarchy per part, rooted in CcserverError)."""

from __future__ import annotations

from ccserver.errors import CcserverError, ConfigError


class IvrConfigError(ConfigError):
    """A flow file is invalid. The message names the file, the node and the key at fault.

    The format is fixed so operators (and tests) can rely on it::

        main.toml: node 'menu': key 'choices.12': bad digit '12' (one of 0-9, * or #)
        main.toml: [flow] key 'start': unknown node 'nowhere'
        main.toml: node 'orphan': unreachable from the start node 'welcome'
    """

    code = "ivr_config_invalid"

    def __init__(self, file: str, node: str | None, key: str | None, problem: str) -> None:
        head = file
        if node is not None:
            head += f": node {node!r}"
        elif key is not None:
            head += ": [flow]"
        if key is not None:
            head += f": key {key!r}"
        super().__init__(
            f"{head}: {problem}",
            details={"file": file, "node": node, "key": key, "problem": problem},
        )
        self.file = file
        self.node = node
        self.key = key
        self.problem = problem


class IvrSessionError(CcserverError):
    """The runtime fed a session something it cannot use (e.g. a lookup nobody asked for)."""

    code = "ivr_session_error"
    http_status = 409
