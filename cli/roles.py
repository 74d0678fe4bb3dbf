"""`depot roles`: each service's own PostgreSQL role, owning its schema and reaching no other.

An administrator's connection (DEPOT_ADMIN_DATABASE_URL) runs deploy/sql/roles.sql once per
service. The role's name and password come from the service's own URL
(DEPOT_<SERVICE>_DATABASE_URL), so the secret a service connects with is the only place they live.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from services.common.settings import SERVICE_NAMES, ServiceName, Settings

BOOTSTRAP_SQL = Path(__file__).resolve().parent.parent / "deploy" / "sql" / "roles.sql"
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


class RolesSettings(Settings):
    """The settings of `depot roles`: every service URL, plus the administrator's."""

    admin_database_url: str = ""


@dataclass(frozen=True)
class ServiceRole:
    """One service's role as its database URL names it."""

    service: str
    role: str
    password: str
    database: str


def scram_sha_256(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the clear password never reaches the server."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def service_role(service: str, url: str, *, admin_url: str) -> ServiceRole:
    """The role a service's URL connects as; refuses URLs that would share the administrator's power."""
    parsed, admin = make_url(url), make_url(admin_url)
    if not parsed.username:
        raise ValueError(
            f"DEPOT_{service.upper()}_DATABASE_URL names no user; it must name the service's role"
        )
    if parsed.username in {admin.username, "postgres"}:
        raise ValueError(
            f"DEPOT_{service.upper()}_DATABASE_URL connects as {parsed.username!r}, an administrator; "
            "give each service its own role"
        )
    return ServiceRole(service, parsed.username, parsed.password or "", parsed.database or "")


def bootstrap_role(*, admin_url: str, role: str, schema: str, password: str = "") -> None:
    """Creates or updates one role so that it owns `schema` and nothing else (idempotent)."""
    import psycopg

    # Non-ASCII passwords go in clear: PostgreSQL normalises them (SASLprep) before hashing.
    secret = scram_sha_256(password) if password and password.isascii() else password
    with psycopg.connect(_libpq(make_url(admin_url)), autocommit=True) as conn:
        for name, value in (("depot.role", role), ("depot.schema", schema), ("depot.password", secret)):
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        conn.execute(BOOTSTRAP_SQL.read_text())


def create_roles(settings: RolesSettings, services: list[str]) -> list[ServiceRole]:
    """Bootstraps the role of each named service (all by default) in the database its URL names."""
    if not settings.admin_database_url:
        raise ValueError("set DEPOT_ADMIN_DATABASE_URL to a role that may create roles and schemas")
    done = []
    for service in services or list(SERVICE_NAMES):
        url = settings.database_url_for(_service_name(service))
        role = service_role(service, url, admin_url=settings.admin_database_url)
        admin = make_url(settings.admin_database_url)
        if role.database:
            admin = admin.set(database=role.database)
        bootstrap_role(
            admin_url=admin.render_as_string(hide_password=False),
            role=role.role,
            schema=service,
            password=role.password,
        )
        done.append(role)
    return done


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `depot roles [services…]`."""
    roles = commands.add_parser(
        "roles",
        help="create or update each service's PostgreSQL role (as DEPOT_ADMIN_DATABASE_URL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    roles.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICE_NAMES)}; all by default")


def run(args: argparse.Namespace) -> None:
    """Runs `depot roles`."""
    try:
        roles = create_roles(RolesSettings(), args.services)
    except ValueError as error:
        raise SystemExit(f"depot roles: {error}") from None
    for role in roles:
        print(f"role {role.role} owns schema {role.service}")


def _service_name(service: str) -> ServiceName:
    if service not in SERVICE_NAMES:
        raise ValueError(f"unknown service {service!r}; choose from {', '.join(SERVICE_NAMES)}")
    return service


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
