"""Labels: named pointers from a prompt to one of its versions, moved deliberately and remembered.

`best` (the best head) and `latest` (the newest version) are built in: listed and readable like any
label, never set. Every other label is a row moved under its row lock, each move written to the
label's history in the same transaction; that history answers "which version was `production` at
this moment" (`as_of`). A label move leaves the prompt's revision alone: the revision is the key of
the prompt's exports, which show versions and scores, not labels; a label has its own revision.
Every label write does move the owner's revision, the key of the account's takeout, which holds them.
Plain Python over the repository: no grpc, no commits.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, echo
from services.common.ids import parse_id
from services.common.limits import LABEL_NAME_PATTERN, MAX_LABELS_PER_PROMPT
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.prompts.label_repository import LabelsRepository

LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
BUILTINS = ("best", "latest")
# A version named in a path or a diff: a number, or a label's name.
VersionRef = int | str


@dataclass(frozen=True)
class LabelView:
    """A label as callers see it; a built-in has no updater and the prompt's revision."""

    name: str
    version_no: int | None
    protected: bool
    revision: int
    updated_at: datetime
    updated_by: str
    builtin: bool = False


def check_name(name: str, *, settable: bool = False) -> str:
    """A label name of the contract's form; with `settable`, not a built-in either."""
    if not LABEL_NAME.fullmatch(name) or name.isdigit():
        raise InvalidArgument(
            f"label must match {LABEL_NAME_PATTERN} and not be all digits, got {echo(name)}",
            reason="INVALID_LABEL",
            field="label",
        )
    if settable and name in BUILTINS:
        raise InvalidArgument(
            f"label {name!r} is built in and read-only: nobody sets or deletes it",
            reason="BUILTIN_LABEL",
            field="label",
        )
    return name


async def owned_prompt(repo: LabelsRepository, *, owner: str, prompt_id: str, lock: bool = False) -> Any:
    """The owner's prompt row, or NotFound (another user's prompt too). With `lock`, the row stays
    locked as an append locks it, so the label change takes its turn among the prompt's changes and
    its event is placed in commit order."""
    read = repo.lock_owned_prompt if lock else repo.owned_prompt
    row = await read(owner=owner, prompt_id=parse_id(prompt_id, "prompt"))
    if row is None:
        raise NotFound(f"no prompt with id {echo(prompt_id)}")
    return row


def _view(row: Any) -> LabelView:
    return LabelView(
        name=row.name,
        version_no=row.version_no,
        protected=row.protected,
        revision=row.revision,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def builtin_view(prompt: Any, name: str) -> LabelView:
    """`best` or `latest` of a prompt row; their revision is the prompt's, which every write bumps."""
    version_no = prompt.best_version_no if name == "best" else prompt.version_count or None
    return LabelView(
        name=name,
        version_no=version_no,
        protected=True,
        revision=prompt.revision,
        updated_at=prompt.updated_at,
        updated_by="",
        builtin=True,
    )


def _check_version(prompt: Any, version_no: int) -> None:
    if not 1 <= version_no <= prompt.version_count:
        known = f"1 to {prompt.version_count}" if prompt.version_count else "none yet"
        raise InvalidArgument(
            f"version_no {version_no} names no version of prompt {prompt.id} (it has {known})",
            reason="NO_SUCH_VERSION",
            field="version_no",
        )


def _check_revision(current: Any | None, expected: int, name: str) -> None:
    if not expected:
        return
    if current is None or current.revision != expected:
        now = "is not set" if current is None else f"is at revision {current.revision}"
        raise FailedPrecondition(
            f"label {name!r} {now}, not {expected}: it moved meanwhile; read it again",
            reason="LABEL_MOVED",
            field="revision",
        )


def _check_may_write(*, protected: bool, is_admin: bool, name: str) -> None:
    if protected and not is_admin:
        raise PermissionDenied(
            f"label {name!r} is protected: only an admin moves, deletes or protects it",
            reason="LABEL_PROTECTED",
            field="label",
        )


async def set_label(
    repo: LabelsRepository,
    *,
    owner: str,
    is_admin: bool,
    prompt_id: str,
    name: str,
    version_no: int,
    protected: bool | None,
    expected_revision: int,
) -> LabelView:
    """Points a label at a version under the label's row lock and records the move."""
    check_name(name, settable=True)
    prompt = await owned_prompt(repo, owner=owner, prompt_id=prompt_id, lock=True)
    _check_version(prompt, version_no)
    current = await repo.lock_label(prompt_id=prompt.id, name=name)
    if current is None:
        _check_revision(None, expected_revision, name)
        _check_may_write(protected=bool(protected), is_admin=is_admin, name=name)
        # Counted under the prompt's row lock, which every label write of the prompt takes first.
        if await repo.count_labels(prompt_id=prompt.id) >= MAX_LABELS_PER_PROMPT:
            raise FailedPrecondition(
                f"prompt {prompt.id} holds {MAX_LABELS_PER_PROMPT} labels, the most a prompt may hold:"
                " move one of them, or delete one first",
                reason="LABEL_LIMIT",
                field="label",
            )
        created = await repo.insert_label(
            owner=owner,
            prompt_id=prompt.id,
            name=name,
            version_no=version_no,
            protected=bool(protected),
            by=owner,
        )
        if created is not None:
            await repo.record_move(
                prompt_id=prompt.id, name=name, from_version_no=None, to_version_no=version_no, by=owner
            )
            return _view(created)
        # A concurrent call created it first and has committed (the insert waited for it): move it.
        current = await repo.lock_label(prompt_id=prompt.id, name=name)
        assert current is not None
    _check_revision(current, expected_revision, name)
    wanted = current.protected if protected is None else protected
    _check_may_write(protected=current.protected or wanted, is_admin=is_admin, name=name)
    if current.version_no == version_no and current.protected == wanted:
        return _view(current)  # nothing changes: no move, no new revision
    updated = await repo.update_label(
        owner=owner, prompt_id=prompt.id, name=name, version_no=version_no, protected=wanted, by=owner
    )
    if current.version_no != version_no:
        await repo.record_move(
            prompt_id=prompt.id,
            name=name,
            from_version_no=current.version_no,
            to_version_no=version_no,
            by=owner,
        )
    return _view(updated)


async def delete_label(
    repo: LabelsRepository, *, owner: str, is_admin: bool, prompt_id: str, name: str, expected_revision: int
) -> None:
    """Deletes a label; its history ends with a move to nothing."""
    check_name(name, settable=True)
    prompt = await owned_prompt(repo, owner=owner, prompt_id=prompt_id, lock=True)
    current = await repo.lock_label(prompt_id=prompt.id, name=name)
    if current is None:
        raise NotFound(f"prompt {prompt.id} has no label {name!r}")
    _check_revision(current, expected_revision, name)
    _check_may_write(protected=current.protected, is_admin=is_admin, name=name)
    await repo.delete_label(owner=owner, prompt_id=prompt.id, name=name)
    await repo.record_move(
        prompt_id=prompt.id, name=name, from_version_no=current.version_no, to_version_no=None, by=owner
    )


async def list_labels(repo: LabelsRepository, *, owner: str, prompt_id: str) -> list[LabelView]:
    """The built-ins, then the prompt's labels by name."""
    prompt = await owned_prompt(repo, owner=owner, prompt_id=prompt_id)
    return [builtin_view(prompt, b) for b in BUILTINS] + await own_labels(repo, prompt_id=prompt.id)


async def own_labels(repo: LabelsRepository, *, prompt_id: uuid.UUID) -> list[LabelView]:
    """The labels of a prompt the caller was already allowed to read, by name, without the built-ins."""
    return [_view(r) for r in await repo.list_labels(prompt_id=prompt_id)]


async def label_history(
    repo: LabelsRepository, *, owner: str, prompt_id: str, name: str, size: int, token: str
) -> Page:
    """A label's moves, newest first (a deleted label's too; a built-in has none recorded)."""
    check_name(name)
    prompt = await owned_prompt(repo, owner=owner, prompt_id=prompt_id)
    limit = page_size(size)
    after = decode_cursor(token, key=int)
    rows = await repo.history(
        prompt_id=prompt.id, name=name, limit=limit + 1, before_id=after[1] if after else None
    )
    return paged(rows, limit, lambda row: (row.moved_at, row.id))


async def resolve(
    repo: LabelsRepository, prompt: Any, ref: VersionRef, *, as_of: datetime | None = None
) -> tuple[int, LabelView | None]:
    """The version number a reference names, with the label read through (None by number or as_of)."""
    if isinstance(ref, int):
        if as_of is not None:
            raise InvalidArgument("as_of goes with a label, not a version number", field="as_of")
        if not 1 <= ref <= prompt.version_count:
            raise NotFound(f"prompt {prompt.id} has no version {ref}")
        return ref, None
    name = check_name(ref)
    if as_of is not None:
        return await _resolve_as_of(repo, prompt, name, as_of), None
    if name in BUILTINS:
        view = builtin_view(prompt, name)
    else:
        row = await repo.get_label(prompt_id=prompt.id, name=name)
        view = _view(row) if row is not None else None
    if view is None or view.version_no is None:
        raise NotFound(f"prompt {prompt.id} has no label {name!r}" + (" yet" if view else ""))
    return view.version_no, view


async def _resolve_as_of(repo: LabelsRepository, prompt: Any, name: str, as_of: datetime) -> int:
    if name == "best":
        raise InvalidArgument("as_of is not kept for the built-in label 'best'", field="as_of")
    if name == "latest":
        version_no = await repo.latest_at(prompt_id=prompt.id, as_of=as_of)
    else:
        move = await repo.label_at(prompt_id=prompt.id, name=name, as_of=as_of)
        version_no = move.to_version_no if move is not None else None
    if version_no is None:
        raise NotFound(f"label {name!r} of prompt {prompt.id} pointed at no version at {as_of.isoformat()}")
    return int(version_no)
