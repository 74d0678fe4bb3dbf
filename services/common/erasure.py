"""Erasing one user's rows from a service's own schema, in bounded batches (DESIGN.md "Data in and
out"): what each owning service's EraseUser runs.

Each service lists its tables that hold a user's rows as `Owned` entries, in the order they are
emptied (children before the rows they hang off, so no batch cascades into an unbounded delete).
One call deletes at most `batch` rows of each table, in one transaction, and is `done` when it
found nothing left: callers repeat it until then, so a user with 100,000 rows never holds one giant
transaction, and erasing an erased user changes nothing.

Who may erase: the exports service acting for the user being erased (its erasure job), or an admin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from psycopg import sql

from services.common.auth import Principal
from services.common.database import Database, Session
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.interceptors import current_principal
from services.common.limits import MAX_SUBJECT_CHARS

log = logging.getLogger("depot.erasure")

ERASING_SERVICE = "exports"
DEFAULT_BATCH = 500
MAX_BATCH = 5000


@dataclass(frozen=True)
class Owned:
    """A table with rows of one user: those matching `where` (a condition on `%(owner)s`)."""

    table: str
    where: str = "owner = %(owner)s"


def check_subject(user_id: str) -> str:
    """A user id that can name a user (a token's subject), or InvalidArgument."""
    if not user_id.strip() or len(user_id) > MAX_SUBJECT_CHARS or not user_id.isprintable():
        raise InvalidArgument(
            f"user_id must be 1 to {MAX_SUBJECT_CHARS} printable characters", field="user_id"
        )
    return user_id


def check_may_erase(principal: Principal, user_id: str) -> str:
    """The user to erase, if the caller may erase them; InvalidArgument or PermissionDenied if not."""
    check_subject(user_id)
    if principal.is_admin:
        return user_id
    if principal.actor == ERASING_SERVICE and principal.user_id == user_id:
        return user_id
    raise PermissionDenied("only the erasure job of the exports service or an admin may erase a user")


def batch_size(requested: int) -> int:
    """The rows per table one call deletes: 0 is the default, anything above the maximum the maximum."""
    return DEFAULT_BATCH if requested <= 0 else min(requested, MAX_BATCH)


async def erase_batch(
    session: Session, *, schema: str, tables: Sequence[Owned], owner: str, batch: int
) -> int:
    """Deletes up to `batch` of the owner's rows from each table, in order; returns how many went."""
    deleted = 0
    for owned in tables:
        table = sql.Identifier(schema, owned.table)
        statement = sql.SQL(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT %(batch)s))"
        ).format(table=table, where=sql.SQL(owned.where))
        cursor = await session.connection.execute(statement, {"owner": owner, "batch": batch})
        deleted += max(cursor.rowcount, 0)
    return deleted


async def count_rows(session: Session, *, counts: Mapping[str, str], owner: str) -> dict[str, int]:
    """Each kind's count: `counts` maps a kind to a query of one number on `%(owner)s`."""
    found = {}
    for kind, query in counts.items():
        cursor = await session.connection.execute(sql.SQL(query), {"owner": owner})
        row = await cursor.fetchone()
        found[kind] = int(row[0] or 0) if row else 0
    return found


class ErasureHandlers:
    """EraseUser and CountUserData of one owning service over its own schema; `messages` is the
    service's generated erasure_pb2 module (each package has its own copy of the same messages)."""

    def __init__(
        self,
        database: Database,
        *,
        schema: str,
        tables: Sequence[Owned],
        counts: Mapping[str, str],
        messages: Any,
    ) -> None:
        self._db = database
        self._schema = schema
        self._tables = tables
        self._counts = counts
        self._pb = messages

    async def EraseUser(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        owner = check_may_erase(current_principal(), request.user_id)
        async with self._db.begin() as session:
            deleted = await erase_batch(
                session,
                schema=self._schema,
                tables=self._tables,
                owner=owner,
                batch=batch_size(request.batch_size),
            )
        if deleted:
            log.info("user_rows_erased", extra={"schema": self._schema, "rows": deleted})
        return self._pb.EraseUserResponse(done=deleted == 0, deleted_rows=deleted)

    async def CountUserData(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        principal = current_principal()
        owner = request.user_id or principal.user_id
        if owner != principal.user_id:
            check_may_erase(principal, owner)
        async with self._db.connection() as session:
            counts = await count_rows(session, counts=self._counts, owner=owner)
        return self._pb.CountUserDataResponse(counts=counts)
