"""Where a run's bytes go besides this deployment's store: an S3 bucket of the schedule's owner.

A worker renders a scheduled run into the deployment's blob store as any export, then copies the
stored bytes (gzip-compressed text keeps its encoding, and its key ends in `.gz`) to the bucket under
`<prefix><schedule id>/<window start>--<window end>.<ext>`, and only then completes the run: a run is
completed only once delivered. Any failure to deliver (the bucket refuses the write, it or its
server vanishes mid-upload, the credentials are wrong) is `DeliveryFailed`, which the job retries
and, once its attempts are spent, fails the run with that message; the planner then runs the same
window again. An endpoint's addresses are checked before each delivery, so a name that came to
resolve to a private or link-local address is refused too.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from services.common.addresses import Refused, allowed_addresses
from services.common.errors import InvalidArgument, Unavailable
from services.exports.blobstores import BlobStore
from services.exports.rules import output_type
from services.exports.schedules.credentials import CredentialBox
from services.exports.schedules.repository import Units
from services.exports.schedules.rules import S3


class DeliveryFailed(Unavailable):
    default_reason = "DELIVERY_FAILED"


async def check_endpoint(endpoint_url: str, *, allow_private: bool) -> None:
    """InvalidArgument when the endpoint's host resolves to an address a destination may not reach
    (services/common/addresses.py: as a webhook's target)."""
    if not endpoint_url:
        return
    parts = urlsplit(endpoint_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await allowed_addresses(host, port, allow_private=allow_private, reaching="a destination")
    except Refused as exc:
        raise InvalidArgument(f"destination.endpoint_url: {exc}", field="destination") from None


def delivery_key(
    *,
    prefix: str,
    schedule_id: Any,
    window_start: datetime,
    window_end: datetime,
    fmt: str,
    encoding: str | None,
) -> str:
    """The object key of one window's file."""
    stamp = "%Y%m%dT%H%M%SZ"
    extension = output_type(fmt).extension + (".gz" if encoding == "gzip" else "")
    return f"{prefix}{schedule_id}/{window_start:{stamp}}--{window_end:{stamp}}.{extension}"


class Deliveries:
    """Copies a rendered run to its schedule's destination (the job worker's `deliver` port)."""

    def __init__(self, *, units: Units, box: CredentialBox, blobs: BlobStore, allow_private: bool) -> None:
        self._units = units
        self._box = box
        self._blobs = blobs
        self._allow_private = allow_private

    async def deliver(self, row: Any, blob_key: str, encoding: str | None) -> str | None:
        """Where the run's bytes now also are (`s3://bucket/key`), or None when its destination is this
        deployment's store (or its schedule was deleted meanwhile)."""
        async with self._units() as repo:
            found = await repo.destination(schedule_id=row.schedule_id)
        if found is None or found.destination.get("type") != S3:
            return None
        destination = found.destination
        secrets = self._box.open(found.credentials)
        try:
            await check_endpoint(destination["endpoint_url"], allow_private=self._allow_private)
        except InvalidArgument as exc:
            raise DeliveryFailed(exc.message) from None
        key = delivery_key(
            prefix=destination["prefix"],
            schedule_id=row.schedule_id,
            window_start=row.window_start,
            window_end=row.window_end,
            fmt=row.format,
            encoding=encoding,
        )
        await asyncio.to_thread(self._copy, destination, secrets, blob_key, key)
        return f"s3://{destination['bucket']}/{key}"

    def _copy(self, destination: dict[str, str], secrets: dict[str, str], blob_key: str, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # boto3 loads only when S3 is used

        from services.exports.blobstores.s3 import S3BlobStore

        where = f"s3://{destination['bucket']}"
        store = S3BlobStore(
            destination["bucket"],
            endpoint_url=destination["endpoint_url"] or None,
            region=destination["region"] or None,
            access_key_id=secrets["access_key_id"],
            secret_access_key=secrets["secret_access_key"],
            max_attempts=2,
            connect_timeout=5.0,
            read_timeout=30.0,
        )
        try:
            store.put(key, self._blobs.open(blob_key))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "error"), error.get("Message", "")
            raise DeliveryFailed(
                f"destination {where} refused the write of {key}: {code} {message}".strip()
            ) from None
        except (BotoCoreError, Unavailable) as exc:
            raise DeliveryFailed(f"destination {where} could not be written ({exc})") from None
        finally:
            store.close()
