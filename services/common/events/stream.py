"""What a service declares about its outbox (its schema and event types), and the SQL every
service's events share: reading a page, placing committed rows, sweeping old ones.

The tables are made by each schema's events revision (migrations/outbox.py); the schema name is a
constant of the service's code, never a caller's input, so it is written into the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, text


@dataclass(frozen=True)
class EventStream:
    """One service's event stream: the schema holding `events`, and the types it emits."""

    schema: str
    types: tuple[str, ...]
    statements: dict[str, TextClause] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "statements", _statements(self.schema))

    @property
    def name(self) -> str:
        """The stream's name in cursors and logs."""
        return self.schema

    @property
    def positioned_channel(self) -> str:
        """Notified by the relay when it gave committed events their positions."""
        return f"{self.schema}_events_positioned"

    def sql(self, name: str) -> TextClause:
        return self.statements[name]


_COLUMNS = "id, type, subject, owner, data, created_at, position"


def _statements(schema: str) -> dict[str, Any]:
    events, head = f"{schema}.events", f"{schema}.event_sequencer"
    page = f"""SELECT {_COLUMNS} FROM {events}
                WHERE position > :after AND (cardinality(CAST(:types AS text[])) = 0
                      OR type = ANY(CAST(:types AS text[])))"""
    return {
        "page_of_owner": text(f"{page} AND owner = :owner ORDER BY position LIMIT :limit"),
        "page_of_all": text(f"{page} ORDER BY position LIMIT :limit"),
        "any_pending": text(f"SELECT EXISTS (SELECT FROM {events} WHERE position IS NULL)"),
        "head": text(f"SELECT last_position FROM {head}"),
        # The sequencer's turn: this row lock makes sequencers (one per replica) take turns, and
        # the placing statement that follows takes its snapshot only once the turn is ours.
        "lock_head": text(f"SELECT last_position FROM {head} FOR UPDATE"),
        # Committed rows without a position, in insert order, numbered after the head.
        "place": text(f"""
            WITH pending AS (
              SELECT seq, row_number() OVER (ORDER BY seq) AS rn
                FROM (SELECT seq FROM {events} WHERE position IS NULL ORDER BY seq LIMIT :batch) p),
            placed AS (
              UPDATE {events} e SET position = :last + pending.rn
                FROM pending WHERE e.seq = pending.seq RETURNING e.position)
            SELECT count(*) AS placed, coalesce(max(position), :last) AS top FROM placed"""),
        "move_head": text(
            f"UPDATE {head} SET last_position = :top"
            f" RETURNING pg_notify('{schema}_events_positioned', CAST(:top AS text))"
        ),
        "sweep": text(f"""
            DELETE FROM {events} WHERE seq IN (
              SELECT seq FROM {events}
               WHERE created_at < :before AND position IS NOT NULL LIMIT :batch)"""),
    }
