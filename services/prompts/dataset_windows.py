"""Which rows an incremental scheduled export reads: those changed within a window. No I/O.

A row's change time is the start of the transaction that last wrote it (datasets.py, `changed`);
the exports service reads a window only a safety lag after it ends, so writes that started inside
it have committed by then. Aggregates (effectiveness) carry no such time and are refused.
"""

from __future__ import annotations

from datetime import datetime

from services.common.errors import InvalidArgument
from services.prompts.datasets import DatasetQuery

Window = tuple[datetime, datetime]


def check_window(since: datetime, before: datetime) -> Window:
    """[since, before) with since before before."""
    if not since < before:
        raise InvalidArgument(
            f"changed_since ({since.isoformat()}) must be before changed_before ({before.isoformat()})",
            field="changed_before",
        )
    return since, before


def windowed(query: DatasetQuery, name: str, window: Window) -> DatasetQuery:
    """`query` restricted to the window; InvalidArgument for a dataset whose rows carry no change time."""
    if not query.changed:
        raise InvalidArgument(
            f"dataset {name} has no change time per row; windows apply to multi-agent, temporal and feedback",
            field="datasets",
        )
    return query.windowed(*window)
