"""Use cases on one version named by number or label: read, restore, render, diff.

Plain Python over the repository: no grpc, no commits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.errors import NotFound, ResourceExhausted
from services.prompts import diffs, templates
from services.prompts.label_repository import LabelsRepository
from services.prompts.labels import LabelView, VersionRef, owned_prompt, resolve


@dataclass(frozen=True)
class VersionRead:
    """A version row (with model_config and its score total) and the label it was read through."""

    version: Any
    label: LabelView | None
    prompt_id: Any  # the prompt's UUID


@dataclass(frozen=True)
class DiffView:
    from_version_no: int
    to_version_no: int
    diff: diffs.Diff
    score_change: float | None
    from_model_config: Any
    to_model_config: Any


async def _read(
    repo: LabelsRepository, *, owner: str, prompt_id: str, ref: VersionRef, as_of: datetime | None = None
) -> VersionRead:
    prompt = await owned_prompt(repo, owner=owner, prompt_id=prompt_id)
    version_no, label = await resolve(repo, prompt, ref, as_of=as_of)
    row = await repo.get_version(prompt_id=prompt.id, version_no=version_no)
    if row is None:  # the prompt was deleted after its row was read
        raise NotFound(f"prompt {prompt_id} has no version {version_no}")
    return VersionRead(row, label, prompt.id)


async def get_version(
    repo: LabelsRepository, *, owner: str, prompt_id: str, ref: VersionRef, as_of: datetime | None
) -> VersionRead:
    """One version by number or label; a label as of a past moment reads its history."""
    return await _read(repo, owner=owner, prompt_id=prompt_id, ref=ref, as_of=as_of)


async def restore_version(
    repo: LabelsRepository, *, owner: str, prompt_id: str, ref: VersionRef, max_prompt_bytes: int
) -> Any:
    """A new version with an old one's text, explanation and model config; its parent is the old one."""
    old = await _read(repo, owner=owner, prompt_id=prompt_id, ref=ref)
    version_no = old.version.version_no
    row = await repo.restore_version(
        owner=owner, prompt_id=old.prompt_id, version_no=version_no, max_bytes=max_prompt_bytes
    )
    if row is None:
        raise ResourceExhausted(
            f"prompt {prompt_id} has no room for a copy of version {version_no} within the limit of"
            f" {max_prompt_bytes:,} bytes per prompt; start a new prompt",
            reason="TOO_LARGE",
        )
    return row


async def render_version(
    repo: LabelsRepository, *, owner: str, prompt_id: str, ref: VersionRef, values: dict[str, str]
) -> tuple[int, templates.Rendered]:
    """The version's text with its variables filled in."""
    read = await _read(repo, owner=owner, prompt_id=prompt_id, ref=ref)
    return read.version.version_no, templates.render(read.version.text, values)


async def diff_versions(
    repo: LabelsRepository, *, owner: str, prompt_id: str, old: VersionRef, new: VersionRef
) -> DiffView:
    """Line and word diffs between two versions, and the change of their total score."""
    a = (await _read(repo, owner=owner, prompt_id=prompt_id, ref=old)).version
    b = (await _read(repo, owner=owner, prompt_id=prompt_id, ref=new)).version
    computed = await asyncio.to_thread(
        diffs.diff,
        a.text,
        b.text,
        old_no=a.version_no,
        new_no=b.version_no,
        old_config=a.model_config,
        new_config=b.model_config,
    )
    change = None if a.total is None or b.total is None else b.total - a.total
    return DiffView(a.version_no, b.version_no, computed, change, a.model_config, b.model_config)
