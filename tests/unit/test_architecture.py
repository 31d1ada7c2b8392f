"""The rule of the house: sans-I/O cores import only the standard library and the shared
domain/errors modules. This walks their sources and fails on any other import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AMI = ROOT / "ccserver" / "ami"
# The AMI codec is sans-I/O too: the protocol, its message types and the AsyncAGI helpers.
AMI_CORE = ("protocol", "messages", "agi")
CORES = [ROOT / "routing", ROOT / "agents", ROOT / "ivr", *(AMI / f"{m}.py" for m in AMI_CORE)]
# Shared vocabulary, and a core may use another checked core module.
ALLOWED_PROJECT = {"ccserver.domain", "ccserver.errors", *(f"ccserver.ami.{m}" for m in AMI_CORE)}
CORE_PACKAGES = {"routing", "agents", "ivr"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
            found.append((node.lineno, node.module))
    return found


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    if top in CORE_PACKAGES:  # cores may share each other's (pure) types
        return True
    return any(name == m or name.startswith(m + ".") for m in ALLOWED_PROJECT)


def _core_files() -> list[Path]:
    files: list[Path] = []
    for core in CORES:
        files.extend(sorted(core.rglob("*.py")) if core.is_dir() else [core])
    return [f for f in files if f.exists()]


def test_cores_exist() -> None:
    assert all(p.exists() for p in CORES), [str(p) for p in CORES if not p.exists()]


def test_cores_import_only_stdlib_and_domain() -> None:
    offenders = []
    for path in _core_files():
        for line, name in _imports(path):
            if not _allowed(name):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []


def test_the_checker_catches_an_adapter_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import aiohttp\nfrom ccserver.web import app\nimport json\n")
    names = [n for _, n in _imports(bad)]
    assert not _allowed("aiohttp")
    assert not _allowed("ccserver.web.app")
    assert _allowed("json")
    assert "aiohttp" in names and "ccserver.web" in names
