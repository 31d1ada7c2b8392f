"""``ccserver users``, ``ccserver import`` and ``ccserver demo-data`` through ``cli.main``:
what they store, what they print, and their exit codes (0 done, 1 refused / rows rejected,
2 bad usage, 3 database unreachable)."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ccserver import cli
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.models import Customer, Order
from ccserver.crm.users import UserService
from ccserver.errors import CcserverError
from ccserver.settings import load_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


def write_config(tmp_path: Path, db_url: str | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "ccserver.toml"
    lines = ["[server]", f'data_dir = "{tmp_path / "data"}"', "[asterisk]", 'mode = "off"']
    if db_url:
        lines += ["[database]", f'url = "{db_url}"']
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def run(cfg: Path, *argv: str, stdin: str | None = None) -> int:
    if stdin is None:
        return cli.main(["--config", str(cfg), *argv])
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)  # what --password-stdin reads
    try:
        return cli.main(["--config", str(cfg), *argv])
    finally:
        sys.stdin = saved


def count(cfg: Path, model: type[Customer] | type[Order]) -> int:
    async def go() -> int:
        engine = create_engine(load_settings(cfg).database_url)
        try:
            async with engine.connect() as conn:
                return int((await conn.scalar(select(func.count()).select_from(model))) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def password_ok(cfg: Path, username: str, password: str) -> bool:
    async def go() -> bool:
        engine = create_engine(load_settings(cfg).database_url)
        try:
            await UserService(session_factory(engine)).verify_password(username, password)
            return True
        except CcserverError:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_users_add_list_passwd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    args = ("users", "add", "boss", "--role", "admin", "--display-name", "The Boss")
    assert run(cfg, *args, "--password-stdin", stdin="first password\n") == 0
    assert "user boss added (admin)" in capsys.readouterr().out
    # Taken name and a too-short password are refused with exit code 1 and a reason.
    assert run(cfg, *args, "--password-stdin", stdin="other password\n") == 1
    assert "taken" in capsys.readouterr().err
    assert run(cfg, "users", "add", "ag1", "--password-stdin", stdin="short\n") == 1
    assert "password" in capsys.readouterr().err
    assert (
        run(
            cfg,
            "users",
            "add",
            "ag1",
            "--endpoint",
            "PJSIP/1",
            "--password-stdin",
            stdin="agent password\n",
        )
        == 0
    )
    capsys.readouterr()
    assert run(cfg, "users", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["USERNAME", "ROLE", "ACTIVE"]
    assert [line.split()[:2] for line in listing[1:]] == [["ag1", "agent"], ["boss", "admin"]]
    assert "PJSIP/1" in listing[1]

    assert run(cfg, "users", "passwd", "boss", "--password-stdin", stdin="second password\n") == 0
    assert password_ok(cfg, "boss", "second password")
    assert not password_ok(cfg, "boss", "first password")
    assert run(cfg, "users", "passwd", "nobody", "--password-stdin", stdin="x" * 12 + "\n") == 1


def test_import_reports_bad_rows_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    errors = tmp_path / "errors.csv"
    code = run(
        cfg, "import", "customers", str(FIXTURES / "customers.csv"), "--errors-to", str(errors)
    )
    out = capsys.readouterr()
    with (FIXTURES / "customers.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    with errors.open(encoding="utf-8") as fh:
        report = list(csv.reader(fh))
    assert report[0] == ["line", "field", "message"]
    bad_lines = {int(r[0]) for r in report[1:]}
    imported = count(cfg, Customer)
    assert "customers:" in out.out and f"{imported} imported" in out.out
    # Every line is either stored or reported; the exit code says some were rejected.
    assert imported + len(bad_lines) + int(out.out.split(" duplicates")[0].split()[-1]) == len(rows)
    assert code == (1 if bad_lines else 0)
    for line in bad_lines:
        assert f"line {line}:" in out.err

    # Orders link to the customers just imported (by e-mail, phone or number).
    assert run(cfg, "import", "orders", str(FIXTURES / "orders.jsonl")) == 1  # one bad row
    assert "items" in capsys.readouterr().err
    assert count(cfg, Order) == 2


def test_import_usage_and_database_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    assert run(cfg, "import", "customers", str(tmp_path / "missing.csv")) == 2
    assert "no such file" in capsys.readouterr().err
    odd = tmp_path / "customers.xls"
    odd.write_text("x", encoding="utf-8")
    assert run(cfg, "import", "customers", str(odd)) == 2
    good = tmp_path / "one.jsonl"
    good.write_text('{"display_name": "Only One", "phone": "+1 212 555 0142"}\n', encoding="utf-8")
    assert run(cfg, "import", "customers", str(good)) == 0
    assert count(cfg, Customer) == 1
    # A database nobody listens on: exit code 3, and the password is not printed.
    closed = write_config(tmp_path / "closed", "postgresql+asyncpg://ccs:s3cret@127.0.0.1:9/none")
    capsys.readouterr()
    assert run(closed, "import", "customers", str(good)) == 3
    err = capsys.readouterr().err
    assert "database unavailable" in err and "s3cret" not in err
    assert run(closed, "users", "list") == 3


@pytest.mark.slow  # the demo people are 14 Argon2 hashes
def test_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    assert run(cfg, "demo-data", "--customers", "40", "--seed", "7") == 0
    out = capsys.readouterr().out
    assert "demo data: 40 customers" in out and "demo logins:" in out
    assert count(cfg, Customer) == 40
    assert password_ok(cfg, "supervisor", out.split("(password ")[1].rstrip(")\n"))
    assert run(cfg, "demo-data", "--customers", "-1") == 2
