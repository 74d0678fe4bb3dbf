"""`depot prompts repair-effectiveness`: rebuilds the maintained effectiveness counters.

Writes keep them in step (triggers, migrations/prompts 0004), so a repair should find nothing to
correct; it recomputes them from every score and feedback row anyway, says how many rows were
wrong, and leaves them equal to the full aggregate. Writers of scores and feedback wait while it
runs (seconds per million scored versions); readers do not.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from services.common.settings import Settings


def add_parser(commands: Any) -> Any:
    prompts = commands.add_parser("prompts", help="maintenance of the prompts service's data")
    actions = prompts.add_subparsers(dest="prompts_command", required=True)
    actions.add_parser(
        "repair-effectiveness",
        help="recompute the agent effectiveness counters from every score and feedback row",
    )
    return actions


def run(args: argparse.Namespace) -> None:
    from services.prompts import effectiveness

    url = make_url(Settings().database_url_for("prompts")).set(drivername="postgresql")
    started = time.perf_counter()
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        wrong = effectiveness.repair(conn)
    print(
        f"effectiveness counters recomputed in {time.perf_counter() - started:.1f} s; {wrong} rows were wrong"
    )
