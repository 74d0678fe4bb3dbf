"""Read-only looks at the stored state, for assertions that no API can make (row and blob counts)."""

from __future__ import annotations

from typing import Any

import psycopg


def query(url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]


def scalar(url: str, statement: str, *params: Any) -> Any:
    return query(url, statement, *params)[0][0]


def export_rows(url: str, owner: str, source: str) -> list[tuple[Any, ...]]:
    """(id, status, sha256, blob_key) of every export of one owner's source, any state."""
    return query(
        url,
        "SELECT id, status, sha256, blob_key FROM exports.exports WHERE owner = %s AND source = %s",
        owner,
        source,
    )


def blob_keys(url: str, export_ids: list[Any]) -> set[str]:
    """Keys the postgres blob store holds for these exports (one key per export)."""
    keys = [f"exports/{i}" for i in export_ids]
    rows = query(url, "SELECT DISTINCT key FROM exports.blob_chunks WHERE key = ANY(%s)", keys)
    return {r[0] for r in rows}
