"""Agent effectiveness is kept up to date by the writes that change it, instead of being recomputed
from every version and feedback row on each read.

`agent_stats` holds per owner, basis and agent the counts and the exact sum of score totals the
effectiveness figures are made of; `feedback_counts` the number of feedback rows per owner. Row
triggers on prompts, versions, scores and feedback change them in the same transaction as the
write, so they are never stale (inserted scores are counted a statement at a time: a create's
versions in one upsert); a reader derives win rates and means from them (one index range).

Why triggers and not upserts in the repository: the create is one statement of data-modifying
CTEs, and a trigger keeps it one; and no write — the service's, a repair's, a future one's — can
change the data without the figures following. They cost next to nothing where nothing counts: a
prompt update that keeps its best head is filtered out by WHEN before any function runs, and the
score-insert trigger of a create without scores returns at its first line.

Sums are `numeric` holding each float8 total exactly (`exact_numeric`), so adding and removing
the same scores in any order returns to the same sum: no rounding drift however long it runs.

Deadlocks: every trigger takes the owner's `owner_revisions` row lock (the one every write of the
owner bumps) before it touches a counter, so one owner's counter writers queue on that row, and
rows are then updated in key order.

The backfill is services/prompts/effectiveness.py's recompute as of this revision.

Revision ID: 0004
Revises: 0003
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FUNCTIONS = r"""
-- The exact value of a float8 as numeric (float8::numeric keeps 15 digits). Score totals lie in
-- [0, 50]: from 1/32 up to 64 a total times 2^57 is an integer below 2^63, exact as bigint, and
-- 2^-57 = 5^57 * 10^-57; other values take their mantissa and exponent from the bits.
CREATE FUNCTION prompts.exact_numeric_bits(x float8) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT trim_scale(
      (CASE WHEN bits < 0 THEN -1 ELSE 1 END)
      * (CASE WHEN biased = 0 THEN fraction ELSE fraction + 4503599627370496 END)::numeric
      * CASE WHEN exponent >= 0 THEN 2::numeric ^ exponent
             ELSE 5::numeric ^ (-exponent) * ('1e' || exponent)::numeric END)
  FROM (SELECT bits, (bits >> 52) & 2047 AS biased, bits & 4503599627370495 AS fraction,
               CASE WHEN (bits >> 52) & 2047 = 0 THEN -1074 ELSE ((bits >> 52) & 2047) - 1075 END AS exponent
        FROM (SELECT ('x' || encode(float8send(x), 'hex'))::bit(64)::bigint AS bits) b) d
$$;

-- Not STRICT, so that the planner inlines it into the calling query (a CASE is not provably strict):
-- called as a function it would be planned again in every statement that uses it.
CREATE FUNCTION prompts.exact_numeric(x float8) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x = 0 THEN 0::numeric
    WHEN abs(x) >= 0.03125 AND abs(x) < 64 THEN
      trim_scale((x * 144115188075855872::float8)::bigint::numeric * 6938893903907228377647697925567626953125e-57)
    ELSE prompts.exact_numeric_bits(x)
  END
$$;

-- Queues this transaction's counter writes of an owner behind the others' (see the docstring).
CREATE FUNCTION prompts.agent_stats_lock(p_owner varchar) RETURNS void
LANGUAGE sql AS $$
  SELECT NULL FROM prompts.owner_revisions WHERE owner = p_owner FOR NO KEY UPDATE
$$;

-- A score row of a live prompt and version counts for its source on the scores basis (a win when
-- its version is the best head) and, when the prompt has feedback, on the feedback basis. A score
-- whose prompt or version is already gone was taken out by their BEFORE DELETE trigger.
CREATE FUNCTION prompts.agent_stats_score(p_prompt_id uuid, p_version_no integer, p_sign integer, p_total float8)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_owner varchar; v_source varchar; v_best integer; v_feedback boolean; v_sum numeric;
BEGIN
  SELECT p.owner, v.source, p.best_version_no,
         EXISTS (SELECT 1 FROM prompts.feedback f WHERE f.prompt_id = p.id)
    INTO v_owner, v_source, v_best, v_feedback
    FROM prompts.prompts p JOIN prompts.versions v ON v.prompt_id = p.id AND v.version_no = p_version_no
   WHERE p.id = p_prompt_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM prompts.agent_stats_lock(v_owner);
  v_sum := p_sign * prompts.exact_numeric(p_total);
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins, scored, score_sum)
  SELECT v_owner, b.basis, v_source, b.wins, p_sign, v_sum
    FROM (VALUES ('feedback', 0), ('scores', CASE WHEN v_best = p_version_no THEN p_sign ELSE 0 END)) b (basis, wins)
   WHERE b.basis = 'scores' OR v_feedback
   ORDER BY b.basis
  ON CONFLICT (owner, basis, agent) DO UPDATE
    SET wins = a.wins + excluded.wins, scored = a.scored + excluded.scored,
        score_sum = a.score_sum + excluded.score_sum;
END $$;

CREATE FUNCTION prompts.agent_stats_scores_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM prompts.agent_stats_score(OLD.prompt_id, OLD.version_no, -1, OLD.total);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM prompts.agent_stats_score(NEW.prompt_id, NEW.version_no, 1, NEW.total);
  END IF;
  RETURN NULL;
END $$;

-- Inserted scores, a statement at a time (a create inserts all of its prompt's at once): what
-- agent_stats_score does per row, as one grouped upsert.
CREATE FUNCTION prompts.agent_stats_scores_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- One feedback row: the owner's feedback count, the agent's win, the judge's pick (confirmed or
-- not) and, with p_scores, the scores of its prompt on the feedback basis.
CREATE FUNCTION prompts.agent_stats_feedback(f prompts.feedback, p_sign integer, p_scores boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM prompts.agent_stats_lock(f.owner);
  INSERT INTO prompts.feedback_counts AS c (owner, total) VALUES (f.owner, p_sign)
  ON CONFLICT (owner) DO UPDATE SET total = c.total + excluded.total;
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins, judge_wins, judge_confirmed, scored, score_sum)
  SELECT f.owner, 'feedback', g.agent, sum(g.wins), sum(g.judge_wins), sum(g.judge_confirmed),
         sum(g.scored), sum(g.score_sum)
    FROM (SELECT f.agent_winner AS agent, p_sign AS wins, 0 AS judge_wins, 0 AS judge_confirmed,
                 0::bigint AS scored, 0::numeric AS score_sum
          UNION ALL
          SELECT f.judge_winner, 0, p_sign, CASE WHEN f.judge_correct THEN p_sign ELSE 0 END, 0, 0
          UNION ALL
          SELECT v.source, 0, 0, 0, p_sign, p_sign * prompts.exact_numeric(s.total)
            FROM prompts.scores s
            JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
           WHERE p_scores AND s.prompt_id = f.prompt_id) g
   GROUP BY g.agent ORDER BY g.agent
  ON CONFLICT (owner, basis, agent) DO UPDATE
    SET wins = a.wins + excluded.wins, judge_wins = a.judge_wins + excluded.judge_wins,
        judge_confirmed = a.judge_confirmed + excluded.judge_confirmed,
        scored = a.scored + excluded.scored, score_sum = a.score_sum + excluded.score_sum;
END $$;

CREATE FUNCTION prompts.agent_stats_feedback_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  moved boolean := TG_OP = 'UPDATE' AND (OLD.prompt_id, OLD.owner) IS DISTINCT FROM (NEW.prompt_id, NEW.owner);
BEGIN
  -- A feedback row deleted with its prompt was taken out by the prompt's BEFORE DELETE trigger.
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM prompts.prompts p WHERE p.id = OLD.prompt_id) THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM prompts.agent_stats_feedback(OLD, -1, TG_OP = 'DELETE' OR moved);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM prompts.agent_stats_feedback(NEW, 1, TG_OP = 'INSERT' OR moved);
  END IF;
  RETURN NULL;
END $$;

-- The best head moved: the old head's source loses a win, the new one's gains it (each only when
-- scored, as the reference counts a win per scored version that is its prompt's best head).
CREATE FUNCTION prompts.agent_stats_best_head_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM prompts.agent_stats_lock(NEW.owner);
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins)
  SELECT NEW.owner, 'scores', v.source, sum(CASE WHEN v.version_no = NEW.best_version_no THEN 1 ELSE -1 END)
    FROM prompts.versions v
    JOIN prompts.scores s ON s.prompt_id = v.prompt_id AND s.version_no = v.version_no
   WHERE v.prompt_id = NEW.id AND v.version_no IN (OLD.best_version_no, NEW.best_version_no)
   GROUP BY v.source ORDER BY v.source
  ON CONFLICT (owner, basis, agent) DO UPDATE SET wins = a.wins + excluded.wins;
  RETURN NULL;
END $$;

-- Before a prompt goes, while its versions, scores and feedback are still there: everything it
-- counted. The cascaded deletes of its rows then find it gone and count nothing.
CREATE FUNCTION prompts.agent_stats_prompt_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  f prompts.feedback;
BEGIN
  PERFORM prompts.agent_stats_lock(OLD.owner);
  INSERT INTO prompts.agent_stats AS a (owner, basis, agent, wins, scored, score_sum)
  SELECT OLD.owner, 'scores', v.source, -count(*) FILTER (WHERE s.version_no = OLD.best_version_no),
         -count(*), -sum(prompts.exact_numeric(s.total))
    FROM prompts.scores s
    JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
   WHERE s.prompt_id = OLD.id
   GROUP BY v.source ORDER BY v.source
  ON CONFLICT (owner, basis, agent) DO UPDATE
    SET wins = a.wins + excluded.wins, scored = a.scored + excluded.scored,
        score_sum = a.score_sum + excluded.score_sum;
  FOR f IN SELECT * FROM prompts.feedback WHERE prompt_id = OLD.id LOOP
    PERFORM prompts.agent_stats_feedback(f, -1, true);
  END LOOP;
  RETURN OLD;
END $$;

-- A version deleted on its own (no route does) takes its score with it.
CREATE FUNCTION prompts.agent_stats_version_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_total float8;
BEGIN
  SELECT s.total INTO v_total FROM prompts.scores s
   WHERE s.prompt_id = OLD.prompt_id AND s.version_no = OLD.version_no;
  IF FOUND THEN
    PERFORM prompts.agent_stats_score(OLD.prompt_id, OLD.version_no, -1, v_total);
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER agent_stats_scores AFTER UPDATE OR DELETE ON prompts.scores
  FOR EACH ROW EXECUTE FUNCTION prompts.agent_stats_scores_changed();
CREATE TRIGGER agent_stats_scores_insert AFTER INSERT ON prompts.scores
  REFERENCING NEW TABLE AS new_scores
  FOR EACH STATEMENT EXECUTE FUNCTION prompts.agent_stats_scores_inserted();
CREATE TRIGGER agent_stats_feedback AFTER INSERT OR UPDATE OR DELETE ON prompts.feedback
  FOR EACH ROW EXECUTE FUNCTION prompts.agent_stats_feedback_changed();
CREATE TRIGGER agent_stats_best_head AFTER UPDATE OF best_version_no ON prompts.prompts
  FOR EACH ROW WHEN (OLD.best_version_no IS DISTINCT FROM NEW.best_version_no)
  EXECUTE FUNCTION prompts.agent_stats_best_head_moved();
CREATE TRIGGER agent_stats_prompt_delete BEFORE DELETE ON prompts.prompts
  FOR EACH ROW EXECUTE FUNCTION prompts.agent_stats_prompt_deleted();
CREATE TRIGGER agent_stats_version_delete BEFORE DELETE ON prompts.versions
  FOR EACH ROW EXECUTE FUNCTION prompts.agent_stats_version_deleted();
"""

# services/prompts/effectiveness.py RECOMPUTE as of this revision.
BACKFILL = r"""
INSERT INTO prompts.agent_stats (owner, basis, agent, wins, scored, score_sum, judge_wins, judge_confirmed)
SELECT owner, basis, agent, sum(wins), sum(scored), sum(score_sum), sum(judge_wins), sum(judge_confirmed)
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
GROUP BY owner, basis, agent;
INSERT INTO prompts.feedback_counts (owner, total) SELECT owner, count(*) FROM prompts.feedback GROUP BY owner;
"""


def upgrade() -> None:
    op.create_table(
        "agent_stats",
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(255), nullable=False),
        sa.Column("wins", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("scored", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("score_sum", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("judge_wins", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("judge_confirmed", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("basis IN ('scores', 'feedback')", name=op.f("ck_agent_stats_basis_known")),
        sa.PrimaryKeyConstraint("owner", "basis", "agent", name=op.f("pk_agent_stats")),
        schema="prompts",
    )
    op.create_table(
        "feedback_counts",
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_feedback_counts")),
        schema="prompts",
    )
    op.execute(FUNCTIONS)
    op.execute(BACKFILL)


def downgrade() -> None:
    for table, trigger in (
        ("scores", "agent_stats_scores"),
        ("scores", "agent_stats_scores_insert"),
        ("feedback", "agent_stats_feedback"),
        ("prompts", "agent_stats_best_head"),
        ("prompts", "agent_stats_prompt_delete"),
        ("versions", "agent_stats_version_delete"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON prompts.{table}")
    for function in (
        "agent_stats_version_deleted()",
        "agent_stats_prompt_deleted()",
        "agent_stats_best_head_moved()",
        "agent_stats_feedback_changed()",
        "agent_stats_feedback(prompts.feedback, integer, boolean)",
        "agent_stats_scores_inserted()",
        "agent_stats_scores_changed()",
        "agent_stats_score(uuid, integer, integer, float8)",
        "agent_stats_lock(varchar)",
        "exact_numeric(float8)",
        "exact_numeric_bits(float8)",
    ):
        op.execute(f"DROP FUNCTION prompts.{function}")
    op.drop_table("feedback_counts", schema="prompts")
    op.drop_table("agent_stats", schema="prompts")
