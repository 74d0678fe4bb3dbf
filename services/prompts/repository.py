"""Every SQL statement of the prompts service, built once at import with named parameters.

Functions never commit: the handler's unit of work commits once. Every write also bumps the
owner's revision counter in the same statement (a data-modifying CTE), so the owner's datasets
get a new revision with no extra round trip.
"""

from __future__ import annotations

import functools
import uuid
from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Double,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Query, Session
from services.prompts.models import (
    SCORE_CRITERIA,
    Feedback,
    OwnerRevision,
    Prompt,
    Score,
    SecurityScan,
    Version,
)

PROMPT_COLUMNS = (
    Prompt.id,
    Prompt.owner,
    Prompt.request_id,
    Prompt.agent_type,
    Prompt.original_text,
    Prompt.revision,
    Prompt.version_count,
    Prompt.best_version_no,
    Prompt.size_bytes,
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


def _owner_bump() -> Any:
    """A CTE counting one more write of the owner (the revision of the owner's datasets)."""
    return (
        pg_insert(OwnerRevision)
        .values(owner=bindparam("owner"), revision=1)
        .on_conflict_do_update(
            index_elements=[OwnerRevision.owner], set_={"revision": OwnerRevision.revision + 1}
        )
        .returning(OwnerRevision.revision)
        .cte("owner_bump")
    )


def _array(name: str, element: Any) -> Any:
    """A list parameter sent as one PostgreSQL array (one column of rows to unnest)."""
    return cast(bindparam(name), ARRAY(element))


_VERSION_FIELDS = ("version_no", "text", "source", "explanation", "parent_version_no")


def _create_prompt() -> Query:
    """A prompt with its versions and their scores in ONE statement: the versions and scores arrive
    as arrays (unnested into rows), and each insert is a data-modifying CTE reading the prompt's id.

    One statement is atomic without BEGIN/COMMIT and makes one round trip; it also holds the
    owner's revision row lock (taken by the bump) only while it runs, so one user's concurrent
    creates do not queue behind each other's transactions. A request_id conflict inserts nothing
    and returns no row.
    """
    prompt = (
        pg_insert(Prompt)
        .values(
            owner=bindparam("owner"),
            request_id=bindparam("request_id"),
            agent_type=bindparam("agent_type"),
            original_text=bindparam("original_text"),
            version_count=bindparam("version_count"),
            best_version_no=bindparam("best_version_no"),
            request_hash=bindparam("request_hash"),
            size_bytes=bindparam("size_bytes"),
        )
        .on_conflict_do_nothing(index_elements=[Prompt.owner, Prompt.request_id])
        .returning(*PROMPT_COLUMNS)
        .cte("prompt")
    )
    new_versions = (
        func.unnest(
            _array("version_nos", Integer),
            _array("texts", Text),
            _array("sources", String),
            _array("explanations", JSONB),
            _array("parent_version_nos", Integer),
        )
        .table_valued(*_VERSION_FIELDS)
        .render_derived(name="new_versions")
    )
    versions = (
        insert(Version)
        .from_select(
            ["prompt_id", *_VERSION_FIELDS],
            select(prompt.c.id, *(new_versions.c[f] for f in _VERSION_FIELDS)).select_from(
                prompt.join(new_versions, true())
            ),
        )
        .returning(*VERSION_COLUMNS)
        .cte("versions")
    )
    new_scores = (
        func.unnest(_array("scored_version_nos", Integer), *(_array(c, Double) for c in SCORE_CRITERIA))
        .table_valued("version_no", *SCORE_CRITERIA)
        .render_derived(name="new_scores")
    )
    scores = (
        insert(Score)
        .from_select(
            ["prompt_id", "version_no", *SCORE_CRITERIA],
            select(prompt.c.id, *(new_scores.c[f] for f in ("version_no", *SCORE_CRITERIA))).select_from(
                prompt.join(new_scores, true())
            ),
        )
        .returning(Score.version_no, *SCORE_COLUMNS)
        .cte("scores")
    )
    rows = (
        select(
            *prompt.c,
            *(versions.c[c.key].label(f"v_{c.key}") for c in VERSION_COLUMNS),
            *(scores.c[c.key].label(f"s_{c.key}") for c in SCORE_COLUMNS),
        )
        .select_from(
            prompt.outerjoin(versions, true()).outerjoin(scores, scores.c.version_no == versions.c.version_no)
        )
        .order_by(versions.c.version_no)
        .add_cte(_owner_bump())
    )
    return Query(rows)


_CREATE_PROMPT = _create_prompt()
# A created version as _LIST_VERSIONS returns it: version columns, then score columns.
CreatedVersion = namedtuple(  # type: ignore[misc]
    "CreatedVersion", [c.key for c in (*VERSION_COLUMNS, *SCORE_COLUMNS)]
)
_OWNED_PROMPT = and_(Prompt.id == bindparam("prompt_id"), Prompt.owner == bindparam("owner"))
_GET_PROMPT = Query(select(*PROMPT_COLUMNS).where(_OWNED_PROMPT))
_GET_ANY_PROMPT = Query(select(*PROMPT_COLUMNS).where(Prompt.id == bindparam("prompt_id")))
_GET_PROMPT_BY_REQUEST_ID = Query(
    select(*PROMPT_COLUMNS, Prompt.request_hash).where(
        Prompt.owner == bindparam("owner"), Prompt.request_id == bindparam("request_id")
    )
)
_LIST_VERSIONS = Query(
    select(*VERSION_COLUMNS, *SCORE_COLUMNS)
    .select_from(Version)
    .outerjoin(Score, and_(Score.prompt_id == Version.prompt_id, Score.version_no == Version.version_no))
    .where(Version.prompt_id == bindparam("prompt_id"))
    .order_by(Version.version_no)
)
_DELETE_PROMPT = Query(delete(Prompt).where(_OWNED_PROMPT).returning(Prompt.id).add_cte(_owner_bump()))
_LOCK_PROMPT = Query(select(Prompt.id, Prompt.version_count).where(_OWNED_PROMPT).with_for_update())


def _append_version() -> Query:
    # The UPDATE takes the prompt's row lock, so concurrent appends get consecutive numbers, and
    # each sees the size the previous one left: together they cannot pass the size limit either.
    claimed = (
        update(Prompt)
        .where(
            _OWNED_PROMPT,
            Prompt.version_count >= bindparam("min_version_count"),
            Prompt.size_bytes + bindparam("added_bytes") <= bindparam("max_bytes"),
        )
        .values(
            version_count=Prompt.version_count + 1,
            revision=Prompt.revision + 1,
            size_bytes=Prompt.size_bytes + bindparam("added_bytes"),
            updated_at=func.now(),
        )
        .returning(Prompt.id, Prompt.version_count, Prompt.revision)
        .cte("claimed")
    )
    inserted = (
        insert(Version)
        .from_select(
            ["prompt_id", "version_no", "text", "source", "explanation", "parent_version_no"],
            select(
                claimed.c.id,
                claimed.c.version_count,
                bindparam("text", type_=Version.text.type),
                bindparam("source", type_=Version.source.type),
                bindparam("explanation", type_=Version.explanation.type),
                bindparam("parent_version_no", type_=Version.parent_version_no.type),
            ),
        )
        .returning(*VERSION_COLUMNS, select(claimed.c.revision).scalar_subquery().label("revision"))
        .add_cte(claimed)
        .add_cte(_owner_bump())
    )
    return Query(inserted)


_APPEND_VERSION = _append_version()
_UPSERT_SCORES = Query(
    pg_insert(Score)
    .values({c: bindparam(c) for c in ("prompt_id", "version_no", *SCORE_CRITERIA)})
    .on_conflict_do_update(
        index_elements=[Score.prompt_id, Score.version_no],
        set_={**{c: literal_column(f"excluded.{c}") for c in SCORE_CRITERIA}, "updated_at": func.now()},
    )
    .returning(*SCORE_COLUMNS)
)
_REFRESH_BEST_HEAD = Query(
    update(Prompt)
    .where(Prompt.id == bindparam("prompt_id"))
    .values(
        best_version_no=select(Score.version_no)
        .where(Score.prompt_id == bindparam("prompt_id"))
        .order_by(Score.total.desc(), Score.version_no.asc())
        .limit(1)
        .scalar_subquery(),
        revision=Prompt.revision + 1,
        updated_at=func.now(),
    )
    .returning(Prompt.best_version_no, Prompt.revision)
    .add_cte(_owner_bump())
)
_FEEDBACK_VALUES = ("user_choice", "judge_winner", "agent_winner", "judge_correct")
_UPSERT_FEEDBACK = Query(
    pg_insert(Feedback)
    .from_select(
        ["owner", "request_id", "prompt_id", *_FEEDBACK_VALUES],
        select(
            Prompt.owner,
            Prompt.request_id,
            Prompt.id,
            *(bindparam(name, type_=getattr(Feedback, name).type) for name in _FEEDBACK_VALUES),
        )
        .where(Prompt.owner == bindparam("owner"), Prompt.request_id == bindparam("request_id"))
        # The prompt's key-share lock first, before the owner's revision row (the bump runs after the
        # insert): a score write holds the prompt, then the owner; the same order cannot deadlock.
        .with_for_update(read=True, key_share=True),
    )
    .on_conflict_do_update(
        index_elements=[Feedback.owner, Feedback.request_id],
        set_={**{c: literal_column(f"excluded.{c}") for c in _FEEDBACK_VALUES}, "updated_at": func.now()},
    )
    .returning(*FEEDBACK_COLUMNS, literal_column("(xmax = 0)").label("inserted"))
    .add_cte(_owner_bump())
)
_INSERT_SCAN = Query(
    insert(SecurityScan)
    .values(
        owner=bindparam("owner"),
        input_text=bindparam("input_text"),
        risk_score=bindparam("risk_score"),
        label=bindparam("label"),
    )
    .returning(*SCAN_COLUMNS)
    .add_cte(_owner_bump())
)
_OWNER_REVISION = Query(select(OwnerRevision.revision).where(OwnerRevision.owner == bindparam("owner")))
_ALL_REVISIONS = Query(select(func.coalesce(func.sum(OwnerRevision.revision), 0), func.count()))


@functools.cache
def _list_query(table: Any, columns: tuple[Any, ...], filters: tuple[str, ...], paged: bool) -> Query:
    """The keyset-paginated list of one owner's rows, for one combination of optional filters."""
    stmt = select(*columns).where(table.owner == bindparam("owner"))
    if paged:
        stmt = stmt.where(
            tuple_(table.created_at, table.id) < tuple_(bindparam("after_time"), bindparam("after_id"))
        )
    for name in filters:
        if name == "text_contains":
            stmt = stmt.where(table.original_text.ilike(bindparam("text_contains"), escape="\\"))
        else:
            stmt = stmt.where(getattr(table, name) == bindparam(name))
    return Query(stmt.order_by(table.created_at.desc(), table.id.desc()).limit(bindparam("limit")))


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
        query = _list_query(table, columns, tuple(sorted(given)), after is not None)
        return (await self.session.execute(query, params)).all()

    async def create_prompt(
        self,
        *,
        owner: str,
        request_id: str | None,
        agent_type: str | None,
        original_text: str,
        best_version_no: int | None,
        request_hash: bytes,
        size_bytes: int,
        versions: Sequence[dict[str, Any]],
        scores: Sequence[dict[str, Any]],
    ) -> tuple[Any, list[Any]] | None:
        """Creates a prompt with its versions and scores in one statement; returns (prompt, versions),
        or None when the owner already has a prompt with this request_id."""
        params: dict[str, Any] = {
            "owner": owner,
            "request_id": request_id,
            "agent_type": agent_type,
            "original_text": original_text,
            "version_count": len(versions),
            "best_version_no": best_version_no,
            "request_hash": request_hash,
            "size_bytes": size_bytes,
            "version_nos": [v["version_no"] for v in versions],
            "texts": [v["text"] for v in versions],
            "sources": [v["source"] for v in versions],
            "explanations": [v["explanation"] for v in versions],
            "parent_version_nos": [v["parent_version_no"] for v in versions],
            "scored_version_nos": [s["version_no"] for s in scores],
            **{c: [s[c] for s in scores] for c in SCORE_CRITERIA},
        }
        rows = (await self.session.execute(_CREATE_PROMPT, params)).all()
        if not rows:
            return None
        prompt = rows[0]
        created = [
            CreatedVersion(
                *(getattr(r, f"v_{c.key}") for c in VERSION_COLUMNS),
                *(getattr(r, f"s_{c.key}") for c in SCORE_COLUMNS),
            )
            for r in rows
            if r.v_version_no is not None
        ]
        return prompt, created

    async def get_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """The owner's prompt, or None (another user's prompt is None too)."""
        return (await self.session.execute(_GET_PROMPT, {"owner": owner, "prompt_id": prompt_id})).first()

    async def get_any_prompt(self, *, prompt_id: uuid.UUID) -> Any | None:
        """Any user's prompt, or None: for an admin's export only (DESIGN rule 4)."""
        return (await self.session.execute(_GET_ANY_PROMPT, {"prompt_id": prompt_id})).first()

    async def get_prompt_by_request_id(self, *, owner: str, request_id: str) -> Any | None:
        """The owner's prompt with this request id, or None."""
        params = {"owner": owner, "request_id": request_id}
        return (await self.session.execute(_GET_PROMPT_BY_REQUEST_ID, params)).first()

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
        return (await self.session.execute(_LIST_VERSIONS, {"prompt_id": prompt_id})).all()

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
        deleted = await self.session.execute(_DELETE_PROMPT, {"owner": owner, "prompt_id": prompt_id})
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
        return (await self.session.execute(_APPEND_VERSION, params)).first()

    async def lock_prompt(self, *, owner: str, prompt_id: uuid.UUID) -> Any | None:
        """Locks the owner's prompt row for the rest of the transaction (serialises score writes)."""
        return (await self.session.execute(_LOCK_PROMPT, {"owner": owner, "prompt_id": prompt_id})).first()

    async def upsert_scores(self, *, prompt_id: uuid.UUID, version_no: int, scores: dict[str, float]) -> Any:
        """Sets a version's scores, replacing earlier ones; returns the stored scores."""
        params = {"prompt_id": prompt_id, "version_no": version_no, **scores}
        return (await self.session.execute(_UPSERT_SCORES, params)).one()

    async def refresh_best_head(self, *, owner: str, prompt_id: uuid.UUID) -> Any:
        """Recomputes the best head from the stored scores and bumps the revision."""
        return (
            await self.session.execute(_REFRESH_BEST_HEAD, {"owner": owner, "prompt_id": prompt_id})
        ).one()

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
        return (await self.session.execute(_UPSERT_FEEDBACK, params)).first()

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
        return (await self.session.execute(_INSERT_SCAN, params)).one()

    async def list_security_scans(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """The owner's scans, newest first."""
        return await self._list(SecurityScan, SCAN_COLUMNS, owner=owner, limit=limit, after=after)

    async def dataset_revision(self, *, owner: str | None) -> str:
        """The owner's write counter; for every user, the sum of all counters and their number."""
        if owner is not None:
            return f"u{(await self.session.execute(_OWNER_REVISION, {'owner': owner})).scalar() or 0}"
        total, owners = (await self.session.execute(_ALL_REVISIONS)).one()
        return f"a{total}.{owners}"
