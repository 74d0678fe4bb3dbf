"""Seed 004's file paths (`/api/exports/{path}`) turned into export ids, refusing anything that could
walk out of a directory: `..`, absolute paths, NUL, backslashes and empty or `.` segments, however
many times they were percent-encoded."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

from gateway.errors import ApiError

_MAX_DECODINGS = 4  # `%25252e` is `.` after three more decodings; deeper nesting is refused outright


def export_id_of(path: str) -> str | None:
    """The export a seed path names: `<id>`, `<id>.<ext>`, `exports/<id>` (its blob key) or seed 004's
    `exports/<user>/<id>.<ext>`; None when it names no export. ApiError 400 for a path that tries to
    escape. Whose export it is, the exports service decides from the token (another's is 404)."""
    segments = _safe_segments(path)
    folders, name = segments[:-1], segments[-1]
    if not (len(folders) <= 2 and folders[:1] in ([], ["exports"])):
        return None
    try:
        return str(uuid.UUID(name.split(".", 1)[0]))
    except ValueError:
        return None


def _safe_segments(path: str) -> list[str]:
    decoded = path
    for _ in range(_MAX_DECODINGS):
        _refuse_escapes(decoded, path)
        once_more = unquote(decoded)
        if once_more == decoded:
            return decoded.split("/")
        decoded = once_more
    raise _refused(path, "it is percent-encoded too many times")


def _refuse_escapes(candidate: str, path: str) -> None:
    if "\x00" in candidate:
        raise _refused(path, "it holds a NUL character")
    if "\\" in candidate:
        raise _refused(path, "it holds a backslash")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        raise _refused(path, "it is absolute")
    if any(segment in ("", ".", "..") for segment in candidate.split("/")):
        raise _refused(path, "it has an empty, '.' or '..' segment")


def _refused(path: str, why: str) -> ApiError:
    shown = path.encode("unicode_escape").decode()[:200]
    return ApiError(400, "INVALID_ARGUMENT", f"export path {shown!r} is refused: {why}")
