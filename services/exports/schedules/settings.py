"""Schedule settings (DEPOT_SCHEDULE_*), read once by the exports process and passed into constructors."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScheduleSettings(BaseSettings):
    """How often schedules may fire, when windows are read, and where runs may be delivered."""

    model_config = SettingsConfigDict(env_prefix="DEPOT_SCHEDULE_", extra="ignore")

    # No cadence may fire more often than this (a cron whose consecutive fires come closer is refused).
    min_interval_seconds: float = Field(default=300.0, ge=60, le=7 * 24 * 3600)
    # A window is read this long after it ends, so writes that started inside it have committed.
    lag_seconds: float = Field(default=300.0, ge=0, le=24 * 3600)
    # A window whose run failed gets a new run after this long.
    retry_seconds: float = Field(default=300.0, ge=0, le=24 * 3600)
    # How often each exports process looks for due windows (0: never; the planner is off).
    plan_interval_seconds: float = Field(default=15.0, ge=0, le=3600)
    # Fernet keys sealing destination credentials, comma-separated, the first one encrypting
    # (credentials.py); empty: one derived from DEPOT_SERVICE_SECRET.
    credentials_keys: str = ""
    # S3 endpoints on private or loopback addresses are refused unless this is true (development and
    # tests); link-local ones (cloud metadata) always are.
    allow_private_endpoints: bool = False
    max_per_user: int = Field(default=50, ge=1, le=10000)
