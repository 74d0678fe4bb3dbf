"""Webhook settings (DEPOT_WEBHOOK_*), read once by the exports process and passed into constructors."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """How deliveries are made, retried and bounded."""

    model_config = SettingsConfigDict(env_prefix="DEPOT_WEBHOOK_", extra="ignore")

    # Private, loopback and other non-public targets are refused unless this is true (development
    # and tests); link-local ones (cloud metadata) always are.
    allow_private: bool = False
    # Fernet keys sealing signing secrets at rest, comma-separated, the first one encrypting
    # (secrets.py); empty: one derived from DEPOT_SERVICE_SECRET.
    secret_keys: str = ""
    # One attempt: connecting, and the whole POST with its redirects; the receiver's answer is read
    # up to max_response_bytes and the rest dropped.
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_response_bytes: int = Field(default=4096, ge=0, le=1024 * 1024)
    max_redirects: int = Field(default=3, ge=0, le=10)
    # Retries: attempt n+1 waits base * 2^(n-1) seconds (at most max), give or take a fifth; after
    # max_attempts the delivery has failed. A subscription whose attempts failed this many times
    # in a row (across deliveries) is disabled.
    max_attempts: int = Field(default=8, ge=1, le=30)
    retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=3600.0, gt=0, le=86400)
    disable_after_failures: int = Field(default=20, ge=1, le=1000)
    # Senders: attempts in flight per process; a claimed delivery is held by a lease this long.
    concurrency: int = Field(default=16, ge=1, le=256)
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # Replicas that missed the local wake-up look for due deliveries this often.
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    max_per_user: int = Field(default=50, ge=1, le=10000)
    # The delivery log: a delivery that ended (delivered or failed) longer ago than this is deleted
    # with its attempts, by one replica at a time, every retention interval; 0 keeps them all.
    # Pending deliveries stay whatever their age.
    retention_days: int = Field(default=30, ge=0, le=3650)
    retention_interval_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # false: this process serves the API only, and neither consumes events nor sends deliveries.
    worker: bool = True
