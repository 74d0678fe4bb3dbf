"""The transactional outbox of one schema, as the events revisions created it (prompts 0006, files
0004, exports 0005). Frozen with those revisions: a later change of the outbox is a new revision.

`<schema>.events` holds one row per committed change, written by AFTER triggers in the transaction
of the change itself, so an event exists if and only if its change committed:
- `seq` is the insert order (an identity); it is NOT the commit order: a transaction that took a
  lower seq may commit after one with a higher seq.
- `position` is the commit order, NULL when written: the relay (services/common/events) gives the
  committed rows positions in seq order, one batch at a time under the row lock of
  `<schema>.event_sequencer` (its `last_position` is the stream's head). Readers read only
  positioned rows, by position, so a reader past position P never misses a row placed later.
- `owner` (indexed) is the user whose data changed: readers filter on it, erasure deletes by it.

`<schema>.emit_event(type, subject, owner, data)` inserts one row. It sends no notification: the
relay polls for unplaced rows (one index probe), which costs the writing transaction nothing,
where a NOTIFY from every writer was measured to double the CPU a create costs.
"""

from __future__ import annotations


def outbox_ddl(schema: str) -> str:
    """The events table, its sequencer row and the emit function of `schema`."""
    return f"""
CREATE TABLE {schema}.events (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  position bigint,
  type varchar(64) NOT NULL,
  subject varchar(1024) NOT NULL,
  owner varchar(255) NOT NULL,
  data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_events PRIMARY KEY (seq)
);
CREATE UNIQUE INDEX ix_events_position ON {schema}.events (position);
CREATE INDEX ix_events_pending ON {schema}.events (seq) WHERE position IS NULL;
CREATE INDEX ix_events_owner_position ON {schema}.events (owner, position);
CREATE INDEX ix_events_created_at ON {schema}.events USING brin (created_at);

CREATE TABLE {schema}.event_sequencer (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_position bigint NOT NULL
);
INSERT INTO {schema}.event_sequencer (id, last_position) VALUES (true, 0);

CREATE FUNCTION {schema}.emit_event(p_type varchar, p_subject varchar, p_owner varchar, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {schema}.events (type, subject, owner, data) VALUES (p_type, p_subject, p_owner, p_data);
END $$;
"""


def drop_outbox_ddl(schema: str) -> str:
    """Undoes outbox_ddl (after the schema's event triggers are dropped)."""
    return f"""
DROP FUNCTION {schema}.emit_event(varchar, varchar, varchar, jsonb);
DROP TABLE {schema}.event_sequencer;
DROP TABLE {schema}.events;
"""
