"""Graph checks on a parsed flow: the mistakes that would strand a caller.

Run in order, first failure wins, so an operator fixes one thing at a time:
unknown node, missing prompt (per language), unreachable node, loop with no exit.
"""

from __future__ import annotations

from collections import deque

from ivr.errors import IvrConfigError
from ivr.model import Flow, Node


def validate_flow(flow: Flow) -> None:
    _check_references(flow)
    _check_prompts(flow)
    _check_reachable(flow)
    _check_exits(flow)


def _check_references(flow: Flow) -> None:
    if flow.start not in flow.nodes:
        raise IvrConfigError(flow.file, None, "start", f"unknown node {flow.start!r}")
    if flow.overflow is not None:
        target = flow.nodes.get(flow.overflow)
        if target is None:
            raise IvrConfigError(flow.file, None, "overflow", f"unknown node {flow.overflow!r}")
        if not target.is_terminal:
            raise IvrConfigError(
                flow.file, None, "overflow", f"node {flow.overflow!r} must be a terminal node"
            )
    for node in flow.nodes.values():
        for key, target_id in node.edges():
            if target_id not in flow.nodes:
                raise IvrConfigError(flow.file, node.id, key, f"unknown node {target_id!r}")


def _check_prompts(flow: Flow) -> None:
    for node in flow.nodes.values():
        for key, pid in node.prompt_refs():
            prompt = flow.prompts.get(pid)
            if prompt is None:
                raise IvrConfigError(flow.file, node.id, key, f"unknown prompt {pid!r}")
            for lang in flow.languages:
                if lang not in prompt.texts:
                    raise IvrConfigError(
                        flow.file, node.id, key, f"prompt {pid!r} has no {lang!r} text"
                    )
                if prompt.chat and lang not in prompt.chat:
                    raise IvrConfigError(
                        flow.file, node.id, key, f"prompt {pid!r} has no {lang!r} chat text"
                    )


def _successors(node: Node) -> list[str]:
    return [target for _, target in node.edges()]


def _check_reachable(flow: Flow) -> None:
    seen = {flow.start}
    todo = deque([flow.start])
    if flow.overflow is not None:
        seen.add(flow.overflow)
    while todo:
        for nxt in _successors(flow.nodes[todo.popleft()]):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for node_id in flow.nodes:
        if node_id not in seen:
            raise IvrConfigError(
                flow.file, node_id, None, f"unreachable from the start node {flow.start!r}"
            )


def _check_exits(flow: Flow) -> None:
    """Every node must be able to reach a terminal node; otherwise a loop traps the caller.

    Walks edges backwards from the terminal nodes; whatever is not reached sits on (or
    only leads into) a cycle with no way out.
    """
    preds: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for node in flow.nodes.values():
        for nxt in _successors(node):
            preds[nxt].append(node.id)
    can_exit = {n.id for n in flow.nodes.values() if n.is_terminal}
    todo = deque(can_exit)
    while todo:
        for p in preds[todo.popleft()]:
            if p not in can_exit:
                can_exit.add(p)
                todo.append(p)
    trapped = [n for n in flow.nodes if n not in can_exit]
    if not trapped:
        return
    # Name the loop: follow trapped successors from the first trapped node until one repeats.
    path = [trapped[0]]
    while True:
        node = flow.nodes[path[-1]]
        key, nxt = next((k, t) for k, t in node.edges() if t not in can_exit)
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            raise IvrConfigError(
                flow.file, node.id, key, f"loop with no exit: {' -> '.join(cycle)}"
            )
        path.append(nxt)
