"""Every SQL statement of the prompts service, built once at import with named parameters.

Every write also bumps the owner's revision counter in the same statement (a data-modifying CTE),
so the owner's datasets get a new revision with no extra round trip. repository.py runs them.
"""

from __future__ import annotations

import decimal
import functools
from collections import namedtuple
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import (
    BigInteger,
    Numeric,
    String,
    and_,
    bindparam,
    cast,
    column,
    delete,
    false,
    func,
    insert,
    literal_column,
    null,
    select,
    table,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Query
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


def owner_bump() -> Any:
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


def _records(name: str, *columns: Any, alias: str) -> Any:
    """A parameter holding a JSON array of objects, read as rows of typed `columns` (PostgreSQL's
    jsonb_to_recordset). One jsonb parameter costs the service a fifth of what one array per
    column did to send (psycopg adapts each list and each element on every call)."""
    return (
        func.jsonb_to_recordset(cast(bindparam(name), JSONB))
        .table_valued(*columns)
        .render_derived(name=alias, with_types=True)
    )


_VERSION_FIELDS = ("version_no", "text", "source", "explanation", "parent_version_no")


def create_prompt_statement(*, count_scores: bool = True, scored: bool = True) -> Query:
    """A prompt with its versions and their scores in ONE statement: the versions and scores arrive
    as two JSON arrays of objects (read as rows, see _records), and each insert is a data-modifying
    CTE reading the prompt's id.

    One statement is atomic without BEGIN/COMMIT and makes one round trip; it also holds the
    owner's revision row lock (taken by the bump) only while it runs, so one user's concurrent
    creates do not queue behind each other's transactions. A request_id conflict inserts nothing
    and returns no row. Without `scored`, the statement of a create that carries no scores: no
    insert into scores, nothing to count, and one parameter fewer; its rows' score columns are
    NULL, as a read's are for an unscored version.
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
    new_versions = _records(
        "versions",
        *(column(name, Version.__table__.c[name].type) for name in _VERSION_FIELDS),
        alias="new_versions",
    )
    versions = (
        insert(Version)
        .from_select(
            ["prompt_id", *_VERSION_FIELDS],
            # `new_versions.*`: its columns are _VERSION_FIELDS in order (and the SQL stays short).
            select(prompt.c.id, literal_column("new_versions.*")).select_from(
                prompt.join(new_versions, true())
            ),
        )
        .returning(*VERSION_COLUMNS)
        .cte("versions")
    )
    new_scores = _records(
        "scores",
        *(column(name, Score.__table__.c[name].type) for name in ("version_no", *SCORE_CRITERIA)),
        alias="new_scores",
    )
    scores = (
        insert(Score)
        .from_select(
            ["prompt_id", "version_no", *SCORE_CRITERIA, "counted_by_create"],
            # Rows the statement counts itself say so, and the score-insert trigger leaves them out.
            select(
                prompt.c.id, literal_column("new_scores.*"), true() if count_scores else false()
            ).select_from(prompt.join(new_scores, true())),
        )
        .returning(Score.version_no, *SCORE_COLUMNS)
        .cte("scores")
    )
    bump = owner_bump()
    version_columns = [versions.c[c.key].label(f"v_{c.key}") for c in VERSION_COLUMNS]
    if not scored:
        unscored = [null().label(f"s_{c.key}") for c in SCORE_COLUMNS]
        return Query(
            select(*prompt.c, *version_columns, *unscored)
            .select_from(prompt.outerjoin(versions, true()))
            .order_by(versions.c.version_no)
            .add_cte(bump)
        )
    rows = (
        select(*prompt.c, *version_columns, *(scores.c[c.key].label(f"s_{c.key}") for c in SCORE_COLUMNS))
        .select_from(
            prompt.outerjoin(versions, true()).outerjoin(scores, scores.c.version_no == versions.c.version_no)
        )
        .order_by(versions.c.version_no)
        .add_cte(bump)
    )
    if count_scores:  # (without: the bare create, what the benchmark weighs the counters against)
        rows = rows.add_cte(_count_created_scores(prompt, bump))
    return Query(rows)


_AGENT_STATS = table(
    "agent_stats",
    *(column(c) for c in ("owner", "basis", "agent", "wins", "scored", "score_sum")),
    schema="prompts",
)


def _count_created_scores(prompt: Any, owner_bump: Any) -> Any:
    """The created scores counted on the scores basis (migrations/prompts 0004's agent_stats) by the
    create itself: one upsert of the per-agent figures the service worked out (`counted_scores`),
    joined to the prompt so that a request_id conflict, which inserts nothing, counts nothing. The
    score rows are inserted with `counted_by_create`, so the score-insert trigger, which would count
    them one by one by joining the prompt and its version back, leaves them out (0008). A new prompt
    has no feedback, so nothing counts on the feedback basis. Reading owner_bump takes the owner's
    revision row lock first, in the order every counter writer takes its locks.

    Terse SQL on purpose: the whole create must stay within psycopg's cache of converted statements
    (4,096 characters), or each call parses it again (tests/prompts/test_counted_creates.py)."""
    counts = _records(
        "counts",
        column("agent", String()),
        column("wins", BigInteger()),
        column("scored", BigInteger()),
        column("score_sum", Numeric()),
        alias="c",
    )
    per_agent = select(
        literal_column("p.owner"), literal_column("'scores'"), literal_column("c.*")
    ).select_from(prompt.alias("p").join(owner_bump, true()).join(counts, true()))
    return (
        pg_insert(_AGENT_STATS)
        .from_select(["owner", "basis", "agent", "wins", "scored", "score_sum"], per_agent)
        .on_conflict_do_update(
            index_elements=["owner", "basis", "agent"],
            set_={
                n: literal_column(f"agent_stats.{n} + excluded.{n}") for n in ("wins", "scored", "score_sum")
            },
        )
        .cte("counted_scores")
    )


# Decimal sums at any precision: a float's exact value has up to 767 significant digits.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emin=decimal.MIN_EMIN, Emax=decimal.MAX_EMAX)


def counted_scores(prompt: Any) -> list[dict[str, Any]]:
    """What a create of a rules.NewPrompt adds to agent_stats on the scores basis, per agent (the
    versions' source): its scored versions, the best head among them as a win, and the exact sum of
    their totals, each total the float sum PostgreSQL's generated column makes (rules.ScoreSet.total,
    which also picks the best head) taken at its exact decimal value, as `prompts.exact_numeric`
    takes it, and summed without rounding. The exact sum goes as text (a JSON number is a float to
    Python's json). Sorted by agent, so a create updates the counters' rows in one fixed order (the
    owner's row lock, which it takes first, keeps one owner's counter writers in turn anyway)."""
    agents: dict[str, list[Any]] = {}
    for no, version in enumerate(prompt.versions, start=1):
        if version.scores is None:
            continue
        figures = agents.setdefault(version.source, [0, 0, Decimal(0)])
        figures[0] += no == prompt.best_version_no
        figures[1] += 1
        figures[2] = _EXACT.add(figures[2], Decimal(version.scores.total))
    return [
        {"agent": agent, "wins": wins, "scored": scored, "score_sum": format(score_sum, "f")}
        for agent, (wins, scored, score_sum) in sorted(agents.items())
    ]


CREATE_PROMPT = create_prompt_statement()
CREATE_UNSCORED_PROMPT = create_prompt_statement(scored=False)


def _scored(prompt: Any) -> bool:
    return any(v.scores is not None for v in prompt.versions)


def create_statement(prompt: Any) -> Query:
    """The create a rules.NewPrompt runs: without the scores insert, and so without counting, when
    none of its versions is scored."""
    return CREATE_PROMPT if _scored(prompt) else CREATE_UNSCORED_PROMPT


def create_prompt_params(prompt: Any) -> dict[str, Any]:
    """The parameters of a create statement for a rules.NewPrompt: the scores and their per-agent
    figures only when some version is scored, as only then does its statement read them."""
    versions = prompt.versions
    params = {
        "owner": prompt.owner,
        "request_id": prompt.request_id,
        "agent_type": prompt.agent_type,
        "original_text": prompt.original_text,
        "version_count": len(versions),
        "best_version_no": prompt.best_version_no,
        "request_hash": prompt.request_hash,
        "size_bytes": prompt.size_bytes,
        "versions": Jsonb(
            [
                {
                    "version_no": no,
                    "text": v.text,
                    "source": v.source,
                    "explanation": v.explanation,
                    "parent_version_no": v.parent_version_no,
                }
                for no, v in enumerate(versions, start=1)
            ]
        ),
    }
    if _scored(prompt):
        params["scores"] = Jsonb(
            [
                {"version_no": no, **v.scores.as_dict()}
                for no, v in enumerate(versions, start=1)
                if v.scores is not None
            ]
        )
        params["counts"] = Jsonb(counted_scores(prompt))
    return params


# A created version as LIST_VERSIONS returns it: version columns, then score columns.
CreatedVersion = namedtuple(  # type: ignore[misc]
    "CreatedVersion", [c.key for c in (*VERSION_COLUMNS, *SCORE_COLUMNS)]
)
_OWNED_PROMPT = and_(Prompt.id == bindparam("prompt_id"), Prompt.owner == bindparam("owner"))
GET_PROMPT = Query(select(*PROMPT_COLUMNS).where(_OWNED_PROMPT))
GET_ANY_PROMPT = Query(select(*PROMPT_COLUMNS).where(Prompt.id == bindparam("prompt_id")))
GET_PROMPT_BY_REQUEST_ID = Query(
    select(*PROMPT_COLUMNS, Prompt.request_hash).where(
        Prompt.owner == bindparam("owner"), Prompt.request_id == bindparam("request_id")
    )
)
# A read carries each version's model config; the create's rows need none (it takes none).
LIST_VERSIONS = Query(
    select(*VERSION_COLUMNS, *SCORE_COLUMNS, Version.model_config)
    .select_from(Version)
    .outerjoin(Score, and_(Score.prompt_id == Version.prompt_id, Score.version_no == Version.version_no))
    .where(Version.prompt_id == bindparam("prompt_id"))
    .order_by(Version.version_no)
)
DELETE_PROMPT = Query(delete(Prompt).where(_OWNED_PROMPT).returning(Prompt.id).add_cte(owner_bump()))
LOCK_PROMPT = Query(select(Prompt.id, Prompt.version_count).where(_OWNED_PROMPT).with_for_update())


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
        .add_cte(owner_bump())
    )
    return Query(inserted)


APPEND_VERSION = _append_version()
UPSERT_SCORES = Query(
    pg_insert(Score)
    .values({c: bindparam(c) for c in ("prompt_id", "version_no", *SCORE_CRITERIA)})
    .on_conflict_do_update(
        index_elements=[Score.prompt_id, Score.version_no],
        set_={**{c: literal_column(f"excluded.{c}") for c in SCORE_CRITERIA}, "updated_at": func.now()},
    )
    .returning(*SCORE_COLUMNS)
)
REFRESH_BEST_HEAD = Query(
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
    .add_cte(owner_bump())
)
_FEEDBACK_VALUES = ("user_choice", "judge_winner", "agent_winner", "judge_correct")
UPSERT_FEEDBACK = Query(
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
        # The prompt's row lock in the mode an append takes it (FOR NO KEY UPDATE), before the event
        # the insert's trigger writes: the changes of one prompt take turns, so their events are
        # placed in commit order. Taken before the owner's revision row (the bump runs after the
        # insert), as a score write holds the prompt, then the owner: the same order cannot deadlock.
        .with_for_update(key_share=True),
    )
    .on_conflict_do_update(
        index_elements=[Feedback.owner, Feedback.request_id],
        set_={**{c: literal_column(f"excluded.{c}") for c in _FEEDBACK_VALUES}, "updated_at": func.now()},
    )
    .returning(*FEEDBACK_COLUMNS, literal_column("(xmax = 0)").label("inserted"))
    .add_cte(owner_bump())
)
INSERT_SCAN = Query(
    insert(SecurityScan)
    .values(
        owner=bindparam("owner"),
        input_text=bindparam("input_text"),
        risk_score=bindparam("risk_score"),
        label=bindparam("label"),
    )
    .returning(*SCAN_COLUMNS)
    .add_cte(owner_bump())
)
OWNER_REVISION = Query(select(OwnerRevision.revision).where(OwnerRevision.owner == bindparam("owner")))
ALL_REVISIONS = Query(select(func.coalesce(func.sum(OwnerRevision.revision), 0), func.count()))


@functools.cache
def list_query(table: Any, columns: tuple[Any, ...], filters: tuple[str, ...], paged: bool) -> Query:
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
