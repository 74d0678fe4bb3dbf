"""The `depot` command: up, migrate, serve, token."""

from __future__ import annotations

import argparse
import faulthandler
import gc
import os
import signal
import sys

from cli.allocator import reuse_large_buffers
from services.common.auth import mint_token
from services.common.logs import configure_logging
from services.common.settings import SERVICE_NAMES, Settings
from services.common.tracing import configure_tracing, instrument_gateway


def _serve(name: str) -> None:
    settings = Settings()
    configure_logging(name, settings.log_level)
    # Before any server, channel or connection exists: the instrumentations patch their factories.
    configure_tracing(name, database=name != "gateway")
    if name == "gateway":
        import uvicorn

        from gateway.app import create_app
        from gateway.http_protocol import deadline_protocol

        app = create_app(settings)
        instrument_gateway(app)

        # uvicorn drains on SIGTERM and then re-raises the signal into the previous handler;
        # a no-op handler there makes a drained gateway exit 0 like the services do.
        signal.signal(signal.SIGTERM, lambda *_: None)
        _prepare_to_serve()
        uvicorn.run(
            app,
            host=settings.bind_host,
            port=settings.http_port,
            log_config=None,
            timeout_graceful_shutdown=int(settings.grace_period_seconds),
            timeout_keep_alive=settings.http_keep_alive_seconds,  # type: ignore[arg-type]  # a float works
            loop="uvloop",
            # httptools parses HTTP/1.1 in C: measured about a third less gateway CPU per small
            # request than the pure-Python h11. The subclass adds a header deadline and a
            # connection cap, which uvicorn lacks (slowloris).
            http=deadline_protocol(
                header_timeout=settings.http_header_timeout_seconds,
                max_connections=settings.http_max_connections,
            ),
        )
        return
    import importlib

    import uvloop

    server = importlib.import_module(f"services.{name}.server")
    _prepare_to_serve()
    uvloop.run(server.serve(settings))


def _prepare_to_serve() -> None:
    """Sets the allocator for streaming (cli/allocator.py) and faulthandler, then moves every object
    alive after the imports (modules, classes, descriptors, SQL metadata: about 100,000 of them) out
    of the collector's sight for good. Otherwise each full collection walks them all — 50 to 180 ms
    a time on two cores, every few hundred requests — and a profile of the exports service relaying a
    12 MB download spent half its main thread's time there."""
    reuse_large_buffers()
    # A crash in C code (gRPC's, libpq's) leaves the Python threads' stacks in the process's log.
    faulthandler.enable()
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()


def _migrate(services: list[str]) -> None:
    from services.common.migrate import available_services, upgrade

    settings = Settings()
    for service in services or available_services():
        upgrade(service, settings.database_url_for(service))  # type: ignore[arg-type]
        print(f"migrated {service}")


def _token(user: str, admin: bool, ttl: int) -> None:
    """Prints a token signed with DEPOT_JWT_SECRET, else with the development secret that `depot up`
    left in DEPOT_DATA_DIR; a refused setting (the development secret outside it) is one line."""
    from pydantic import ValidationError

    from cli import development

    try:
        settings = Settings()
    except ValidationError as error:
        sys.exit(f"depot token: {error.errors()[0]['msg'].removeprefix('Value error, ')}")
    secret = settings.jwt_secret or development.recall(settings.data_dir)
    if not secret:
        sys.exit(
            f"depot token: set DEPOT_JWT_SECRET, or run it where `depot up` keeps its data "
            f"(DEPOT_DATA_DIR={settings.data_dir} holds no development secret)"
        )
    if not 0 < ttl <= 366 * 86400:
        sys.exit(f"depot token: --ttl must be between 1 and {366 * 86400} seconds, got {ttl}")
    print(
        mint_token(secret=secret, user_id=user, admin=admin, audience=settings.jwt_audience, ttl_seconds=ttl)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="depot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_command = commands.add_parser(
        "up", help="start PostgreSQL (embedded unless configured), migrate, and run everything"
    )
    up_command.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="processes of each gRPC service, each on its own port (default: DEPOT_REPLICAS, else 1)",
    )
    migrate = commands.add_parser("migrate", help="migrate every service's schema (or the ones named)")
    migrate.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICE_NAMES)}; all by default")
    serve = commands.add_parser("serve", help="run one service or the gateway (what a container runs)")
    serve.add_argument("name", choices=[*SERVICE_NAMES, "gateway"])
    token = commands.add_parser(
        "token",
        help="mint an HS256 token signed with DEPOT_JWT_SECRET (or the development secret of `depot up`)",
    )
    token.add_argument("--user", required=True)
    token.add_argument("--admin", action="store_true")
    token.add_argument("--ttl", type=int, default=86400, help="lifetime in seconds")
    from cli import roles

    roles.add_parser(commands)
    from cli import files_import, files_retention

    files_retention.add_parser(files_import.add_parser(commands))
    from cli import prompts_import, prompts_repair

    prompts_import.add_parser(prompts_repair.add_parser(commands))
    args = parser.parse_args(argv)
    if args.command == "roles":
        roles.run(args)
    elif args.command == "files" and args.files_command == "retention":
        files_retention.run(args)
    elif args.command == "files":
        files_import.run(args)
    elif args.command == "prompts" and args.prompts_command == "import":
        prompts_import.run(args)
    elif args.command == "prompts":
        prompts_repair.run(args)
    elif args.command == "up":
        from cli.up import up

        up(replicas=args.replicas)
    elif args.command == "migrate":
        _migrate(args.services)
    elif args.command == "serve":
        _serve(args.name)
    elif args.command == "token":
        _token(args.user, args.admin, args.ttl)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
