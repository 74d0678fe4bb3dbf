"""Aggregate and bulk reads of the prompts schema: effectiveness and dataset streams.

These run hand-written SQL (services/prompts/datasets.py) on the session's psycopg connection:
they are the export hot path, where PostgreSQL should do the formatting (COPY) and per-row
Python costs dominate (STYLE.md, Persistence).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from services.common.database import Session
from services.prompts.copy_chunks import copy_chunks
from services.prompts.datasets import DATASETS, EFFECTIVENESS, DatasetQuery

ROWS_PER_FETCH = 2000
# One gRPC message. Measured on 516 MB of CSV rendered and stored (the chunk joined from libpq's
# row buffers once): 256 KiB cost the prompts service 1.60 s of CPU and the exports service 1.51 s,
# 1 MiB 1.36 s and 1.36 s (a quarter of gRPC's per-message work); the render took as long.
CSV_CHUNK_BYTES = 1024 * 1024


class AnalyticsRepository:
    """Reads on one connection; the caller chooses the transaction's isolation."""

    def __init__(self, session: Session) -> None:
        self.connection: psycopg.AsyncConnection[Any] = session.connection

    async def effectiveness(self, *, owner: str, basis: str) -> Sequence[dict[str, Any]]:
        """Per-agent statistics of one owner on one basis, in one aggregate query."""
        sql = f"SELECT * FROM ({EFFECTIVENESS.select_sql(all_users=False)}) x WHERE basis = %(basis)s"
        pg = self.connection
        async with pg.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, {"owner": owner, "basis": basis})
            return await cur.fetchall()

    async def snapshot_time(self) -> datetime:
        """Takes the transaction's snapshot (its first statement) and returns when it was taken."""
        pg = self.connection
        async with pg.cursor() as cur:
            await cur.execute("SELECT clock_timestamp()")
            row = await cur.fetchone()
            assert row is not None
            return row[0]  # type: ignore[no-any-return]

    async def stream_rows(
        self, *, dataset: str, owner: str | None, query: DatasetQuery | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Batches of a dataset's rows through a server-side cursor (`query` when its definition
        depends on options, as the fine-tune dataset's does)."""
        definition = query or DATASETS[dataset]
        sql = definition.select_sql(all_users=owner is None)
        pg = self.connection
        async with pg.cursor(name=f"dataset_{dataset.replace('-', '_')}") as cur:
            await cur.execute(sql, {**definition.params, "owner": owner})
            while batch := await cur.fetchmany(ROWS_PER_FETCH):
                yield batch

    async def stream_csv(
        self, *, dataset: str, owner: str | None, csv_safe: bool, query: DatasetQuery | None = None
    ) -> AsyncIterator[bytes]:
        """The dataset as CSV with a header line, formatted by PostgreSQL's COPY (`query` when its
        definition depends on the request, as a window's does)."""
        definition = query or DATASETS[dataset]
        sql = definition.copy_sql(all_users=owner is None, csv_safe=csv_safe)
        # COPY hands over one row at a time; one gRPC message per row would cap the stream at a
        # few MB/s, so rows are gathered into chunks of about CSV_CHUNK_BYTES.
        async with self.connection.cursor() as cur:
            params = {**definition.params, "owner": owner}
            async for chunk in copy_chunks(cur, sql, params, chunk_bytes=CSV_CHUNK_BYTES):
                yield chunk
