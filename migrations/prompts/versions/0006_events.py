"""The prompts outbox: every committed change of a prompt, its versions, labels and feedback is an
event row written by an AFTER trigger in the change's own transaction (see migrations/outbox.py).

Types and their `data`, all with subject `prompts/<prompt_id>`:
- `prompt.created` {prompt_id, request_id, agent_type, version_count, best_version_no}
- `prompt.version_created` {prompt_id, version_no, source, parent_version_no}: a version appended
  after the create (a restore included), seen as the prompt's version_count going up; the
  versions a create inserts are counted in its prompt.created.
- `prompt.best_changed` {prompt_id, from_version_no, to_version_no}
- `prompt.label_moved` {prompt_id, label, from_version_no, to_version_no, moved_by, moved_at}
  (from NULL: set; to NULL: deleted), from the label's history row, which knows who moved it.
- `prompt.deleted` {prompt_id}
- `feedback.created` {feedback_id, prompt_id, request_id, user_choice, judge_winner, agent_winner,
  judge_correct}: a first feedback for its request (an upsert that updates is no new event).

Why triggers: the create is one statement of data-modifying CTEs and stays one; and no write can
change the data without its event. A create fires one trigger (its prompt row's); the others are
filtered by WHEN before any function runs. The rows go to the inbox (migrations/outbox.py).

Revision ID: 0006
Revises: 0005
"""

from typing import Sequence, Union

from alembic import op

from migrations.outbox import drop_outbox_ddl, outbox_ddl

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = r"""
-- On every create: one insert, written out rather than through emit_event (a second plpgsql call).
CREATE FUNCTION prompts.events_prompt_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO prompts.event_inbox (type, subject, owner, data)
  VALUES ('prompt.created', 'prompts/' || NEW.id, NEW.owner, jsonb_build_object(
    'prompt_id', NEW.id, 'request_id', NEW.request_id, 'agent_type', NEW.agent_type,
    'version_count', NEW.version_count, 'best_version_no', NEW.best_version_no));
  RETURN NULL;
END $$;

-- An append claims its number by raising the prompt's version_count, in the statement that inserts
-- the version: at the end of that statement (when AFTER triggers run) the version row is there.
CREATE FUNCTION prompts.events_versions_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO prompts.event_inbox (type, subject, owner, data)
  SELECT 'prompt.version_created', 'prompts/' || NEW.id, NEW.owner, jsonb_build_object(
           'prompt_id', NEW.id, 'version_no', v.version_no, 'source', v.source,
           'parent_version_no', v.parent_version_no)
    FROM prompts.versions v
   WHERE v.prompt_id = NEW.id AND v.version_no > OLD.version_count AND v.version_no <= NEW.version_count
   ORDER BY v.version_no;
  RETURN NULL;
END $$;

CREATE FUNCTION prompts.events_best_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM prompts.emit_event('prompt.best_changed', 'prompts/' || NEW.id, NEW.owner, jsonb_build_object(
    'prompt_id', NEW.id, 'from_version_no', OLD.best_version_no, 'to_version_no', NEW.best_version_no));
  RETURN NULL;
END $$;

CREATE FUNCTION prompts.events_prompt_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM prompts.emit_event('prompt.deleted', 'prompts/' || OLD.id, OLD.owner,
    jsonb_build_object('prompt_id', OLD.id));
  RETURN NULL;
END $$;

CREATE FUNCTION prompts.events_label_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_owner varchar;
BEGIN
  SELECT p.owner INTO v_owner FROM prompts.prompts p WHERE p.id = NEW.prompt_id;
  PERFORM prompts.emit_event('prompt.label_moved', 'prompts/' || NEW.prompt_id, v_owner, jsonb_build_object(
    'prompt_id', NEW.prompt_id, 'label', NEW.label, 'from_version_no', NEW.from_version_no,
    'to_version_no', NEW.to_version_no, 'moved_by', NEW.moved_by, 'moved_at', NEW.moved_at));
  RETURN NULL;
END $$;

CREATE FUNCTION prompts.events_feedback_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM prompts.emit_event('feedback.created', 'prompts/' || NEW.prompt_id, NEW.owner, jsonb_build_object(
    'feedback_id', NEW.id, 'prompt_id', NEW.prompt_id, 'request_id', NEW.request_id,
    'user_choice', NEW.user_choice, 'judge_winner', NEW.judge_winner,
    'agent_winner', NEW.agent_winner, 'judge_correct', NEW.judge_correct));
  RETURN NULL;
END $$;

CREATE TRIGGER events_prompt_created AFTER INSERT ON prompts.prompts
  FOR EACH ROW EXECUTE FUNCTION prompts.events_prompt_created();
CREATE TRIGGER events_versions_appended AFTER UPDATE OF version_count ON prompts.prompts
  FOR EACH ROW WHEN (NEW.version_count > OLD.version_count)
  EXECUTE FUNCTION prompts.events_versions_appended();
CREATE TRIGGER events_best_changed AFTER UPDATE OF best_version_no ON prompts.prompts
  FOR EACH ROW WHEN (OLD.best_version_no IS DISTINCT FROM NEW.best_version_no)
  EXECUTE FUNCTION prompts.events_best_changed();
CREATE TRIGGER events_prompt_deleted AFTER DELETE ON prompts.prompts
  FOR EACH ROW EXECUTE FUNCTION prompts.events_prompt_deleted();
CREATE TRIGGER events_label_moved AFTER INSERT ON prompts.label_moves
  FOR EACH ROW EXECUTE FUNCTION prompts.events_label_moved();
CREATE TRIGGER events_feedback_created AFTER INSERT ON prompts.feedback
  FOR EACH ROW EXECUTE FUNCTION prompts.events_feedback_created();
"""

# (table, trigger, function) of every trigger above, for the downgrade.
TRIGGER_NAMES = (
    ("prompts", "events_prompt_created"),
    ("prompts", "events_versions_appended"),
    ("prompts", "events_best_changed"),
    ("prompts", "events_prompt_deleted"),
    ("label_moves", "events_label_moved"),
    ("feedback", "events_feedback_created"),
)


def upgrade() -> None:
    op.execute(outbox_ddl("prompts"))
    op.execute(TRIGGERS)


def downgrade() -> None:
    for table, trigger in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER {trigger} ON prompts.{table}")
        op.execute(f"DROP FUNCTION prompts.{trigger}()")
    op.execute(drop_outbox_ddl("prompts"))
