"""Process settings, read once from DEPOT_* environment variables and passed into constructors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The embedded mode's secret. Refused whenever a real database is configured (see below).
DEVELOPMENT_JWT_SECRET = "depot-development-secret-not-for-production"

ServiceName = Literal["prompts", "files", "exports"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("prompts", "files", "exports")


class Settings(BaseSettings):
    """Every setting of every Depot process; each process reads the ones it needs."""

    model_config = SettingsConfigDict(env_prefix="DEPOT_", extra="ignore")

    data_dir: Path = Path(".depot")
    database_url: str = ""
    prompts_database_url: str = ""
    files_database_url: str = ""
    exports_database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=200)

    jwt_secret: str = ""
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_audience: str = "depot"
    jwt_issuer: str = ""
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # The key services sign their calls for a user with (service tokens, see auth.py): one per
    # deployment, known to the services only (never the gateway), distinct from DEPOT_JWT_SECRET.
    # Every service refuses to start without it; `depot up` makes a fresh one on each start.
    service_secret: str = ""

    bind_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    prompts_port: int = Field(default=50051, ge=0, le=65535)
    files_port: int = Field(default=50052, ge=0, le=65535)
    exports_port: int = Field(default=50053, ge=0, le=65535)
    prompts_address: str = ""
    files_address: str = ""
    exports_address: str = ""
    # 0 turns a service's own /metrics listener off (the gateway always serves /metrics).
    metrics_port: int = Field(default=0, ge=0, le=65535)

    grace_period_seconds: float = Field(default=10.0, ge=0, le=300)
    # Replicas: a stopping service says NOT_SERVING and still takes calls for the drain delay, so
    # clients move to other replicas before it refuses new ones. With a max connection age (0:
    # none), a server ends each client connection after it (clients then look the name up again
    # and reach new replicas); calls running on it get the age grace, as long as the longest call
    # may run. See services/common/grpc_server.py for why it is off unless set.
    drain_delay_seconds: float = Field(default=1.0, ge=0, le=60)
    grpc_max_connection_age_seconds: float = Field(default=0.0, ge=0, le=86400)
    grpc_max_connection_age_grace_seconds: float = Field(default=600.0, ge=0, le=86400)
    rpc_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_concurrent_rpcs: int = Field(default=1000, ge=1)
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The gateway closes a connection whose upload or download makes no progress for this long.
    http_idle_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Slowloris bounds: a request's line and headers must arrive within the header timeout; a
    # kept-alive connection idle for the keep-alive time is closed (behind a load balancer, make it
    # longer than the balancer's own idle timeout); connections over the cap are answered 503.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0, le=3600)
    http_max_connections: int = Field(default=1000, ge=1)
    max_file_bytes: int = Field(default=25 * 1024 * 1024, ge=0)
    # Chat files: the bytes one user may store (0: no limit; an admin may override it per user),
    # and retention: files neither read nor written for this many days are removed (0: kept
    # forever) by a pass every interval, run by one files replica at a time.
    file_quota_bytes: int = Field(default=0, ge=0)
    file_retention_days: int = Field(default=0, ge=0, le=36500)
    file_retention_interval_seconds: float = Field(default=3600.0, gt=0, le=86400)

    # Exports: where rendered bytes live (`postgres`, `local:<dir>`, `s3://<bucket>`), renders per
    # user per minute (stored exports served again never count), and how long one render may run.
    blob_store: str = "postgres"
    export_rate_limit_per_minute: int = Field(default=10, ge=1)
    export_render_timeout_seconds: float = Field(default=600.0, gt=0, le=86400)
    export_render_workers: int = Field(default=4, ge=1, le=64)
    # Export jobs: datasets, and artifacts of more rows than the threshold, are queued in PostgreSQL
    # and rendered by any exports process. A worker holds a job by a lease its heartbeat extends;
    # a job whose worker died is taken again, at most `max_attempts` times in all. Workers wake on
    # a notification, or after the poll interval when one was missed. A client may wait for a
    # job's end (GetExport's wait, `?wait=`) for at most `wait_max_seconds`.
    export_queue_threshold_rows: int = Field(default=1000, ge=0)
    export_job_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    export_job_max_attempts: int = Field(default=3, ge=1, le=100)
    export_job_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    export_wait_max_seconds: float = Field(default=30.0, ge=0, le=600)
    # Whether this exports process takes queued jobs; false makes an API-only replica (jobs wait
    # for a process that takes them).
    export_job_worker: bool = True
    # Export lifecycle: how long a completed export lives (seconds; then the cleanup removes it and
    # its bytes), how often each exports process runs the cleanup and the blob sweep (0: never),
    # and how old bytes no row points at (and crashed writes' leftovers) must be before the sweep
    # removes them: longer than any render, so bytes about to be pointed at are never taken.
    export_ttl: int = Field(default=30 * 24 * 3600, ge=1)
    export_sweep_interval_seconds: float = Field(default=300.0, ge=0, le=86400)
    export_sweep_grace_seconds: float = Field(default=3600.0, ge=0)
    # Restore (POST /imports): the largest upload (413 past it) and what a takeout archive may expand
    # to once inflated (a zip bomb is refused before anything is written).
    import_max_bytes: int = Field(default=4 * 1024**3, ge=1024)
    import_max_expanded_bytes: int = Field(default=16 * 1024**3, ge=1024)

    # The `s3://<bucket>` store: any S3 endpoint (empty = AWS), the name browsers reach it by when
    # that differs (presigned URLs), the life of a presigned URL, the size at which uploads turn
    # multipart (also the part size; S3 parts are at least 5 MiB) and how many parts travel at once.
    # Credentials: boto3's default chain.
    s3_endpoint_url: str = ""
    s3_public_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_presign_expiry_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    s3_multipart_threshold_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    s3_upload_concurrency: int = Field(default=4, ge=1, le=32)

    # Change events (WatchEvents): how long each service keeps its events (days; 0: forever), how
    # often the retention pass runs, and how often the relay looks for newly committed events to
    # place in order (the most it adds to an event's latency).
    events_retention_days: int = Field(default=30, ge=0, le=36500)
    events_retention_interval_seconds: float = Field(default=3600.0, gt=0, le=86400)
    events_poll_seconds: float = Field(default=0.05, ge=0.005, le=60)

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    embedded: bool = False

    @model_validator(mode="after")
    def _refuse_development_secret_outside_embedded_mode(self) -> Settings:
        if not self.embedded and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            raise ValueError("DEPOT_JWT_SECRET is the development secret; set a real one outside `depot up`")
        return self

    def database_url_for(self, service: ServiceName) -> str:
        """The service's own database URL, falling back to DEPOT_DATABASE_URL."""
        url = getattr(self, f"{service}_database_url") or self.database_url
        if not url:
            raise ValueError(f"set DEPOT_{service.upper()}_DATABASE_URL or DEPOT_DATABASE_URL")
        return url

    def port_for(self, service: ServiceName) -> int:
        """The gRPC port a service listens on."""
        return int(getattr(self, f"{service}_port"))

    def address_for(self, service: ServiceName) -> str:
        """Where clients reach a service: DEPOT_<SERVICE>_ADDRESS, else the local port."""
        return str(getattr(self, f"{service}_address") or f"127.0.0.1:{self.port_for(service)}")
