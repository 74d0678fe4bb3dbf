"""Each service's PostgreSQL role owns its schema and reaches no other (deploy/sql/roles.sql, `depot roles`).

Runs on the real embedded PostgreSQL, in a database of its own, with roles of its own (named with a
random suffix) that are dropped at the end, so the shared test database is not touched.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import pytest
from sqlalchemy.engine import make_url

from cli.roles import bootstrap_role, scram_sha_256
from cli.stack import stack_environment
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from services.common.auth import mint_token
from services.common.migrate import available_services, upgrade
from services.common.settings import SERVICE_NAMES
from tests.deploy.processes import free_ports, serving
from tests.support.system import Database


@dataclass
class RolesDatabase:
    """A fresh database whose services each have a role, and their migrations applied as that role."""

    admin_url: str
    roles: dict[str, str]
    urls: dict[str, str]

    def connect(self, service: str | None = None) -> psycopg.Connection:
        """Autocommit connection as a service's role, or as the administrator."""
        return psycopg.connect(self.urls[service] if service else self.admin_url, autocommit=True)

    def a_table_of(self, service: str) -> str:
        """A table in the service's schema: one its migrations made, else a probe its role makes."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename LIMIT 1", (service,)
            ).fetchone()
        if row:
            return f'"{service}"."{row[0]}"'
        with self.connect(service) as conn:
            conn.execute(f'CREATE TABLE IF NOT EXISTS "{service}".probe (id int)')
        return f'"{service}".probe'


def _url(base: str, **parts: str) -> str:
    return make_url(base).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def roles_database(database: Database) -> Iterator[RolesDatabase]:
    suffix = uuid.uuid4().hex[:8]
    name = f"depot_roles_{suffix}"
    roles: dict[str, str] = {service: f"depot_{service}_{suffix}" for service in SERVICE_NAMES}
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin_url = _url(database.url, database=name)
    urls: dict[str, str] = {
        s: _url(admin_url, username=roles[s], password=f"{s}-{suffix}") for s in SERVICE_NAMES
    }
    try:
        for service in SERVICE_NAMES:
            bootstrap_role(
                admin_url=admin_url, role=roles[service], schema=service, password=f"{service}-{suffix}"
            )
        for migrated in available_services():
            upgrade(migrated, urls[migrated])
        yield RolesDatabase(admin_url, roles, urls)
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in roles.values():
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_role_owns_its_schema_and_everything_its_migrations_made(
    roles_database: RolesDatabase, service: str
) -> None:
    role = roles_database.roles[service]
    with roles_database.connect() as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (service,)
        )
        assert owner.fetchone() == (role,)
        foreign = conn.execute(
            "SELECT c.relname, c.relowner::regrole::text FROM pg_class c "
            "WHERE c.relnamespace = %s::regnamespace AND c.relowner <> %s::regrole",
            (service, role),
        ).fetchall()
    assert foreign == [], f"objects in schema {service} not owned by {role}: {foreign}"
    if service in available_services():
        with roles_database.connect(service) as conn:
            version = conn.execute(f'SELECT version_num FROM "{service}".alembic_version').fetchone()
        assert version is not None, f"{service}'s migrations did not record a version as {role}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_role_writes_and_reads_its_own_schema(roles_database: RolesDatabase, service: str) -> None:
    with roles_database.connect(service) as conn:
        conn.execute(f'CREATE TABLE "{service}".deploy_check (id int PRIMARY KEY, note text)')
        conn.execute(f'INSERT INTO "{service}".deploy_check VALUES (1, %s)', (service,))
        assert conn.execute(f'SELECT note FROM "{service}".deploy_check').fetchall() == [(service,)]
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (service,)
        ).fetchall():
            conn.execute(f'SELECT count(*) FROM "{service}"."{table}"')
        conn.execute(f'DROP TABLE "{service}".deploy_check')


@pytest.mark.parametrize(("reader", "owner"), list(itertools.permutations(SERVICE_NAMES, 2)))
def test_a_role_cannot_read_or_write_another_services_tables(
    roles_database: RolesDatabase, reader: str, owner: str
) -> None:
    table = roles_database.a_table_of(owner)
    with roles_database.connect(reader) as conn:
        for statement in (
            f"SELECT * FROM {table}",
            f"DELETE FROM {table}",
            f'CREATE TABLE "{owner}".intruder (id int)',
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                conn.execute(statement)
            assert "permission denied" in str(refused.value), str(refused.value)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_role_can_create_in_the_public_schema(roles_database: RolesDatabase, service: str) -> None:
    with roles_database.connect(service) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"CREATE TABLE public.{service}_was_here (id int)")


def test_bootstrap_is_idempotent_and_hands_over_what_an_administrator_made(
    roles_database: RolesDatabase,
) -> None:
    role = roles_database.roles["prompts"]
    with roles_database.connect() as conn:
        conn.execute("CREATE TABLE prompts.made_by_admin (id serial PRIMARY KEY)")
        conn.execute("CREATE TYPE prompts.made_by_admin_kind AS ENUM ('a', 'b')")
        conn.execute("CREATE VIEW prompts.made_by_admin_view AS SELECT id FROM prompts.made_by_admin")
    bootstrap_role(admin_url=roles_database.admin_url, role=role, schema="prompts")
    bootstrap_role(admin_url=roles_database.admin_url, role=role, schema="prompts")
    with roles_database.connect() as conn:
        owners = conn.execute(
            "SELECT c.relname, c.relowner::regrole::text FROM pg_class c "
            "WHERE c.relname LIKE 'made_by_admin%%' UNION ALL "
            "SELECT t.typname, t.typowner::regrole::text FROM pg_type t WHERE t.typname = 'made_by_admin_kind'"
        ).fetchall()
    assert owners and {owner for _, owner in owners} == {role}, owners
    with roles_database.connect("prompts") as conn:
        conn.execute(
            "INSERT INTO prompts.made_by_admin DEFAULT VALUES"
        )  # the serial's sequence changed hands too
        conn.execute("DROP VIEW prompts.made_by_admin_view")
        conn.execute("DROP TABLE prompts.made_by_admin")
        conn.execute("DROP TYPE prompts.made_by_admin_kind")


def test_bootstrap_refuses_a_superuser_as_a_service_role(roles_database: RolesDatabase) -> None:
    role = f"depot_super_{uuid.uuid4().hex[:8]}"
    with roles_database.connect() as conn:
        conn.execute(f'CREATE ROLE "{role}" SUPERUSER')
    try:
        with pytest.raises(psycopg.errors.RaiseException, match="superuser"):
            bootstrap_role(admin_url=roles_database.admin_url, role=role, schema="prompts")
    finally:
        with roles_database.connect() as conn:
            conn.execute(f'DROP ROLE "{role}"')


def test_the_password_is_stored_as_the_scram_verifier_computed_beside_it(
    roles_database: RolesDatabase,
) -> None:
    role = roles_database.roles["files"]
    with roles_database.connect() as conn:
        (stored,) = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone() or ("",)
    password = make_url(roles_database.urls["files"]).password or ""
    salt = base64.b64decode(stored.split("$")[1].split(":")[1])
    assert stored == scram_sha_256(password, salt=salt)


def test_depot_roles_command_reads_roles_and_passwords_from_the_service_urls(
    roles_database: RolesDatabase,
) -> None:
    env = stack_environment(
        DEPOT_ADMIN_DATABASE_URL=roles_database.admin_url,
        **{f"DEPOT_{s.upper()}_DATABASE_URL": url for s, url in roles_database.urls.items()},
    )
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "roles"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for service, role in roles_database.roles.items():
        assert f"role {role} owns schema {service}" in done.stdout, done.stdout


def test_depot_roles_refuses_a_service_url_that_connects_as_the_administrator(
    roles_database: RolesDatabase,
) -> None:
    env = stack_environment(
        DEPOT_ADMIN_DATABASE_URL=roles_database.admin_url, DEPOT_DATABASE_URL=roles_database.admin_url
    )
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "roles", "prompts"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "give each service its own role" in done.stderr, done.stderr


def test_the_prompts_service_serves_requests_connected_as_its_role(
    roles_database: RolesDatabase, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(32)
    env = stack_environment(
        DEPOT_PROMPTS_DATABASE_URL=roles_database.urls["prompts"],
        DEPOT_JWT_SECRET=secret,
        DEPOT_SERVICE_SECRET=secrets.token_urlsafe(32),
        DEPOT_GRACE_PERIOD_SECONDS="1",
        **free_ports(),
    )
    metadata = (("authorization", f"Bearer {mint_token(secret=secret, user_id='role-check')}"),)
    with serving(["serve", "prompts"], env, tmp_path / "prompts.log") as served:
        served.wait_healthy()
        with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
            stub = prompts_pb2_grpc.PromptsServiceStub(channel)
            created = stub.CreatePrompt(
                prompts_pb2.CreatePromptRequest(original_text="as my own role"), metadata=metadata, timeout=10
            )
            read = stub.GetPrompt(
                prompts_pb2.GetPromptRequest(id=created.prompt.id), metadata=metadata, timeout=10
            )
        assert read.prompt.original_text == "as my own role"
        assert served.terminate() == 0, served.output()


def test_a_managed_postgresql_administrator_without_superuser_can_bootstrap(database: Database) -> None:
    # Like RDS or Cloud SQL: the administrator has CREATEROLE and owns the database, nothing more.
    suffix = uuid.uuid4().hex[:8]
    admin, role, name = f"depot_admin_{suffix}", f"depot_prompts_{suffix}", f"depot_managed_{suffix}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{admin}" LOGIN CREATEROLE')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{admin}"')
    admin_url = _url(database.url, database=name, username=admin)
    role_url = _url(admin_url, username=role, password="managed")
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA prompts")  # say, from before roles existed
            conn.execute("CREATE TABLE prompts.old (id int)")
        for _ in range(2):  # idempotent here too
            bootstrap_role(admin_url=admin_url, role=role, schema="prompts", password="managed")
        upgrade("prompts", role_url)
        with psycopg.connect(role_url, autocommit=True) as conn:
            conn.execute("INSERT INTO prompts.old VALUES (1)")
            assert conn.execute("SELECT count(*) FROM prompts.prompts").fetchone() == (0,)
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
            conn.execute(f'DROP ROLE IF EXISTS "{admin}"')
