"""``ccserver import customers|orders FILE`` and ``ccserver demo-data`` (see ccserver/cli.py
for the exit codes: 0 done, 1 rows rejected, 2 bad usage, 3 database unreachable).

The import shows a progress bar over the bytes of the file (tqdm, on a terminal only) and
reports every rejected row as ``line, field, message``: on stderr (the first ones) and, with
``--errors-to``, as a CSV file an operator can fix and feed back.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from ccserver.crm.audit import Actor
from ccserver.crm.database import create_engine, ping
from ccserver.crm.importer import ImportReport, import_customers, import_orders
from ccserver.crm.importer_files import ImportFileError, detect_format
from ccserver.crm.migrate import upgrade_engine
from ccserver.errors import StoreUnavailable
from ccserver.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SHOWN_ERRORS = 20  # on the terminal; the full list goes to --errors-to
CLI_ACTOR = Actor("cli", "admin")


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The configured database: reachable (else :class:`StoreUnavailable`, exit 3),
    migrated when the server would migrate it on start, and disposed of afterwards."""
    if settings.database_url.startswith("sqlite"):
        # The default SQLite file lives in data_dir, which a fresh install has not made yet.
        settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    try:
        if not await ping(engine):
            shown = engine.url.render_as_string(hide_password=True)
            raise StoreUnavailable(f"cannot connect to {shown}", details={"url": shown})
        if settings.database.migrate_on_start:
            await upgrade_engine(engine)
        yield engine
    finally:
        await engine.dispose()


def write_error_report(report: ImportReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "field", "message"])
        writer.writerows(report.errors)


def print_summary(report: ImportReport, out: TextIO, err: TextIO) -> None:
    print(
        f"{report.kind}: {report.rows} rows read, {report.imported} imported, "
        f"{report.updated} updated, {report.skipped_duplicates} duplicates skipped, "
        f"{report.rejected_rows} rejected",
        file=out,
    )
    for line, field, message in report.errors[:SHOWN_ERRORS]:
        print(f"  line {line}: {field}: {message}", file=err)
    hidden = len(report.errors) - SHOWN_ERRORS
    if hidden > 0 or report.errors_truncated:
        more = f"{hidden} more" if hidden > 0 else "more"
        print(f"  ... {more} problems (use --errors-to FILE for the full list)", file=err)


def _file_size(path: Path) -> int | None:
    """Bytes in the file, or None when it is not a readable regular file (sync: one stat
    before anything starts)."""
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


async def import_file(
    settings: Settings, kind: str, path: Path, fmt: str | None, errors_to: str | None
) -> int:
    """Import customers or orders; 0 when every row went in, 1 when some were rejected."""
    if kind not in ("customers", "orders"):
        print(f"ccserver: cannot import {kind!r}: customers or orders", file=sys.stderr)
        return EXIT_USAGE
    size = _file_size(path)
    if size is None:
        print(f"ccserver: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        detect_format(path, fmt)  # an unknown format fails before the database is touched
    except ImportFileError as e:
        print(f"ccserver: {e.message}", file=sys.stderr)
        return EXIT_USAGE
    importer = import_customers if kind == "customers" else import_orders
    async with open_store(settings) as engine:
        with tqdm(
            total=size, unit="B", unit_scale=True, desc=f"importing {kind}", disable=None
        ) as bar:

            def progress(rows: int, done: int, _total: int) -> None:
                bar.update(done - bar.n)
                bar.set_postfix(rows=rows, refresh=False)

            report = await importer(
                engine,
                path,
                fmt=fmt,
                default_region=settings.crm.default_region,
                progress=progress,
                actor=CLI_ACTOR,
            )
    print_summary(report, sys.stdout, sys.stderr)
    if errors_to:
        write_error_report(report, Path(errors_to))
        print(f"error report written to {errors_to}", file=sys.stdout)
    return EXIT_FAILED if report.errors else EXIT_OK


async def demo_data(settings: Settings, customers: int, seed: int) -> int:
    """Load the demo data set (customers, orders, contacts, complaints, demo users)."""
    from ccserver.crm.demo_data import generate_demo_data

    if customers < 0:
        print("ccserver: --customers must be zero or more", file=sys.stderr)
        return EXIT_USAGE
    async with open_store(settings) as engine:
        summary = await generate_demo_data(engine, customers=customers, seed=seed)
    print(
        f"demo data: {summary.customers} customers, {summary.orders} orders, "
        f"{summary.contacts} contacts, {summary.complaints} complaints, "
        f"{summary.follow_ups} follow-ups in {summary.seconds} s"
    )
    if summary.users:
        print(f"demo logins: {', '.join(summary.users)} (password {summary.password})")
    return EXIT_OK
