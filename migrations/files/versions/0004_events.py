"""The files outbox: a chat file written or removed is an event row written by an AFTER trigger in
the change's own transaction (see migrations/outbox.py).

Types and their `data`, with subject `chats/<chat_id>/files/<filename>`:
- `file.created` {file_id, chat_id, filename, media_type, size_bytes, sha256, replaced}: a new file,
  or (`replaced` true) new content under an existing name; a metadata edit is no event.
- `file.deleted` {file_id, chat_id, filename}: deleted on its own, with its chat, or by retention.

Revision ID: 0004
Revises: 0003
"""

from typing import Sequence, Union

from alembic import op

from migrations.outbox import drop_outbox_ddl, outbox_ddl

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = r"""
CREATE FUNCTION files.events_file_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM files.emit_event('file.created', 'chats/' || NEW.chat_id || '/files/' || NEW.filename, NEW.owner,
    jsonb_build_object('file_id', NEW.id, 'chat_id', NEW.chat_id, 'filename', NEW.filename,
      'media_type', NEW.media_type, 'size_bytes', NEW.size_bytes, 'sha256', NEW.sha256,
      'replaced', TG_OP = 'UPDATE'));
  RETURN NULL;
END $$;

CREATE FUNCTION files.events_file_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM files.emit_event('file.deleted', 'chats/' || OLD.chat_id || '/files/' || OLD.filename, OLD.owner,
    jsonb_build_object('file_id', OLD.id, 'chat_id', OLD.chat_id, 'filename', OLD.filename));
  RETURN NULL;
END $$;

CREATE TRIGGER events_file_created AFTER INSERT ON files.chat_files
  FOR EACH ROW EXECUTE FUNCTION files.events_file_written();
CREATE TRIGGER events_file_replaced AFTER UPDATE OF content_id ON files.chat_files
  FOR EACH ROW WHEN (OLD.content_id IS DISTINCT FROM NEW.content_id)
  EXECUTE FUNCTION files.events_file_written();
CREATE TRIGGER events_file_deleted AFTER DELETE ON files.chat_files
  FOR EACH ROW EXECUTE FUNCTION files.events_file_deleted();
"""


def upgrade() -> None:
    op.execute(outbox_ddl("files"))
    op.execute(TRIGGERS)


def downgrade() -> None:
    for trigger in ("events_file_created", "events_file_replaced", "events_file_deleted"):
        op.execute(f"DROP TRIGGER {trigger} ON files.chat_files")
    op.execute("DROP FUNCTION files.events_file_written()")
    op.execute("DROP FUNCTION files.events_file_deleted()")
    op.execute(drop_outbox_ddl("files"))
