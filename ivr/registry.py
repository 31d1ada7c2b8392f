"""All flows of a directory, by name, with a reload that never breaks a running flow.

At start-up :meth:`FlowRegistry.load` is strict (a bad file stops the server with the
exact message). :meth:`FlowRegistry.reload` is forgiving: a file that no longer
validates is reported and its previous version stays in force, so a typo in an edit
cannot take the phone menu down. Sessions hold the :class:`Flow` they started with, so
a reload never changes a call in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ivr.errors import IvrConfigError
from ivr.loader import load_flow
from ivr.model import Flow


@dataclass(frozen=True, slots=True)
class ReloadReport:
    loaded: tuple[str, ...] = ()  # flows (re)loaded from their file
    kept: tuple[str, ...] = ()  # flows whose new file is bad: previous version kept
    removed: tuple[str, ...] = ()  # flows whose file disappeared
    errors: tuple[IvrConfigError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors


class FlowRegistry:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._flows: dict[str, Flow] = {}
        self._by_file: dict[str, str] = {}  # file name -> flow name

    def load(self) -> None:
        """Load every ``*.toml`` flow; the first bad file raises :class:`IvrConfigError`."""
        flows: dict[str, Flow] = {}
        by_file: dict[str, str] = {}
        for path in self._files():
            flow = load_flow(path)
            self._check_unique(flow, flows, path)
            flows[flow.name], by_file[path.name] = flow, flow.name
        self._flows, self._by_file = flows, by_file

    def reload(self) -> ReloadReport:
        flows: dict[str, Flow] = {}
        by_file: dict[str, str] = {}
        loaded: list[str] = []
        kept: list[str] = []
        errors: list[IvrConfigError] = []
        for path in self._files():
            try:
                flow = load_flow(path)
                self._check_unique(flow, flows, path)
            except IvrConfigError as exc:
                errors.append(exc)
                old_name = self._by_file.get(path.name)
                if old_name is not None and old_name not in flows:
                    flows[old_name], by_file[path.name] = self._flows[old_name], old_name
                    kept.append(old_name)
                continue
            flows[flow.name], by_file[path.name] = flow, flow.name
            loaded.append(flow.name)
        removed = tuple(sorted(set(self._flows) - set(flows)))
        self._flows, self._by_file = flows, by_file
        return ReloadReport(tuple(loaded), tuple(kept), removed, tuple(errors))

    def get(self, name: str) -> Flow:
        try:
            return self._flows[name]
        except KeyError:
            raise IvrConfigError(
                str(self.directory), None, None, f"no flow named {name!r}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._flows)

    def __contains__(self, name: object) -> bool:
        return name in self._flows

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.toml"))

    @staticmethod
    def _check_unique(flow: Flow, flows: dict[str, Flow], path: Path) -> None:
        if flow.name in flows:
            raise IvrConfigError(
                path.name, None, "name", f"flow name {flow.name!r} is already used by "
                f"{flows[flow.name].file}"
            )  # fmt: skip
