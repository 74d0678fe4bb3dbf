"""Helpers of the files tests: URLs with the name percent-encoded, uploads that must succeed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tests.support.system import User


def file_url(chat_id: str, filename: str) -> str:
    """The file's URL; "." and ".." are percent-encoded, or clients would resolve them as dot segments."""
    encoded = "%2E" * len(filename) if filename in (".", "..") else quote(filename, safe="")
    return f"/api/v1/chats/{chat_id}/files/{encoded}"


def put(user: User, chat_id: str, filename: str, content: bytes | str, **kwargs: Any) -> httpx.Response:
    return user.http.put(file_url(chat_id, filename), content=content, **kwargs)


def stored(user: User, chat_id: str, filename: str, content: bytes | str, **kwargs: Any) -> dict[str, Any]:
    """Uploads a file that must be accepted; returns its metadata."""
    reply = put(user, chat_id, filename, content, **kwargs)
    assert reply.status_code in (200, 201), reply.text
    return reply.json()  # type: ignore[no-any-return]


def reason(reply: httpx.Response) -> str:
    """The ErrorInfo reason of an error reply (the first detail's)."""
    details = reply.json()["error"]["details"]
    return str(details[0]["reason"]) if details else ""
