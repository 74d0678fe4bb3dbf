"""Every table of every schema that holds a user's data is erased: each service lists its tables,
and this test fails as soon as a migration adds a table with a user column (owner, subject, *_by,
user_id) or a child of a listed table that is in none of the lists, so no table can be forgotten."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import psycopg
import pytest

from services.exports.erasure import owned as exports_erasure
from services.files import erasure as files_erasure
from services.prompts import erasure as prompts_erasure
from tests.support.system import Database

MODULES = {"prompts": prompts_erasure, "files": files_erasure, "exports": exports_erasure}
USER_COLUMNS = "column_name IN ('owner', 'subject', 'user_id', 'user') OR column_name LIKE '%%\\_by'"


def covered(module: ModuleType) -> set[str]:
    return (
        {o.table for o in module.OWNED}
        | set(module.CASCADED)
        | set(getattr(module, "WITH_BYTES", ()))
        | set(getattr(module, "NAMES_NOBODY_WHEN_DONE", ()))
    )


def tables_with_user_columns(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = conn.execute(
        f"SELECT DISTINCT c.table_name FROM information_schema.columns c"
        f" JOIN information_schema.tables t USING (table_schema, table_name)"
        f" WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' AND ({USER_COLUMNS})",
        (schema,),
    ).fetchall()
    return {r[0] for r in rows}


def cascading_children(conn: psycopg.Connection[Any], schema: str) -> dict[str, set[str]]:
    """child table → the tables of the schema it references with ON DELETE CASCADE."""
    rows = conn.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, c.confdeltype"
        " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE c.contype = 'f' AND n.nspname = %s",
        (schema,),
    ).fetchall()
    children: dict[str, set[str]] = {}
    for child, parent, on_delete in rows:
        if on_delete == "c":
            children.setdefault(child.split(".")[-1], set()).add(parent.split(".")[-1])
    return children


@pytest.mark.parametrize("schema", list(MODULES))
def test_every_table_with_a_user_column_is_erased(database: Database, schema: str) -> None:
    module = MODULES[schema]
    with psycopg.connect(database.url) as conn:
        missing = tables_with_user_columns(conn, schema) - covered(module)
    assert not missing, f"{schema}: tables with a user column that no erasure list names: {sorted(missing)}"


@pytest.mark.parametrize("schema", list(MODULES))
def test_every_child_of_an_erased_table_is_erased_or_cascades(database: Database, schema: str) -> None:
    module = MODULES[schema]
    with psycopg.connect(database.url) as conn:
        children = cascading_children(conn, schema)
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            ).fetchall()
        }
    listed = covered(module)
    assert listed <= existing, f"{schema}: listed tables that do not exist: {sorted(listed - existing)}"
    for child, parent in module.CASCADED.items():
        assert parent in children.get(child, set()), f"{schema}.{child} does not cascade from {parent}"
        assert parent in listed
    unlisted = {c for c, parents in children.items() if parents & listed and c not in listed}
    assert not unlisted, f"{schema}: children of erased tables in no list: {sorted(unlisted)}"
