"""The database engine every service uses: SQLAlchemy 2 on psycopg 3, async."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Stable constraint names, so migrations can refer to them (Polar's convention).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Metadata for the tables of one service's schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Turns a libpq-style URL (postgresql://…) into one naming the psycopg 3 driver."""
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, application_name: str = "depot") -> AsyncEngine:
    """An async engine that checks connections before use, so a restarted database is picked up again."""
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"application_name": application_name, "connect_timeout": 5},
    )
