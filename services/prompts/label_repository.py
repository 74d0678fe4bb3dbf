"""The SQL of labels, their history and single-version reads (prompts schema).

Functions never commit: the handler's unit of work commits once. A label's writes run under the
label's row lock (SELECT … FOR UPDATE), so concurrent moves of one label take turns and each
records its move from the version the previous one left. Before it, a move takes the prompt's row
lock in the mode an append takes it (FOR NO KEY UPDATE): every change of one prompt takes turns, so
the events they write are placed in commit order (services/common/events).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Query, Session
from services.prompts.models import Label, LabelMove, Prompt, Score, Version
from services.prompts.rules import VERSION_OVERHEAD_BYTES
from services.prompts.statements import owner_bump

RESTORED_SOURCE = "restore"

LABEL_COLUMNS = (
    Label.name,
    Label.version_no,
    Label.protected,
    Label.revision,
    Label.updated_at,
    Label.updated_by,
)
_THIS_LABEL = and_(Label.prompt_id == bindparam("prompt_id"), Label.name == bindparam("name"))

_SELECT_OWNED_PROMPT = select(
    Prompt.id, Prompt.version_count, Prompt.best_version_no, Prompt.revision, Prompt.updated_at
).where(Prompt.id == bindparam("prompt_id"), Prompt.owner == bindparam("owner"))
_OWNED_PROMPT = Query(_SELECT_OWNED_PROMPT)
_LOCK_OWNED_PROMPT = Query(_SELECT_OWNED_PROMPT.with_for_update(key_share=True))
_GET_LABEL = Query(select(*LABEL_COLUMNS).where(_THIS_LABEL))
_LOCK_LABEL = Query(select(*LABEL_COLUMNS).where(_THIS_LABEL).with_for_update())
_INSERT_LABEL = Query(
    pg_insert(Label)
    .values(
        prompt_id=bindparam("prompt_id"),
        name=bindparam("name"),
        version_no=bindparam("version_no"),
        protected=bindparam("protected"),
        updated_by=bindparam("by"),
    )
    .on_conflict_do_nothing(index_elements=[Label.prompt_id, Label.name])
    .returning(*LABEL_COLUMNS)
    .add_cte(owner_bump())
)
_UPDATE_LABEL = Query(
    update(Label)
    .where(_THIS_LABEL)
    .values(
        version_no=bindparam("version_no"),
        protected=bindparam("protected"),
        revision=func.nextval("prompts.label_revisions"),
        updated_at=func.now(),
        updated_by=bindparam("by"),
    )
    .returning(*LABEL_COLUMNS)
    .add_cte(owner_bump())
)
_DELETE_LABEL = Query(delete(Label).where(_THIS_LABEL).add_cte(owner_bump()))
# clock_timestamp(), not now(): a move waits for the label's lock, so the time it is recorded at
# follows the order the moves took (their ids), which `as_of` relies on.
_RECORD_MOVE = Query(
    insert(LabelMove).values(
        prompt_id=bindparam("prompt_id"),
        label=bindparam("name"),
        from_version_no=bindparam("from_version_no"),
        to_version_no=bindparam("to_version_no"),
        moved_at=func.clock_timestamp(),
        moved_by=bindparam("by"),
    )
)
_LIST_LABELS = Query(
    select(*LABEL_COLUMNS).where(Label.prompt_id == bindparam("prompt_id")).order_by(Label.name)
)
_COUNT_LABELS = Query(
    select(func.count()).select_from(Label).where(Label.prompt_id == bindparam("prompt_id"))
)
_MOVE_COLUMNS = (
    LabelMove.id,
    LabelMove.from_version_no,
    LabelMove.to_version_no,
    LabelMove.moved_at,
    LabelMove.moved_by,
)
_THIS_LABELS_MOVES = and_(LabelMove.prompt_id == bindparam("prompt_id"), LabelMove.label == bindparam("name"))
_HISTORY = Query(
    select(*_MOVE_COLUMNS)
    .where(_THIS_LABELS_MOVES, LabelMove.id < bindparam("before_id"))
    .order_by(LabelMove.id.desc())
    .limit(bindparam("limit"))
)
_LABEL_AT = Query(
    select(*_MOVE_COLUMNS)
    .where(_THIS_LABELS_MOVES, LabelMove.moved_at <= bindparam("as_of"))
    .order_by(LabelMove.id.desc())
    .limit(1)
)
_LATEST_AT = Query(
    select(func.max(Version.version_no)).where(
        Version.prompt_id == bindparam("prompt_id"), Version.created_at <= bindparam("as_of")
    )
)
_GET_VERSION = Query(
    select(
        Version.version_no,
        Version.text,
        Version.source,
        Version.explanation,
        Version.parent_version_no,
        Version.model_config,
        Version.created_at,
        Score.total,
    )
    .select_from(Version)
    .outerjoin(Score, and_(Score.prompt_id == Version.prompt_id, Score.version_no == Version.version_no))
    .where(Version.prompt_id == bindparam("prompt_id"), Version.version_no == bindparam("version_no"))
)
_SET_MODEL_CONFIG = Query(
    update(Version)
    .where(Version.prompt_id == bindparam("prompt_id"), Version.version_no == bindparam("version_no"))
    .values(model_config=bindparam("model_config", type_=Version.model_config.type))
)


def _restore_version() -> Query:
    """A new version copying an old one's text, explanation and model config, its parent the old one.

    As an append does: the UPDATE takes the prompt's row lock for the next number, counts the copy's
    size against the limit, bumps the prompt's and the owner's revisions.
    """
    old = (
        select(Version.text, Version.explanation, Version.model_config)
        .where(Version.prompt_id == bindparam("prompt_id"), Version.version_no == bindparam("version_no"))
        .cte("old")
    )
    added = select(
        VERSION_OVERHEAD_BYTES
        + func.octet_length(old.c.text)
        + len(RESTORED_SOURCE)
        + func.coalesce(func.octet_length(func.cast(old.c.explanation, Version.text.type)), 0)
        + func.coalesce(func.octet_length(func.cast(old.c.model_config, Version.text.type)), 0)
    ).scalar_subquery()
    claimed = (
        update(Prompt)
        .where(
            Prompt.id == bindparam("prompt_id"),
            Prompt.owner == bindparam("owner"),
            Prompt.size_bytes + added <= bindparam("max_bytes"),
        )
        .values(
            version_count=Prompt.version_count + 1,
            revision=Prompt.revision + 1,
            size_bytes=Prompt.size_bytes + added,
            updated_at=func.now(),
        )
        .returning(Prompt.id, Prompt.version_count, Prompt.revision)
        .cte("claimed")
    )
    bump = owner_bump()
    inserted = (
        insert(Version)
        .from_select(
            ["prompt_id", "version_no", "text", "source", "explanation", "parent_version_no", "model_config"],
            select(
                claimed.c.id,
                claimed.c.version_count,
                old.c.text,
                bindparam("source", RESTORED_SOURCE, type_=Version.source.type),
                old.c.explanation,
                bindparam("version_no", type_=Version.version_no.type),
                old.c.model_config,
            ).select_from(claimed.join(old, true())),
        )
        .returning(
            Version.version_no,
            Version.text,
            Version.source,
            Version.explanation,
            Version.parent_version_no,
            Version.model_config,
            Version.created_at,
            select(claimed.c.revision).scalar_subquery().label("revision"),
        )
        .add_cte(old)
        .add_cte(claimed)
        .add_cte(bump)
    )
    return Query(inserted)


_RESTORE_VERSION = _restore_version()


class LabelsRepository:
    """The label and version-read statements of one unit of work, on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def owned_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """The owner's prompt (id, version_count, best_version_no, revision, updated_at), or None."""
        return (await self.session.execute(_OWNED_PROMPT, {"owner": owner, "prompt_id": prompt_id})).first()

    async def lock_owned_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """As owned_prompt, with the prompt's row locked FOR NO KEY UPDATE until the transaction ends."""
        params = {"owner": owner, "prompt_id": prompt_id}
        return (await self.session.execute(_LOCK_OWNED_PROMPT, params)).first()

    async def get_label(self, *, prompt_id: uuid.UUID, name: str) -> Any | None:
        """The label, or None when it is not set."""
        return (await self.session.execute(_GET_LABEL, {"prompt_id": prompt_id, "name": name})).first()

    async def lock_label(self, *, prompt_id: uuid.UUID, name: str) -> Any | None:
        """The label, locked for the rest of the transaction, or None when it is not set."""
        return (await self.session.execute(_LOCK_LABEL, {"prompt_id": prompt_id, "name": name})).first()

    async def insert_label(
        self, *, owner: str, prompt_id: uuid.UUID, name: str, version_no: int, protected: bool, by: str
    ) -> Any | None:
        """Creates the label (a write of the owner's: their revision moves); None when a concurrent
        call created it first."""
        params = {
            "owner": owner,
            "prompt_id": prompt_id,
            "name": name,
            "version_no": version_no,
            "protected": protected,
            "by": by,
        }
        return (await self.session.execute(_INSERT_LABEL, params)).first()

    async def update_label(
        self, *, owner: str, prompt_id: uuid.UUID, name: str, version_no: int, protected: bool, by: str
    ) -> Any:
        """Points the (locked) label at a version with a new revision (the owner's moves too)."""
        params = {
            "owner": owner,
            "prompt_id": prompt_id,
            "name": name,
            "version_no": version_no,
            "protected": protected,
            "by": by,
        }
        return (await self.session.execute(_UPDATE_LABEL, params)).one()

    async def delete_label(self, *, owner: str, prompt_id: uuid.UUID, name: str) -> None:
        """Deletes the (locked) label (the owner's revision moves)."""
        await self.session.execute(_DELETE_LABEL, {"owner": owner, "prompt_id": prompt_id, "name": name})

    async def record_move(
        self,
        *,
        prompt_id: uuid.UUID,
        name: str,
        from_version_no: int | None,
        to_version_no: int | None,
        by: str,
    ) -> None:
        """Adds a move to the label's history."""
        params = {
            "prompt_id": prompt_id,
            "name": name,
            "from_version_no": from_version_no,
            "to_version_no": to_version_no,
            "by": by,
        }
        await self.session.execute(_RECORD_MOVE, params)

    async def list_labels(self, *, prompt_id: uuid.UUID) -> Sequence[Any]:
        """The prompt's labels by name."""
        return (await self.session.execute(_LIST_LABELS, {"prompt_id": prompt_id})).all()

    async def count_labels(self, *, prompt_id: uuid.UUID) -> int:
        """How many labels the prompt holds (the built-ins are not rows)."""
        return int((await self.session.execute(_COUNT_LABELS, {"prompt_id": prompt_id})).scalar_one())

    async def history(
        self, *, prompt_id: uuid.UUID, name: str, limit: int, before_id: int | None
    ) -> Sequence[Any]:
        """The label's moves, newest first, older than the move `before_id`."""
        params = {"prompt_id": prompt_id, "name": name, "limit": limit, "before_id": before_id or 2**63 - 1}
        return (await self.session.execute(_HISTORY, params)).all()

    async def label_at(self, *, prompt_id: uuid.UUID, name: str, as_of: datetime) -> Any | None:
        """The label's last move at or before `as_of`, or None when it had never moved by then."""
        params = {"prompt_id": prompt_id, "name": name, "as_of": as_of}
        return (await self.session.execute(_LABEL_AT, params)).first()

    async def latest_at(self, *, prompt_id: uuid.UUID, as_of: datetime) -> int | None:
        """The prompt's newest version number created at or before `as_of`."""
        return (await self.session.execute(_LATEST_AT, {"prompt_id": prompt_id, "as_of": as_of})).scalar()

    async def get_version(self, *, prompt_id: uuid.UUID, version_no: int) -> Any | None:
        """One version with its model config and total score (None when unscored)."""
        params = {"prompt_id": prompt_id, "version_no": version_no}
        return (await self.session.execute(_GET_VERSION, params)).first()

    async def set_model_config(
        self, *, prompt_id: uuid.UUID, version_no: int, model_config: dict[str, Any] | None
    ) -> None:
        """Stores the model config of a version this unit of work just created."""
        params = {"prompt_id": prompt_id, "version_no": version_no, "model_config": model_config}
        await self.session.execute(_SET_MODEL_CONFIG, params)

    async def restore_version(
        self, *, owner: str, prompt_id: uuid.UUID, version_no: int, max_bytes: int
    ) -> Any | None:
        """Appends a copy of `version_no` (see _restore_version) with the prompt's new revision; None
        when the copy would pass `max_bytes`."""
        params = {"owner": owner, "prompt_id": prompt_id, "version_no": version_no, "max_bytes": max_bytes}
        return (await self.session.execute(_RESTORE_VERSION, params)).first()
