"""Request and response bodies of the files routes (they also make /openapi.json).

Only shapes and types live here; the limits (name rules, metadata size, table size) are the files
service's, so they are checked once, there, with the same messages for REST and gRPC callers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gateway.schemas import Body

INT32_MAX = 2**31 - 1
Scalar = str | int | float | bool | None


class FileUpdateIn(Body):
    """Fields present are set: a null description or metadata clears it."""

    description: str | None = None
    metadata: Any = Field(default=None, description="A JSON object, or null to clear it.")


class ReplaceIn(Body):
    old: str = Field(min_length=1, description="The text to find.")
    new: str = Field(description="The text to put in its place; may be empty.")
    count: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Replace the first this many; absent: every occurrence."
    )


class ArtifactIn(Body):
    title: str
    columns: list[str]
    rows: list[list[Scalar]] = Field(default_factory=list)


class ChatFileOut(BaseModel):
    id: str
    chat_id: str
    filename: str
    file_type: str = Field(
        description="A label: `?file_type=` on upload, else known from the extension (python, markdown, "
        "csv, json, …), else `text` for text/* media and `binary` for any other."
    )
    media_type: str = Field(
        description="Content-Type of the upload; absent or curl's default form type: guessed from the name."
    )
    size_bytes: int
    sha256: str
    description: str | None
    metadata: dict[str, Any] | None
    revision: int
    created_at: str
    updated_at: str


class ChatFileList(BaseModel):
    items: list[ChatFileOut]
    next_page_token: str


class ChatOut(BaseModel):
    chat_id: str
    revision: int
    file_count: int
    artifact_count: int
    created_at: str
    updated_at: str


class ChatList(BaseModel):
    items: list[ChatOut]
    next_page_token: str
    used_bytes: int = Field(description="The bytes of all the caller's chat files (artifacts not counted).")
    quota_bytes: int = Field(description="The caller's storage quota in bytes; 0: no limit.")


class QuotaIn(Body):
    quota_bytes: int | None = Field(
        ge=0, le=2**63 - 1, description="The user's quota in bytes (0: no limit); null: the deployment's."
    )


class QuotaOut(BaseModel):
    user_id: str
    quota_bytes: int = Field(description="The quota that now applies; 0: no limit.")
    used_bytes: int
    overridden: bool = Field(description="True when the quota is the user's own, not the deployment's.")


class ReplaceOut(ChatFileOut):
    replacements: int


class ArtifactOut(BaseModel):
    id: str
    chat_id: str
    title: str
    columns: list[str]
    rows: list[list[Scalar]] | None = None
    row_count: int
    revision: int
    created_at: str


class ArtifactList(BaseModel):
    items: list[ArtifactOut]
    next_page_token: str
