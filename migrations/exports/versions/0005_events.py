"""The exports outbox: an export that ends (completed or failed) is an event row written by an
AFTER trigger in the transaction that ends it (see migrations/outbox.py).

Types and their `data`, with subject `exports/<id>`:
- `export.completed` {export_id, source, format, filename, size_bytes, sha256}
- `export.failed` {export_id, source, format, error} (the error's first 1,000 characters)
Each fires when the status becomes completed or failed, whether the row is inserted so or updated.

Revision ID: 0005
Revises: 0004
"""

from typing import Sequence, Union

from alembic import op

from migrations.outbox import drop_outbox_ddl, outbox_ddl

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = r"""
CREATE FUNCTION exports.events_export_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'completed' THEN
    PERFORM exports.emit_event('export.completed', 'exports/' || NEW.id, NEW.owner, jsonb_build_object(
      'export_id', NEW.id, 'source', NEW.source, 'format', NEW.format, 'filename', NEW.filename,
      'size_bytes', NEW.size_bytes, 'sha256', NEW.sha256));
  ELSE
    PERFORM exports.emit_event('export.failed', 'exports/' || NEW.id, NEW.owner, jsonb_build_object(
      'export_id', NEW.id, 'source', NEW.source, 'format', NEW.format, 'error', left(NEW.error, 1000)));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER events_export_inserted_ended AFTER INSERT ON exports.exports
  FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed'))
  EXECUTE FUNCTION exports.events_export_ended();
CREATE TRIGGER events_export_ended AFTER UPDATE OF status ON exports.exports
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('completed', 'failed'))
  EXECUTE FUNCTION exports.events_export_ended();
"""


def upgrade() -> None:
    op.execute(outbox_ddl("exports"))
    op.execute(TRIGGERS)


def downgrade() -> None:
    for trigger in ("events_export_inserted_ended", "events_export_ended"):
        op.execute(f"DROP TRIGGER {trigger} ON exports.exports")
    op.execute("DROP FUNCTION exports.events_export_ended()")
    op.execute(drop_outbox_ddl("exports"))
