"""Storage quotas: the bytes of a user's chat files, counted in the transaction of every write.

Each write that changes what a user stores adds the difference to the user's usage row in its own
transaction, after its chat and file locks (one lock order for every writer). The row's lock is
held until commit, so racing uploads of one user are counted one at a time: the second sees the
first's bytes, and one that would cross the quota fails with nothing stored (its pieces roll back
with it). Artifacts are not counted: they are bounded per artifact (4 MiB of JSON) and are not
"files" a user uploads. A write that shrinks what is stored is always allowed, even over a quota
an admin lowered since.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import InvalidArgument, NotFound, ResourceExhausted
from services.files.repository import FilesRepository

# Uploads announcing at most this many bytes are not prechecked: what the check spares them (taking
# in and spooling their bytes) costs less than its round trip, which every small upload would pay;
# charge() refuses them at commit all the same, with the same error.
PRECHECK_ABOVE_BYTES = 512 * 1024


@dataclass(frozen=True)
class Standing:
    """A user's usage and the quota that applies (0: none); overridden when it is the user's own."""

    used_bytes: int
    quota_bytes: int
    overridden: bool


def exceeded(*, quota: int, used: int, adding: int) -> ResourceExhausted:
    """QUOTA_EXCEEDED with the quota and the usage before the write in the ErrorInfo metadata."""
    return ResourceExhausted(
        f"storing {adding} more bytes would take this user's files to {used + adding} bytes, over the "
        f"quota of {quota} bytes ({used} bytes used)",
        reason="QUOTA_EXCEEDED",
        metadata={"quota_bytes": str(quota), "used_bytes": str(used)},
    )


async def charge(repo: FilesRepository, *, owner: str, delta: int, default_quota: int) -> None:
    """Counts a write's change of stored bytes; growth past the quota fails the write's transaction."""
    if delta == 0:
        return
    usage = await repo.add_usage(owner=owner, delta=delta)
    quota = default_quota if usage.override is None else usage.override
    if delta > 0 and quota and usage.used_bytes > quota:
        raise exceeded(quota=quota, used=usage.used_bytes - delta, adding=delta)


async def precheck(
    repo: FilesRepository, *, owner: str, chat_id: str, filename: str, expected_bytes: int, default_quota: int
) -> None:
    """Refuses an upload whose announced size (over PRECHECK_ABOVE_BYTES) cannot fit before its
    bytes are taken in.

    One read without locks: the exact check is charge() at commit; this only spares receiving
    bytes that would be refused anyway.
    """
    seen = await repo.quota_standing(owner=owner, chat_id=chat_id, filename=filename)
    quota = default_quota if seen.override is None else seen.override
    used, adding = seen.used_bytes or 0, expected_bytes - (seen.file_bytes or 0)
    if quota and adding > 0 and used + adding > quota:
        raise exceeded(quota=quota, used=used, adding=adding)


async def standing(repo: FilesRepository, *, owner: str, default_quota: int) -> Standing:
    """The owner's usage and quota."""
    override = await repo.quota_override(owner=owner)
    quota = default_quota if override is None else override
    return Standing(await repo.usage(owner=owner), quota, override is not None)


async def set_quota(
    repo: FilesRepository, *, user_id: str, quota_bytes: int | None, default_quota: int
) -> Standing:
    """Sets (None: removes) a user's own quota; a user who never stored anything is NOT_FOUND.

    Users exist only as token subjects, so the files service knows a user by their data: a
    usage row (a file was stored) or a chat. An override for anyone else is most likely a typo.
    """
    if not user_id or len(user_id) > 255 or not user_id.isprintable():
        raise InvalidArgument("user_id must be 1 to 255 printable characters", field="user_id")
    if quota_bytes is not None and quota_bytes < 0:
        raise InvalidArgument(f"quota_bytes must not be negative, got {quota_bytes}", field="quota_bytes")
    if not await repo.known_user(owner=user_id):
        raise NotFound(f"no user {user_id!r} has stored anything in a chat", reason="USER_NOT_FOUND")
    await repo.set_quota_override(owner=user_id, quota_bytes=quota_bytes)
    return await standing(repo, owner=user_id, default_quota=default_quota)
