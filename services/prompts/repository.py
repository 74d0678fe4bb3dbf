"""The statements of one unit of work of the prompts service (built in statements.py).

Functions never commit: the handler's unit of work commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.common.database import Session
from services.prompts.models import (
    Feedback,
    Prompt,
    SecurityScan,
)
from services.prompts.statements import (
    ALL_REVISIONS,
    APPEND_VERSION,
    DELETE_PROMPT,
    FEEDBACK_COLUMNS,
    GET_ANY_PROMPT,
    GET_PROMPT,
    GET_PROMPT_BY_REQUEST_ID,
    INSERT_SCAN,
    LIST_VERSIONS,
    LOCK_PROMPT,
    OWNER_REVISION,
    PROMPT_COLUMNS,
    REFRESH_BEST_HEAD,
    SCAN_COLUMNS,
    SCORE_COLUMNS,
    UPSERT_FEEDBACK,
    UPSERT_SCORES,
    VERSION_COLUMNS,
    CreatedVersion,
    create_prompt_params,
    create_statement,
    list_query,
)


class PromptsRepository:
    """The statements of one unit of work, on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def _list(
        self,
        table: Any,
        columns: tuple[Any, ...],
        *,
        owner: str,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        **filters: Any,
    ) -> Sequence[Any]:
        given = {name: value for name, value in filters.items() if value}
        params = {"owner": owner, "limit": limit, **given}
        if after is not None:
            params.update(after_time=after[0], after_id=after[1])
        query = list_query(table, columns, tuple(sorted(given)), after is not None)
        return (await self.session.execute(query, params)).all()

    async def create_prompt(self, prompt: Any) -> tuple[Any, list[Any]] | None:
        """Creates a prompt (rules.NewPrompt) with its versions and their scores in one statement;
        returns (prompt, versions), or None when the owner already has a prompt with this request_id."""
        params = create_prompt_params(prompt)
        rows = (await self.session.execute(create_statement(prompt), params)).all()
        if not rows:
            return None
        created = [
            CreatedVersion(
                *(getattr(r, f"v_{c.key}") for c in VERSION_COLUMNS),
                *(getattr(r, f"s_{c.key}") for c in SCORE_COLUMNS),
            )
            for r in rows
            if r.v_version_no is not None
        ]
        return rows[0], created

    async def get_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """The owner's prompt, or None (another user's prompt is None too)."""
        return (await self.session.execute(GET_PROMPT, {"owner": owner, "prompt_id": prompt_id})).first()

    async def get_any_prompt(self, *, prompt_id: uuid.UUID) -> Any | None:
        """Any user's prompt, or None: for an admin's export only (DESIGN rule 4)."""
        return (await self.session.execute(GET_ANY_PROMPT, {"prompt_id": prompt_id})).first()

    async def get_prompt_by_request_id(self, *, owner: str, request_id: str) -> Any | None:
        """The owner's prompt with this request id, or None."""
        params = {"owner": owner, "request_id": request_id}
        return (await self.session.execute(GET_PROMPT_BY_REQUEST_ID, params)).first()

    async def prompt_with_versions_by_request_id(
        self, *, owner: str, request_id: str
    ) -> tuple[Any, Sequence[Any]] | None:
        """The owner's prompt with this request id and its versions, read together (one transaction,
        or a savepoint inside the caller's), or None."""
        async with self.session.connection.transaction():
            prompt = await self.get_prompt_by_request_id(owner=owner, request_id=request_id)
            return None if prompt is None else (prompt, await self.list_versions(prompt_id=prompt.id))

    async def list_versions(self, *, prompt_id: uuid.UUID) -> Sequence[Any]:
        """A prompt's versions in order, each with its score columns (None when unscored)."""
        return (await self.session.execute(LIST_VERSIONS, {"prompt_id": prompt_id})).all()

    async def list_prompts(
        self,
        *,
        owner: str,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        text_contains: str | None,
        agent_type: str | None,
    ) -> Sequence[Any]:
        """The owner's prompts, newest first, after a keyset cursor."""
        pattern = None
        if text_contains:
            pattern = "%" + text_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return await self._list(
            Prompt,
            PROMPT_COLUMNS,
            owner=owner,
            limit=limit,
            after=after,
            text_contains=pattern,
            agent_type=agent_type,
        )

    async def delete_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> bool:
        """Deletes the prompt and (by cascade) its versions, scores and feedback."""
        deleted = await self.session.execute(DELETE_PROMPT, {"owner": owner, "prompt_id": prompt_id})
        return deleted.first() is not None

    async def append_version(
        self,
        *,
        owner: str,
        prompt_id: uuid.UUID,
        text_: str,
        source: str,
        explanation: dict[str, Any] | None,
        parent_version_no: int | None,
        added_bytes: int,
        max_bytes: int,
    ) -> Any | None:
        """Takes the next version number under the prompt's row lock and inserts the version.

        None when the prompt is not the owner's, the parent does not exist yet, or the prompt's
        size would pass `max_bytes`.
        """
        params = {
            "owner": owner,
            "prompt_id": prompt_id,
            "min_version_count": parent_version_no or 0,
            "added_bytes": added_bytes,
            "max_bytes": max_bytes,
            "text": text_,
            "source": source,
            "explanation": explanation,
            "parent_version_no": parent_version_no,
        }
        return (await self.session.execute(APPEND_VERSION, params)).first()

    async def lock_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """Locks the owner's prompt row for the rest of the transaction (serialises score writes)."""
        return (await self.session.execute(LOCK_PROMPT, {"owner": owner, "prompt_id": prompt_id})).first()

    async def upsert_scores(self, *, prompt_id: uuid.UUID, version_no: int, scores: dict[str, float]) -> Any:
        """Sets a version's scores, replacing earlier ones; returns the stored scores."""
        params = {"prompt_id": prompt_id, "version_no": version_no, **scores}
        return (await self.session.execute(UPSERT_SCORES, params)).one()

    async def refresh_best_head(self, *, owner: str, prompt_id: uuid.UUID) -> Any:
        """Recomputes the best head from the stored scores and bumps the revision."""
        return (await self.session.execute(REFRESH_BEST_HEAD, {"owner": owner, "prompt_id": prompt_id})).one()

    async def upsert_feedback(
        self, *, owner: str, request_id: str, user_choice: str, judge_winner: str, agent_winner: str
    ) -> Any | None:
        """Stores the owner's feedback on their prompt with `request_id`, replacing an earlier one.

        None when the owner has no prompt with that request id. judge_correct is derived here.
        """
        params = {
            "owner": owner,
            "request_id": request_id,
            "user_choice": user_choice,
            "judge_winner": judge_winner,
            "agent_winner": agent_winner,
            "judge_correct": judge_winner == agent_winner,
        }
        return (await self.session.execute(UPSERT_FEEDBACK, params)).first()

    async def list_feedback(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None, request_id: str | None
    ) -> Sequence[Any]:
        """The owner's feedback, newest first."""
        return await self._list(
            Feedback, FEEDBACK_COLUMNS, owner=owner, limit=limit, after=after, request_id=request_id
        )

    async def insert_security_scan(
        self, *, owner: str, input_text: str, risk_score: float, label: str
    ) -> Any:
        """Records a scan."""
        params = {"owner": owner, "input_text": input_text, "risk_score": risk_score, "label": label}
        return (await self.session.execute(INSERT_SCAN, params)).one()

    async def list_security_scans(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """The owner's scans, newest first."""
        return await self._list(SecurityScan, SCAN_COLUMNS, owner=owner, limit=limit, after=after)

    async def dataset_revision(self, *, owner: str | None) -> str:
        """The owner's write counter; for every user, the sum of all counters and their number."""
        if owner is not None:
            return f"u{(await self.session.execute(OWNER_REVISION, {'owner': owner})).scalar() or 0}"
        total, owners = (await self.session.execute(ALL_REVISIONS)).one()
        return f"a{total}.{owners}"
