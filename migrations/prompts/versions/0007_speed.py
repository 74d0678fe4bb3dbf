"""A create counts its own scores: the score-insert trigger skips the rows the statement counted.

The create statement (services/prompts/statements.py) upserts its scores into agent_stats from
what its CTEs return, with no table read again, and marks its prompt as counted for that statement
in the transaction-local setting `prompts.scores_counted` (`<prompt id>@<statement_timestamp()>`).
The score-insert trigger of 0004 would count the same rows by joining the prompt and its versions
back and upserting again; it now leaves out the rows of a prompt marked for the running statement.
Any other insert of scores — a score set later, a repair, a future write — is counted by the
trigger as before. The mark names the statement it was set in, so it can never hide a later one.

The trigger still fires for every insert of scores (a statement trigger cannot be skipped by a
condition on its rows); for a create it reads the setting, finds no row to count and returns.

Revision ID: 0007
Revises: 0006
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# 0004's function, with the rows of a prompt the running statement counted itself left out.
SKIPPING = r"""
CREATE OR REPLACE FUNCTION prompts.agent_stats_scores_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  counted text := current_setting('prompts.scores_counted', true);
  v_counted uuid;
BEGIN
  IF split_part(counted, '@', 2) = statement_timestamp()::text THEN
    v_counted := split_part(counted, '@', 1)::uuid;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM new_scores n WHERE n.prompt_id IS DISTINCT FROM v_counted) THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM prompts.owner_revisions r
   WHERE r.owner IN (SELECT p.owner FROM prompts.prompts p
                      WHERE p.id IN (SELECT n.prompt_id FROM new_scores n WHERE n.prompt_id IS DISTINCT FROM v_counted))
   ORDER BY r.owner FOR NO KEY UPDATE;
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins, scored, score_sum)
  SELECT p.owner, b.basis, v.source,
         count(*) FILTER (WHERE b.basis = 'scores' AND p.best_version_no = n.version_no),
         count(*), sum(prompts.exact_numeric(n.total))
    FROM new_scores n
    JOIN prompts.prompts p ON p.id = n.prompt_id
    JOIN prompts.versions v ON v.prompt_id = n.prompt_id AND v.version_no = n.version_no
    CROSS JOIN LATERAL (
      SELECT 'scores' AS basis
      UNION ALL
      SELECT 'feedback' WHERE EXISTS (SELECT 1 FROM prompts.feedback f WHERE f.prompt_id = n.prompt_id)) b
   WHERE n.prompt_id IS DISTINCT FROM v_counted
   GROUP BY p.owner, b.basis, v.source ORDER BY 1, 2, 3
  ON CONFLICT (owner, basis, agent) DO UPDATE
    SET wins = a.wins + excluded.wins, scored = a.scored + excluded.scored,
        score_sum = a.score_sum + excluded.score_sum;
  RETURN NULL;
END $$;
"""

# 0004's function as it was.
COUNTING_ALL = r"""
CREATE OR REPLACE FUNCTION prompts.agent_stats_scores_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_scores) THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM prompts.owner_revisions r
   WHERE r.owner IN (SELECT p.owner FROM prompts.prompts p WHERE p.id IN (SELECT n.prompt_id FROM new_scores n))
   ORDER BY r.owner FOR NO KEY UPDATE;
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins, scored, score_sum)
  SELECT p.owner, b.basis, v.source,
         count(*) FILTER (WHERE b.basis = 'scores' AND p.best_version_no = n.version_no),
         count(*), sum(prompts.exact_numeric(n.total))
    FROM new_scores n
    JOIN prompts.prompts p ON p.id = n.prompt_id
    JOIN prompts.versions v ON v.prompt_id = n.prompt_id AND v.version_no = n.version_no
    CROSS JOIN LATERAL (
      SELECT 'scores' AS basis
      UNION ALL
      SELECT 'feedback' WHERE EXISTS (SELECT 1 FROM prompts.feedback f WHERE f.prompt_id = n.prompt_id)) b
   GROUP BY p.owner, b.basis, v.source ORDER BY 1, 2, 3
  ON CONFLICT (owner, basis, agent) DO UPDATE
    SET wins = a.wins + excluded.wins, scored = a.scored + excluded.scored,
        score_sum = a.score_sum + excluded.score_sum;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(SKIPPING)


def downgrade() -> None:
    op.execute(COUNTING_ALL)
