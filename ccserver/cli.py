"""The ``ccserver`` command line.

Exit codes: 0 success; 1 the operation ran but failed (bad rows on import, invalid IVR flow,
wrong password…); 2 bad usage or configuration; 3 the database could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ccserver import __version__
from ccserver.errors import CcserverError, ConfigError, StoreUnavailable
from ccserver.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DB = 0, 1, 2, 3


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _run_async(coro_fn: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(coro_fn())  # type: ignore[arg-type]


# --- run / migrate -------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from ccserver.app import serve

    settings = _settings(args)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update=overrides)}
        )
    if args.no_migrate:
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"migrate_on_start": False})}
        )
    serve(settings, seed_demo_if_empty=args.seed_demo_if_empty)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from ccserver.crm.migrate import current, upgrade

    settings = _settings(args)

    async def go() -> int:
        await upgrade(settings.database_url)
        print(f"database at revision {await current(settings.database_url)}")
        return EXIT_OK

    return _run_async(go)


# --- users ---------------------------------------------------------------------------------
def _read_password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ConfigError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from ccserver.cli_users import add_user, change_password, list_users

    settings = _settings(args)
    if args.users_cmd == "add":
        password = _read_password(args)
        return _run_async(
            lambda: add_user(
                settings, args.username, password, args.role, args.display_name, args.endpoint
            )
        )
    if args.users_cmd == "passwd":
        password = _read_password(args)
        return _run_async(lambda: change_password(settings, args.username, password))
    return _run_async(lambda: list_users(settings))


# --- import / demo data --------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from ccserver.cli_data import import_file

    settings = _settings(args)
    return _run_async(
        lambda: import_file(settings, args.kind, Path(args.file), args.format, args.errors_to)
    )


def cmd_demo_data(args: argparse.Namespace) -> int:
    from ccserver.cli_data import demo_data

    settings = _settings(args)
    return _run_async(lambda: demo_data(settings, args.customers, args.seed))


# --- ivr -----------------------------------------------------------------------------------
def cmd_ivr(args: argparse.Namespace) -> int:
    from ivr.check import main as ivr_check_main

    argv = [args.file] + (["--dot"] if args.dot else [])
    return int(ivr_check_main(argv))


def cmd_simulate(args: argparse.Namespace) -> int:
    from ccserver.simulator.cli_simulate import main as simulate_main

    argv = list(args.rest)
    if args.config and "--config" not in argv:
        argv = ["--config", args.config, *argv]
    return int(simulate_main(argv))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ccserver", description=__doc__.splitlines()[0] if __doc__ else None
    )
    p.add_argument("--version", action="version", version=f"ccserver {__version__}")
    p.add_argument("--config", help="user config file (TOML); also CCSERVER_CONFIG")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the server")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument(
        "--no-migrate", action="store_true", help="do not migrate the database on start"
    )
    run.add_argument(
        "--seed-demo-if-empty",
        action="store_true",
        help="load the demo data set (users, customers, orders) into an empty database",
    )
    run.set_defaults(func=cmd_run)

    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )

    users = sub.add_parser("users", help="manage users")
    usub = users.add_subparsers(dest="users_cmd", required=True)
    add = usub.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", choices=["agent", "supervisor", "admin"], default="agent")
    add.add_argument("--display-name")
    add.add_argument("--endpoint", help="the agent's phone, e.g. PJSIP/agent1001")
    add.add_argument("--password-stdin", action="store_true")
    usub.add_parser("list", help="list users")
    pw = usub.add_parser("passwd", help="set a user's password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    users.set_defaults(func=cmd_users)

    imp = sub.add_parser("import", help="import customers or orders from CSV or JSON Lines")
    imp.add_argument("kind", choices=["customers", "orders"])
    imp.add_argument("file")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    imp.add_argument("--errors-to", help="write the per-row error report to this CSV file")
    imp.set_defaults(func=cmd_import)

    demo = sub.add_parser("demo-data", help="load a realistic demo data set")
    demo.add_argument("--customers", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=cmd_demo_data)

    sim = sub.add_parser(
        "simulate",
        add_help=False,  # --help belongs to the simulation's own parser
        help="what-if run: simulated callers against the real contact center "
        "(ccserver simulate --help)",
    )
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="options of the simulation")
    sim.set_defaults(func=cmd_simulate)

    ivr = sub.add_parser("ivr", help="IVR tools")
    isub = ivr.add_subparsers(dest="ivr_cmd", required=True)
    chk = isub.add_parser("check", help="validate an IVR flow file and print its graph")
    chk.add_argument("file")
    chk.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    ivr.set_defaults(func=cmd_ivr)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "simulate":
        args.rest = [*unknown, *args.rest]  # the simulation parses its own options
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code: int = args.func(args)
        return code
    except ConfigError as e:
        print(f"ccserver: configuration error: {e.message}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as e:
        print(f"ccserver: database unavailable: {e.message}", file=sys.stderr)
        return EXIT_DB
    except CcserverError as e:
        print(f"ccserver: {e.code}: {e.message}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ConnectionError) as e:
        print(f"ccserver: cannot reach a service: {e}", file=sys.stderr)
        return EXIT_DB
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
