"""Inserted scores are counted a row at a time, and a create's rows, which it counted itself, say so
in a column: the count no longer goes through a statement trigger's transition table.

0007 left the score-insert trigger a statement trigger that reads its rows from a transition table
(`new_scores`) and skips a create's by the mark the create set. PostgreSQL copies every inserted
row into that table whenever such a trigger exists, whether or not it then counts anything: about
20 µs of the 100 µs the counters add to a create of three scored versions (bench/write_cost.py).

Now a create inserts its scores with `counted_by_create` true (services/prompts/statements.py), in
the statement whose CTE counts them; a row trigger counts every other inserted score, and its
`WHEN (NOT NEW.counted_by_create)` is decided as the row is inserted, so a create's rows queue no
trigger event at all. Only a create writes the column; any other insert leaves it false and is
counted, as before.

Expand, then contract (deploy/README.md): a prompts release from before this revision still runs on
the new schema. Its create leaves the column false and counts its scores itself with 0007's mark set,
so the row trigger's function skips the rows so marked, as 0007's trigger did. The next contracting
revision drops that check and 0007's `agent_stats_scores_inserted()`, which stays so that the
downgrade restores its trigger as it was.

Revision ID: 0008
Revises: 0007
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ROW_TRIGGER = r"""
CREATE FUNCTION prompts.agent_stats_score_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A create of the release before 0008 counted its own scores and marked its prompt (0007).
  IF current_setting('prompts.scores_counted', true) = NEW.prompt_id || '@' || statement_timestamp() THEN
    RETURN NULL;
  END IF;
  PERFORM prompts.agent_stats_score(NEW.prompt_id, NEW.version_no, 1, NEW.total);
  RETURN NULL;
END $$;

DROP TRIGGER agent_stats_scores_insert ON prompts.scores;
CREATE TRIGGER agent_stats_scores_insert AFTER INSERT ON prompts.scores
  FOR EACH ROW WHEN (NOT NEW.counted_by_create)
  EXECUTE FUNCTION prompts.agent_stats_score_inserted();
"""

STATEMENT_TRIGGER = r"""
DROP TRIGGER agent_stats_scores_insert ON prompts.scores;
DROP FUNCTION prompts.agent_stats_score_inserted();
CREATE TRIGGER agent_stats_scores_insert AFTER INSERT ON prompts.scores
  REFERENCING NEW TABLE AS new_scores
  FOR EACH STATEMENT EXECUTE FUNCTION prompts.agent_stats_scores_inserted();
"""


def upgrade() -> None:
    # A constant default: PostgreSQL records it in the catalog and rewrites no row.
    op.add_column(
        "scores",
        sa.Column("counted_by_create", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="prompts",
    )
    op.execute(ROW_TRIGGER)


def downgrade() -> None:
    op.execute(STATEMENT_TRIGGER)
    op.drop_column("scores", "counted_by_create", schema="prompts")
