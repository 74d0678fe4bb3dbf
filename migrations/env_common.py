"""The alembic environment every service's history shares: own schema, own version table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, text

from services.common.database import sqlalchemy_url


def run(*, schema: str, metadata: MetaData) -> None:
    """Runs the migrations of one schema online (offline SQL generation is not supported)."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by the caller"
    engine = create_engine(sqlalchemy_url(url), future=True)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
