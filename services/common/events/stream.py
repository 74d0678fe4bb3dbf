"""What a service declares about its outbox (its schema and event types), and the SQL every
service's events share: reading a page, placing committed rows, sweeping old ones.

The tables (event_inbox, events, event_sequencer) are made by each schema's events revision (migrations/outbox.py); the schema name is a
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
        "head": text(f"SELECT last_position FROM {head}"),
        # One turn of the sequencer (migrations/outbox.py): how many events it placed.
        "place": text(f"SELECT {schema}.place_events(:batch)"),
        # The oldest batch, of which those older than the cutoff (positions follow time, so the
        # pass reads no more than a batch past the last old event).
        "sweep": text(f"""
            DELETE FROM {events} WHERE position IN (
              SELECT position FROM (SELECT position, created_at FROM {events} ORDER BY position LIMIT :batch) o
               WHERE created_at < :before)"""),
    }
