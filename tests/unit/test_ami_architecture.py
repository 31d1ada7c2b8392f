"""The AMI cores stay sans-I/O: standard library plus ccserver.errors / ccserver.domain only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORES = [
    "ccserver/ami/protocol.py",
    "ccserver/ami/messages.py",
    "ccserver/ami/agi.py",
    "ccserver/ami/retry.py",
]
ALLOWED_PROJECT = {"ccserver.errors", "ccserver.domain", "ccserver.ami.messages"}
FORBIDDEN_STDLIB = {"asyncio", "socket", "selectors", "threading", "time"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("core", CORES)
def test_core_imports_only_stdlib_errors_and_domain(core: str) -> None:
    for name in imports(ROOT / core):
        top = name.split(".")[0]
        if top == "ccserver":
            assert name in ALLOWED_PROJECT, f"{core} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top == "__future__", f"{core}: {name}"
            assert top not in FORBIDDEN_STDLIB, f"{core} does I/O or reads the clock: {name}"
