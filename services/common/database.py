"""Database access of every service: SQLAlchemy builds the SQL, psycopg 3 runs it.

Statements are SQLAlchemy Core (typed tables, `select()`, `insert()`), compiled once per shape
for the psycopg dialect and cached the way SQLAlchemy's own Connection caches them; execution
goes straight to an asyncio psycopg pool. Measured here: a prompt-with-version create took
6.1 ms through SQLAlchemy's asyncio layer (its greenlet bridge costs several hundred
microseconds per await) and 1.9 ms this way, within 10 % of hand-written psycopg.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb, JsonbDumper, set_json_dumps
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import MetaData, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement

# Stable constraint names, so migrations can refer to them (Polar's convention).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]
_CACHE_SIZE = 1000


def schema_metadata(schema: str) -> MetaData:
    """Metadata for the tables of one service's schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Turns a libpq-style URL (postgresql://…) into one naming the psycopg 3 driver (for alembic)."""
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The plain libpq URL psycopg wants, whatever driver name the setting carries."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _CompiledCache:
    """Compiled statements by cache key, as SQLAlchemy's Connection keeps them (bounded)."""

    def __init__(self) -> None:
        self._entries: dict[Any, Any] = {}

    def compile(
        self, statement: ClauseElement, params: Sequence[Mapping[str, Any]], *, many: bool
    ) -> tuple[str, list[Any]]:
        """The SQL text, and each parameter set completed with the statement's own bound values."""
        key = statement._generate_cache_key()
        column_keys = sorted(params[0]) if params and params[0] else None
        if key is None:  # a statement that cannot be cached: compile it every time
            once = statement.compile(dialect=_DIALECT, column_keys=column_keys, for_executemany=many)
            return once.string, [once.construct_params(p) for p in params or [{}]]
        entry_key = (key.key, tuple(column_keys or ()), many)
        compiled: Any = self._entries.get(entry_key)
        if compiled is None:
            compiled = statement.compile(
                dialect=_DIALECT, cache_key=key, column_keys=column_keys, for_executemany=many
            )
            if len(self._entries) >= _CACHE_SIZE:
                self._entries.pop(next(iter(self._entries)))
            self._entries[entry_key] = compiled
        values = [compiled.construct_params(p, extracted_parameters=key.bindparams) for p in params or [{}]]
        return compiled.string, values


_CACHE = _CompiledCache()


class Query:
    """A statement built once (at import) with named `bindparam()`s and compiled on first use.

    Building and cache-keying a Core statement costs about as much as the round trip it makes,
    so hot statements are built once: a call then only merges its parameters.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: tuple[str, dict[str, Any]] | None = None

    def compiled(self) -> tuple[str, dict[str, Any]]:
        if self._compiled is None:
            compiled = self.statement.compile(dialect=_DIALECT)
            self._compiled = (compiled.string, dict(compiled.params))
        return self._compiled


class Result:
    """The rows of one statement (attribute access by column label) and its row count."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


_TRANSACTION_LOCK = Query(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"))


class Session:
    """One connection inside one transaction; repositories run their statements here."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection

    async def execute(
        self,
        statement: Query | ClauseElement,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> Result:
        """Runs a statement; a list of parameter sets runs it once per set (executemany)."""
        many = isinstance(params, Sequence) and not isinstance(params, Mapping)
        parameter_sets: Sequence[Mapping[str, Any]] = params if many else [params or {}]  # type: ignore[assignment,list-item]
        if not parameter_sets:
            return Result([], 0)
        if isinstance(statement, Query):
            sql, defaults = statement.compiled()
            values = [{**defaults, **p} for p in parameter_sets]
        else:
            sql, values = _CACHE.compile(statement, parameter_sets, many=many)
        async with self.connection.cursor() as cursor:
            if many:
                await cursor.executemany(sql, values)
                return Result([], cursor.rowcount)
            await cursor.execute(sql, values[0])
            # A result with rows has a row number (`description` would build a Column per column).
            rows = await cursor.fetchall() if cursor.rownumber is not None else []
            return Result(rows, cursor.rowcount)

    async def lock(self, name: str) -> None:
        """Waits for the lock `name` and holds it until the transaction ends, across replicas: for a
        decision taken on what the transaction read (a count checked against a cap before an
        insert), which two transactions must not both take on the same reading."""
        await self.execute(_TRANSACTION_LOCK, {"name": name})


def _json_text(value: Any) -> bytes:
    """A jsonb parameter's JSON as UTF-8: json's default escapes every non-ASCII character, which
    doubles a CJK text's bytes and makes PostgreSQL decode each escape (a create with a
    55,000-character Japanese text: 554 µs a statement instead of 1,479). A lone surrogate passes as
    the invalid UTF-8 it is, for PostgreSQL to refuse as it refused its escape."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


class _DictAsJsonb(JsonbDumper):
    """Python dicts go to PostgreSQL as jsonb (SQLAlchemy's JSONB type did this before)."""

    def dump(self, obj: Any) -> Any:
        return super().dump(Jsonb(obj, dumps=_json_text))


async def _configure(connection: psycopg.AsyncConnection[Any]) -> None:
    connection.adapters.register_dumper(dict, _DictAsJsonb)
    set_json_dumps(_json_text, connection)  # Jsonb(...) parameters too


# How long a call waits for a pooled connection (the database down, or every connection busy)
# before it fails as UNAVAILABLE; never longer than the caller's deadline allows, less a margin
# for the answer to reach it, so a caller hears "unavailable" rather than "deadline exceeded".
POOL_TIMEOUT_SECONDS = 10.0
DEADLINE_MARGIN_SECONDS = 1.0
_CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "depot_call_deadline", default=None
)


def set_call_deadline(seconds_remaining: float | None) -> None:
    """Records the current call's remaining time (None: no deadline) for the connection waits it makes."""
    _CALL_DEADLINE.set(None if seconds_remaining is None else time.monotonic() + seconds_remaining)


def pool_wait_seconds() -> float:
    """How long the current call may wait for a connection."""
    deadline = _CALL_DEADLINE.get()
    if deadline is None:
        return POOL_TIMEOUT_SECONDS
    return max(0.05, min(POOL_TIMEOUT_SECONDS, deadline - time.monotonic() - DEADLINE_MARGIN_SECONDS))


R = TypeVar("R")


class Database:
    """A pool of connections to one service's database."""

    def __init__(self, url: str, *, pool_size: int = 10, application_name: str = "depot") -> None:
        self.pool = AsyncConnectionPool(
            libpq_url(url),
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=POOL_TIMEOUT_SECONDS,
            # Every pooled connection stays in autocommit: a unit of work is an explicit BEGIN/COMMIT
            # (connection.transaction()), a single statement its own transaction, and nothing is
            # switched back and forth per call.
            kwargs={
                "application_name": application_name,
                "connect_timeout": 5,
                "row_factory": namedtuple_row,
                "autocommit": True,
            },
            configure=_configure,
        )

    async def open(self) -> None:
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Session]:
        """One unit of work: committed when the block ends normally, rolled back otherwise."""
        async with self.pool.connection(timeout=pool_wait_seconds()) as connection, connection.transaction():
            yield Session(connection)

    def units_of_work(
        self, repository: Callable[[Session], R]
    ) -> Callable[[], AbstractAsyncContextManager[R]]:
        """A factory of units of work: each a transaction (committed when its block succeeds) that
        yields `repository` on its session."""

        @contextlib.asynccontextmanager
        async def unit_of_work() -> AsyncIterator[R]:
            async with self.begin() as session:
                yield repository(session)

        return unit_of_work

    def reads(self, repository: Callable[[Session], R]) -> Callable[[], AbstractAsyncContextManager[R]]:
        """A factory like `units_of_work` for a single statement (a lookup, or one UPDATE that counts):
        `repository` on an autocommit connection, so the statement is its own transaction — one round
        trip instead of BEGIN, statement, COMMIT. Never for two statements that must agree."""

        @contextlib.asynccontextmanager
        async def read() -> AsyncIterator[R]:
            async with self.connection() as session:
                yield repository(session)

        return read

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Session]:
        """A pooled connection in autocommit for short reads: each statement is one round trip, with
        no BEGIN/COMMIT around it and no transaction held while the caller waits between reads."""
        async with self.pool.connection(timeout=pool_wait_seconds()) as connection:
            yield Session(connection)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Session]:
        """A read-only repeatable-read transaction: everything read matches a single instant."""
        async with self.pool.connection(timeout=pool_wait_seconds()) as connection, connection.transaction():
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Session(connection)
