"""A create counts its own scores and marks them for the score-insert trigger to skip (prompts
migration 0007): the mark covers that one statement, never a later insert of scores."""

from __future__ import annotations

import uuid

import psycopg

from services.prompts import effectiveness
from services.prompts.models import SCORE_CRITERIA
from services.prompts.rules import NewPrompt, NewVersion, ScoreSet
from services.prompts.statements import CREATE_PROMPT, create_prompt_params
from tests.support.system import System


def _create(conn: psycopg.Connection, owner: str) -> uuid.UUID:
    """A prompt with three versions, the first two scored, by the service's own create statement."""
    sql, defaults = CREATE_PROMPT.compiled()
    scores = [ScoreSet(*[value] * len(SCORE_CRITERIA)) for value in (5.0, 7.25)]
    versions = [
        NewVersion(text=text, source=source, scores=score)
        for text, source, score in zip(
            ("one", "two", "three"), ("syntax", "structure", "domain"), [*scores, None], strict=True
        )
    ]
    params = {
        **defaults,
        **create_prompt_params(
            NewPrompt(
                owner=owner,
                request_id=None,
                agent_type=None,
                original_text="Explain the invoice",
                best_version_no=2,
                request_hash=b"h",
                size_bytes=60,
                versions=versions,
            )
        ),
    }
    return conn.execute(sql, params).fetchone()[0]  # type: ignore[index]


def test_scores_inserted_after_a_create_in_the_same_transaction_are_counted(system: System) -> None:
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url) as conn:
        with conn.transaction():
            prompt_id = _create(conn, owner)
            conn.execute(
                "INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability,"
                " structure, context_use) VALUES (%s, 3, 1, 1, 1, 1, 1.5)",
                (prompt_id,),
            )
        conn.autocommit = True
        assert effectiveness.drift(conn, owners=[owner]) == {}
        rows = effectiveness.read(conn, owner=owner)
    scored = {r["agent"]: (r["total"], r["wins"]) for r in rows if r["basis"] == "scores"}
    assert scored == {"syntax": (1, 0), "structure": (1, 1), "domain": (1, 0)}, scored


def test_a_create_counts_its_scores_once(system: System) -> None:
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        _create(conn, owner)
        _create(conn, owner)
        assert effectiveness.drift(conn, owners=[owner]) == {}
        rows = effectiveness.read(conn, owner=owner)
    scored = {r["agent"]: (r["total"], r["wins"]) for r in rows if r["basis"] == "scores"}
    assert scored == {"syntax": (2, 0), "structure": (2, 2)}, scored


def test_the_create_statement_fits_psycopgs_cache_of_converted_statements() -> None:
    # A longer statement is parsed for its placeholders on every call (8 % of the service's CPU
    # under the create benchmark): whoever grows the create must keep it within the limit.
    from psycopg import _queries

    sql, parameters = CREATE_PROMPT.compiled()
    assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH, len(sql)
    assert len(parameters) <= _queries.MAX_CACHED_STATEMENT_PARAMS, len(parameters)
