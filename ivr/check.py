"""``ccserver ivr check FILE [--dot]``: validate a flow and print its graph.

The lead wires :func:`main` into the CLI. Exit status 0 when the flow is valid (graph on
stdout), 1 when it is not (the exact :class:`IvrConfigError` message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ivr.errors import IvrConfigError
from ivr.loader import load_flow
from ivr.model import Flow, Node, NodeKind


def _detail(node: Node) -> str:
    k = node.kind
    if k in (NodeKind.ROUTE, NodeKind.CALLBACK, NodeKind.VOICEMAIL):
        return f" queue={node.queue}"
    if k is NodeKind.TRANSFER:
        return f" number={node.number}"
    if k is NodeKind.LANGUAGE:
        return " " + " ".join(f"{c.digit}={c.target}" for c in node.choices)
    if k is NodeKind.BRANCH:
        on = node.queue if node.test == "queue_open" else node.variable
        return f" test={node.test}" + (f"({on})" if on else "")
    if k is NodeKind.ANSWER:
        return f" lookup={node.lookup}({node.key})"
    if k is NodeKind.IDENTIFY:
        return f" by=caller_id,{node.by}"
    if k in (NodeKind.COLLECT, NodeKind.RATING):
        return f" -> ${node.variable}" + (" (sensitive)" if node.sensitive else "")
    if k is NodeKind.SET:
        return " " + ", ".join(f"{n}={v}" for n, v in node.attributes.items())
    return ""


def graph_text(flow: Flow) -> str:
    lines = [
        f"flow {flow.name} ({flow.file}): {len(flow.nodes)} nodes, "
        f"languages {', '.join(flow.languages)}, start {flow.start}"
    ]
    for node in flow.nodes.values():
        end = "  [end]" if node.is_terminal else ""
        lines.append(f"  {node.id} ({node.kind.value}{_detail(node)}){end}")
        for key, target in node.edges():
            lines.append(f"    {key} -> {target}")
    return "\n".join(lines) + "\n"


def check_flow_file(path: str | Path) -> str:
    """The text graph of a valid flow; raises :class:`IvrConfigError` for an invalid one."""
    return graph_text(load_flow(path))


def _q(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(flow: Flow) -> str:
    """Graphviz DOT: terminal nodes are double circles, fallbacks are dashed."""
    lines = [f"digraph {_q(flow.name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    lines.append(f"  __start [shape=point]; __start -> {_q(flow.start)};")
    for node in flow.nodes.values():
        shape = "doublecircle" if node.is_terminal else "box"
        label = f"{node.id}\n{node.kind.value}{_detail(node)}"
        lines.append(f"  {_q(node.id)} [shape={shape}, label={_q(label)}];")
    for node in flow.nodes.values():
        for key, target in node.edges():
            style = ", style=dashed" if key in ("fallback", "not_found", "default") else ""
            lines.append(f"  {_q(node.id)} -> {_q(target)} [label={_q(key)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ccserver ivr check", description=__doc__)
    parser.add_argument("file", help="flow file (TOML)")
    parser.add_argument("--dot", action="store_true", help="print Graphviz DOT instead")
    args = parser.parse_args(argv)
    try:
        flow = load_flow(args.file)
    except IvrConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    sys.stdout.write(to_dot(flow) if args.dot else graph_text(flow))
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m ivr.check FILE
    raise SystemExit(main())
