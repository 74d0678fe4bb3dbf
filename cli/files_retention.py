"""`depot files retention [--dry-run]`: runs retention's pass once, or lists what it would remove.

Talks to the files schema directly (like `depot files import`), so it needs DEPOT_DATABASE_URL
and no token. The files processes run the same pass every DEPOT_FILE_RETENTION_INTERVAL_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from services.common.settings import Settings


def add_parser(actions: Any) -> None:
    retention = actions.add_parser(
        "retention", help="remove chat files unused for DEPOT_FILE_RETENTION_DAYS (or list them)"
    )
    retention.add_argument("--dry-run", action="store_true", help="list the stale files; remove nothing")
    retention.add_argument("--days", type=int, default=None, help="instead of DEPOT_FILE_RETENTION_DAYS")


def run(args: argparse.Namespace) -> None:
    settings = Settings()
    days = settings.file_retention_days if args.days is None else args.days
    if days <= 0:
        sys.exit("depot files retention: retention is off (set DEPOT_FILE_RETENTION_DAYS or give --days)")
    asyncio.run(_sweep(settings, days=days, dry_run=args.dry_run))


async def _sweep(settings: Settings, *, days: int, dry_run: bool) -> None:
    from services.common.database import Database
    from services.files.retention import FileRetention

    database = Database(settings.database_url_for("files"), pool_size=2, application_name="depot-cli")
    await database.open()
    try:
        retention = FileRetention(database=database, days=days, interval_seconds=3600)
        sweep = await retention.sweep(dry_run=dry_run, listed=1_000_000)
    finally:
        await database.close()
    for row in sweep.files:
        accessed = row.last_accessed_at.isoformat()
        print(f"{row.owner}\t{row.chat_id}\t{row.filename}\t{row.size_bytes}\t{accessed}")
    verb = "stale (dry run: nothing removed)" if dry_run else "removed"
    print(f"{sweep.file_count} files, {sweep.total_bytes} bytes {verb}", file=sys.stderr)
