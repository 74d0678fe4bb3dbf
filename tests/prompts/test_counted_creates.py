"""A create counts its own scores and inserts them marked as counted, for the score-insert trigger
to leave out (prompts migration 0008); every other insert of scores is counted by the trigger, and so
is a create of the release before, which marked its prompt for the statement instead (0007)."""

from __future__ import annotations

import uuid

import psycopg

from services.prompts import effectiveness
from services.prompts.models import SCORE_CRITERIA
from services.prompts.rules import NewPrompt, NewVersion, ScoreSet
from services.prompts.statements import CREATE_PROMPT, create_prompt_params
from tests.support.system import System


def _create(conn: psycopg.Connection, owner: str, versions: list[NewVersion] | None = None) -> uuid.UUID:
    """A prompt by the service's own create statement: by default three versions, the first two
    scored, and the second the best head."""
    sql, defaults = CREATE_PROMPT.compiled()
    if versions is None:
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


def _scored(conn: psycopg.Connection, owner: str) -> dict[str, tuple[int, int]]:
    """The owner's figures on the scores basis, per agent: (scored versions, wins)."""
    rows = effectiveness.read(conn, owner=owner)
    return {r["agent"]: (r["total"], r["wins"]) for r in rows if r["basis"] == "scores"}


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
        scored = _scored(conn, owner)
    assert scored == {"syntax": (1, 0), "structure": (1, 1), "domain": (1, 0)}, scored


def test_a_create_counts_its_scores_once(system: System) -> None:
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        _create(conn, owner)
        _create(conn, owner)
        assert effectiveness.drift(conn, owners=[owner]) == {}
        scored = _scored(conn, owner)
    assert scored == {"syntax": (2, 0), "structure": (2, 2)}, scored


def test_a_create_counts_the_exact_sum_of_totals_with_many_digits(system: System) -> None:
    # The service sums the totals' exact decimal values; the reference sums prompts.exact_numeric's.
    awkward = [
        ScoreSet(0.1, 0.2, 0.3, 1e-300, 9.999999999999998),
        ScoreSet(1e-300, 0.0, 0.0, 0.0, 5e-324),  # a total of 1e-300, exactly a decimal of 700-odd digits
        ScoreSet(10.0, 10.0, 10.0, 10.0, 10.0),
    ]
    versions = [
        NewVersion(text=f"v{n}", source=source, scores=scores)
        for n, (source, scores) in enumerate(zip(("syntax", "syntax", "domain"), awkward, strict=True))
    ]
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        try:
            _create(conn, owner, versions)
            _create(conn, owner, versions[:2])
            assert effectiveness.wrong_rows(conn) == 0
            sums = dict(
                conn.execute(
                    "SELECT agent, score_sum FROM prompts.agent_stats WHERE owner = %s AND basis = 'scores'",
                    (owner,),
                ).fetchall()
            )
        finally:
            # Gone again: the reference's mean over every user's scores (avg(), a running float sum,
            # which the reliability suite compares the counters' exact one with) is exact only while
            # every float sum is, and these are not.
            conn.execute("DELETE FROM prompts.prompts WHERE owner = %s", (owner,))
        assert effectiveness.wrong_rows(conn) == 0
    assert sums["domain"] == 50
    assert len(format(sums["syntax"], "f").split(".")[1]) > 300, sums  # 1e-300 in it, to the last digit


# A create of the prompts release before migration 0008, reduced to what concerns the counters: it
# counts its scores itself, marks its prompt as counted for the statement and leaves the rows'
# counted_by_create false. The schema must keep counting it once while that release still runs.
PREVIOUS_RELEASE_CREATE = """
WITH p AS (
  INSERT INTO prompts.prompts (owner, original_text, version_count, best_version_no, size_bytes)
  VALUES (%(owner)s, 'Explain the invoice', 2, 1, 10) RETURNING id, owner, best_version_no),
v AS (
  INSERT INTO prompts.versions (prompt_id, version_no, text, source)
  SELECT p.id, a.n, 'text', a.agent FROM p, (VALUES (1, 'syntax'), (2, 'structure')) a (n, agent)
  RETURNING version_no, source),
s AS (
  INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability, structure, context_use)
  SELECT p.id, a.n, 5, 5, 5, 5, 5 FROM p, (VALUES (1), (2)) a (n) RETURNING version_no, total)
INSERT INTO prompts.agent_stats (owner, basis, agent, wins, scored, score_sum)
SELECT p.owner, 'scores', v.source, count(*) FILTER (WHERE s.version_no = p.best_version_no), count(*),
       sum(prompts.exact_numeric(s.total))
  FROM s JOIN v ON s.version_no = v.version_no JOIN p ON true
 WHERE set_config('prompts.scores_counted', p.id || '@' || statement_timestamp(), true) > ''
 GROUP BY 1, 3
ON CONFLICT (owner, basis, agent) DO UPDATE SET wins = agent_stats.wins + excluded.wins,
  scored = agent_stats.scored + excluded.scored, score_sum = agent_stats.score_sum + excluded.score_sum
"""


def test_a_create_of_the_release_before_is_counted_once(system: System) -> None:
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        conn.execute(PREVIOUS_RELEASE_CREATE, {"owner": owner})
        _create(conn, owner)
        assert effectiveness.drift(conn, owners=[owner]) == {}
        scored = _scored(conn, owner)
    assert scored == {"syntax": (2, 1), "structure": (2, 1)}, scored


def test_several_scores_inserted_at_once_by_another_statement_are_each_counted(system: System) -> None:
    owner = f"counted-{uuid.uuid4()}"
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        prompt_id = _create(conn, owner)
        conn.execute("DELETE FROM prompts.scores WHERE prompt_id = %s", (prompt_id,))
        conn.execute(
            "INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability,"
            " structure, context_use) VALUES (%s, 1, 1, 1, 1, 1, 1), (%s, 3, 2, 2, 2, 2, 2)",
            (prompt_id, prompt_id),
        )
        assert effectiveness.drift(conn, owners=[owner]) == {}
        scored = _scored(conn, owner)
    assert scored == {"syntax": (1, 0), "domain": (1, 0)}, scored


def test_the_create_statement_fits_psycopgs_cache_of_converted_statements() -> None:
    # A longer statement is parsed for its placeholders on every call (8 % of the service's CPU
    # under the create benchmark): whoever grows the create must keep it within the limit.
    from psycopg import _queries

    sql, parameters = CREATE_PROMPT.compiled()
    assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH, len(sql)
    assert len(parameters) <= _queries.MAX_CACHED_STATEMENT_PARAMS, len(parameters)
