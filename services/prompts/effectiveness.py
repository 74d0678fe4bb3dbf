"""The maintained effectiveness counters: recomputing them from every row, and checking them.

The triggers of migrations/prompts 0004 keep `prompts.agent_stats` and `prompts.feedback_counts`
in step with every write. `repair` rebuilds both from the scores, versions, prompts and feedback
(the full aggregate) and says which rows differed; `drift` compares what readers get from the
counters (datasets.EFFECTIVENESS) with the reference aggregate (datasets.EFFECTIVENESS_REFERENCE).
Both run on a plain psycopg connection, so the CLI and the tests share them.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from services.prompts.datasets import EFFECTIVENESS, EFFECTIVENESS_REFERENCE

_STATS_COLUMNS = "owner, basis, agent, wins, scored, score_sum, judge_wins, judge_confirmed"

# Per owner, basis and agent: the counters as the triggers would have left them.
RECOMPUTE = f"""
SELECT {_STATS_COLUMNS} FROM (
  SELECT owner, basis, agent, sum(wins)::bigint AS wins, sum(scored)::bigint AS scored,
         sum(score_sum) AS score_sum, sum(judge_wins)::bigint AS judge_wins,
         sum(judge_confirmed)::bigint AS judge_confirmed
  FROM (
      SELECT p.owner, 'scores' AS basis, v.source AS agent,
             count(*) FILTER (WHERE p.best_version_no = s.version_no) AS wins,
             count(*) AS scored, sum(prompts.exact_numeric(s.total)) AS score_sum,
             0 AS judge_wins, 0 AS judge_confirmed
        FROM prompts.scores s
        JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
        JOIN prompts.prompts p ON p.id = s.prompt_id
       GROUP BY p.owner, v.source
    UNION ALL
      SELECT f.owner, 'feedback', v.source, 0, count(*), sum(prompts.exact_numeric(s.total)), 0, 0
        FROM prompts.feedback f
        JOIN prompts.scores s ON s.prompt_id = f.prompt_id
        JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
       GROUP BY f.owner, v.source
    UNION ALL
      SELECT owner, 'feedback', agent_winner, count(*), 0, 0, 0, 0
        FROM prompts.feedback GROUP BY owner, agent_winner
    UNION ALL
      SELECT owner, 'feedback', judge_winner, 0, 0, 0, count(*), count(*) FILTER (WHERE judge_correct)
        FROM prompts.feedback GROUP BY owner, judge_winner
  ) x
  GROUP BY owner, basis, agent
) y"""
RECOMPUTE_FEEDBACK_COUNTS = "SELECT owner, count(*) AS total FROM prompts.feedback GROUP BY owner"

# Rows that are all zero count for nothing: the triggers leave them behind (an agent whose last
# score went), the recompute does not produce them.
_NONZERO = "(wins, scored, score_sum, judge_wins, judge_confirmed) <> (0, 0, 0, 0, 0)"


_FIGURES = ("wins", "scored", "score_sum", "judge_wins", "judge_confirmed")
_WRONG_ROWS = f"""SELECT
 (SELECT count(*)
    FROM (SELECT * FROM prompts.agent_stats WHERE {_NONZERO}) m
    FULL JOIN ({RECOMPUTE}) r USING (owner, basis, agent)
   WHERE ({", ".join(f"m.{c}" for c in _FIGURES)}) IS DISTINCT FROM ({", ".join(f"r.{c}" for c in _FIGURES)}))
 + (SELECT count(*)
      FROM (SELECT * FROM prompts.feedback_counts WHERE total <> 0) m
      FULL JOIN ({RECOMPUTE_FEEDBACK_COUNTS}) r USING (owner)
     WHERE m.total IS DISTINCT FROM r.total)"""


def wrong_rows(conn: psycopg.Connection[Any]) -> int:
    """How many counter rows differ from the recompute (missing, extra or different), compared
    exactly: sums are exact, so any difference is drift, never rounding."""
    row = conn.execute(_WRONG_ROWS).fetchone()
    assert row is not None
    return int(row[0])


def repair(conn: psycopg.Connection[Any]) -> int:
    """Rebuilds the counters from the full aggregate in one transaction; returns how many counter
    rows were wrong. Writers of effectiveness wait meanwhile; readers do not."""
    with conn.transaction():
        # EXCLUSIVE makes every writer's trigger wait; the recompute then runs on a snapshot taken
        # after the lock, so it sees every committed write and no uncommitted one has counted yet.
        conn.execute("LOCK TABLE prompts.agent_stats, prompts.feedback_counts IN EXCLUSIVE MODE")
        wrong = wrong_rows(conn)
        conn.execute("DELETE FROM prompts.agent_stats")
        conn.execute("DELETE FROM prompts.feedback_counts")
        conn.execute(f"INSERT INTO prompts.agent_stats ({_STATS_COLUMNS}) {RECOMPUTE}")
        conn.execute(f"INSERT INTO prompts.feedback_counts (owner, total) {RECOMPUTE_FEEDBACK_COUNTS}")
    return wrong


def rebuild_owner(conn: psycopg.Connection[Any], owner: str) -> None:
    """Rebuilds one owner's counters from the full aggregate, every other owner's left as they are:
    for rows written with the triggers off (a seed by SQL for a benchmark or a test)."""
    with conn.transaction():
        conn.execute("LOCK TABLE prompts.agent_stats, prompts.feedback_counts IN EXCLUSIVE MODE")
        conn.execute("DELETE FROM prompts.agent_stats WHERE owner = %s", (owner,))
        conn.execute("DELETE FROM prompts.feedback_counts WHERE owner = %s", (owner,))
        conn.execute(
            f"INSERT INTO prompts.agent_stats ({_STATS_COLUMNS}) SELECT * FROM ({RECOMPUTE}) r WHERE owner = %s",
            (owner,),
        )
        conn.execute(
            "INSERT INTO prompts.feedback_counts (owner, total)"
            f" SELECT * FROM ({RECOMPUTE_FEEDBACK_COUNTS}) r WHERE owner = %s",
            (owner,),
        )


def read(
    conn: psycopg.Connection[Any], *, owner: str | None, reference: bool = False
) -> list[dict[str, Any]]:
    """The effectiveness rows of one owner (every user's when None), from the counters or the
    reference aggregate."""
    query = (EFFECTIVENESS_REFERENCE if reference else EFFECTIVENESS).select_sql(all_users=owner is None)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"owner": owner}).fetchall()


def drift(conn: psycopg.Connection[Any], *, owners: list[str | None]) -> dict[str | None, tuple[Any, Any]]:
    """For each owner (None: every user's) whose maintained rows differ from the reference's, the two
    lists of rows. Both are read in one repeatable-read snapshot."""
    different: dict[str | None, tuple[Any, Any]] = {}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for owner in owners:
            maintained, reference = read(conn, owner=owner), read(conn, owner=owner, reference=True)
            if maintained != reference:
                different[owner] = (maintained, reference)
    return different
