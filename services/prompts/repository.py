"""Every SQL statement of the prompts service. Functions flush nothing and never commit:
the handler's unit of work commits once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts.models import Feedback, OwnerRevision, Prompt, Score, SecurityScan, Version

PROMPT_COLUMNS = (
    Prompt.id,
    Prompt.owner,
    Prompt.request_id,
    Prompt.agent_type,
    Prompt.original_text,
    Prompt.revision,
    Prompt.version_count,
    Prompt.best_version_no,
    Prompt.created_at,
    Prompt.updated_at,
)
VERSION_COLUMNS = (
    Version.version_no,
    Version.text,
    Version.source,
    Version.explanation,
    Version.parent_version_no,
    Version.created_at,
)
SCORE_COLUMNS = (
    Score.clarity,
    Score.specificity,
    Score.actionability,
    Score.structure,
    Score.context_use,
    Score.total,
)


def _bump_owner_revision(owner: str) -> Any:
    """A CTE that counts one more write of `owner` (the revision of the owner's datasets)."""
    return (
        pg_insert(OwnerRevision)
        .values(owner=owner, revision=1)
        .on_conflict_do_update(
            index_elements=[OwnerRevision.owner], set_={"revision": OwnerRevision.revision + 1}
        )
        .returning(OwnerRevision.revision)
        .cte("owner_bump")
    )


class PromptsRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def insert_prompt(
        self,
        *,
        owner: str,
        request_id: str | None,
        agent_type: str | None,
        original_text: str,
        version_count: int,
        best_version_no: int | None,
    ) -> Row[Any] | None:
        """Inserts a prompt; None when the owner already has one with this request_id."""
        stmt = (
            pg_insert(Prompt)
            .values(
                owner=owner,
                request_id=request_id,
                agent_type=agent_type,
                original_text=original_text,
                version_count=version_count,
                best_version_no=best_version_no,
            )
            .on_conflict_do_nothing(index_elements=[Prompt.owner, Prompt.request_id])
            .returning(*PROMPT_COLUMNS)
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).first()

    async def insert_versions(self, *, prompt_id: uuid.UUID, versions: Sequence[dict[str, Any]]) -> None:
        """Inserts versions whose numbers the caller assigned."""
        await self.conn.execute(insert(Version), [{"prompt_id": prompt_id, **v} for v in versions])

    async def insert_scores(self, *, prompt_id: uuid.UUID, scores: Sequence[dict[str, Any]]) -> None:
        """Inserts scores of freshly created versions."""
        await self.conn.execute(insert(Score), [{"prompt_id": prompt_id, **s} for s in scores])

    async def get_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Row[Any] | None:
        """The owner's prompt, or None (another user's prompt is None too)."""
        stmt = select(*PROMPT_COLUMNS).where(Prompt.id == prompt_id, Prompt.owner == owner)
        return (await self.conn.execute(stmt)).first()

    async def get_prompt_by_request_id(self, *, owner: str, request_id: str) -> Row[Any] | None:
        """The owner's prompt with this request id, or None."""
        stmt = select(*PROMPT_COLUMNS).where(Prompt.owner == owner, Prompt.request_id == request_id)
        return (await self.conn.execute(stmt)).first()

    async def list_versions(self, *, prompt_id: uuid.UUID) -> Sequence[Row[Any]]:
        """A prompt's versions in order, each with its scores (None columns when unscored)."""
        stmt = (
            select(*VERSION_COLUMNS, *SCORE_COLUMNS)
            .select_from(Version)
            .outerjoin(
                Score, and_(Score.prompt_id == Version.prompt_id, Score.version_no == Version.version_no)
            )
            .where(Version.prompt_id == prompt_id)
            .order_by(Version.version_no)
        )
        return (await self.conn.execute(stmt)).all()

    async def list_prompts(
        self,
        *,
        owner: str,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        text_contains: str | None,
        agent_type: str | None,
    ) -> Sequence[Row[Any]]:
        """The owner's prompts, newest first, after a keyset cursor."""
        stmt = select(*PROMPT_COLUMNS).where(Prompt.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(Prompt.created_at, Prompt.id) < tuple_(*after))
        if text_contains:
            pattern = "%" + text_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(Prompt.original_text.ilike(pattern, escape="\\"))
        if agent_type:
            stmt = stmt.where(Prompt.agent_type == agent_type)
        stmt = stmt.order_by(Prompt.created_at.desc(), Prompt.id.desc()).limit(limit)
        return (await self.conn.execute(stmt)).all()

    async def delete_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> bool:
        """Deletes the prompt and (by cascade) its versions, scores and feedback."""
        stmt = (
            delete(Prompt)
            .where(Prompt.id == prompt_id, Prompt.owner == owner)
            .returning(Prompt.id)
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def append_version(
        self,
        *,
        owner: str,
        prompt_id: uuid.UUID,
        text_: str,
        source: str,
        explanation: dict[str, Any] | None,
        parent_version_no: int | None,
    ) -> Row[Any] | None:
        """Takes the next version number under the prompt's row lock and inserts the version.

        None when the prompt is not the owner's or the parent does not exist yet.
        """
        claimed = (
            update(Prompt)
            .where(Prompt.id == prompt_id, Prompt.owner == owner)
            .where(Prompt.version_count >= (parent_version_no or 0))
            .values(
                version_count=Prompt.version_count + 1, revision=Prompt.revision + 1, updated_at=func.now()
            )
            .returning(Prompt.id, Prompt.version_count, Prompt.revision)
            .cte("claimed")
        )
        stmt = (
            insert(Version)
            .from_select(
                ["prompt_id", "version_no", "text", "source", "explanation", "parent_version_no"],
                select(
                    claimed.c.id,
                    claimed.c.version_count,
                    _literal(text_, Version.text),
                    _literal(source, Version.source),
                    _literal(explanation, Version.explanation),
                    _literal(parent_version_no, Version.parent_version_no),
                ),
            )
            .returning(*VERSION_COLUMNS, select(claimed.c.revision).scalar_subquery().label("revision"))
            .add_cte(claimed)
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).first()

    async def lock_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Row[Any] | None:
        """Locks the owner's prompt row for the rest of the transaction (serialises score writes)."""
        stmt = select(Prompt.id, Prompt.version_count).where(Prompt.id == prompt_id, Prompt.owner == owner)
        return (await self.conn.execute(stmt.with_for_update())).first()

    async def upsert_scores(
        self, *, prompt_id: uuid.UUID, version_no: int, scores: dict[str, float]
    ) -> Row[Any]:
        """Sets a version's scores, replacing earlier ones; returns the stored scores."""
        stmt = (
            pg_insert(Score)
            .values(prompt_id=prompt_id, version_no=version_no, **scores)
            .on_conflict_do_update(
                index_elements=[Score.prompt_id, Score.version_no], set_={**scores, "updated_at": func.now()}
            )
            .returning(*SCORE_COLUMNS)
        )
        return (await self.conn.execute(stmt)).one()

    async def refresh_best_head(self, *, owner: str, prompt_id: uuid.UUID) -> Row[Any]:
        """Recomputes the best head from the stored scores and bumps the revision."""
        best = (
            select(Score.version_no)
            .where(Score.prompt_id == prompt_id)
            .order_by(Score.total.desc(), Score.version_no.asc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            update(Prompt)
            .where(Prompt.id == prompt_id)
            .values(best_version_no=best, revision=Prompt.revision + 1, updated_at=func.now())
            .returning(Prompt.best_version_no, Prompt.revision)
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).one()

    async def upsert_feedback(
        self, *, owner: str, request_id: str, user_choice: str, judge_winner: str, agent_winner: str
    ) -> Row[Any] | None:
        """Stores the owner's feedback on their prompt with `request_id`, replacing an earlier one.

        None when the owner has no prompt with that request id.
        """
        values = {
            "user_choice": user_choice,
            "judge_winner": judge_winner,
            "agent_winner": agent_winner,
            "judge_correct": judge_winner == agent_winner,
        }
        source = select(
            _literal(owner, Feedback.owner),
            _literal(request_id, Feedback.request_id),
            Prompt.id,
            *(_literal(v, getattr(Feedback, k)) for k, v in values.items()),
        ).where(Prompt.owner == owner, Prompt.request_id == request_id)
        stmt = (
            pg_insert(Feedback)
            .from_select(["owner", "request_id", "prompt_id", *values], source)
            .on_conflict_do_update(
                index_elements=[Feedback.owner, Feedback.request_id],
                set_={**values, "updated_at": func.now()},
            )
            .returning(*FEEDBACK_COLUMNS, text("(xmax = 0) AS inserted"))
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).first()

    async def list_feedback(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None, request_id: str | None
    ) -> Sequence[Row[Any]]:
        """The owner's feedback, newest first."""
        stmt = select(*FEEDBACK_COLUMNS).where(Feedback.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(Feedback.created_at, Feedback.id) < tuple_(*after))
        if request_id:
            stmt = stmt.where(Feedback.request_id == request_id)
        stmt = stmt.order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit)
        return (await self.conn.execute(stmt)).all()

    async def insert_security_scan(
        self, *, owner: str, input_text: str, risk_score: float, label: str
    ) -> Row[Any]:
        """Records a scan."""
        stmt = (
            insert(SecurityScan)
            .values(owner=owner, input_text=input_text, risk_score=risk_score, label=label)
            .returning(*SCAN_COLUMNS)
            .add_cte(_bump_owner_revision(owner))
        )
        return (await self.conn.execute(stmt)).one()

    async def list_security_scans(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Row[Any]]:
        """The owner's scans, newest first."""
        stmt = select(*SCAN_COLUMNS).where(SecurityScan.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(SecurityScan.created_at, SecurityScan.id) < tuple_(*after))
        stmt = stmt.order_by(SecurityScan.created_at.desc(), SecurityScan.id.desc()).limit(limit)
        return (await self.conn.execute(stmt)).all()

    async def dataset_revision(self, *, owner: str | None) -> str:
        """The owner's write counter; for every user, the sum of all counters and their number."""
        if owner is not None:
            stmt = select(OwnerRevision.revision).where(OwnerRevision.owner == owner)
            return f"u{(await self.conn.execute(stmt)).scalar() or 0}"
        stmt = select(func.coalesce(func.sum(OwnerRevision.revision), 0), func.count())
        total, owners = (await self.conn.execute(stmt)).one()
        return f"a{total}.{owners}"


FEEDBACK_COLUMNS = (
    Feedback.id,
    Feedback.request_id,
    Feedback.prompt_id,
    Feedback.user_choice,
    Feedback.judge_winner,
    Feedback.agent_winner,
    Feedback.judge_correct,
    Feedback.created_at,
    Feedback.updated_at,
)
SCAN_COLUMNS = (
    SecurityScan.id,
    SecurityScan.input_text,
    SecurityScan.risk_score,
    SecurityScan.label,
    SecurityScan.created_at,
)


def _literal(value: Any, column: Any) -> Any:
    """A bound value typed like `column`, for INSERT … SELECT."""
    return literal(value, type_=column.type)
