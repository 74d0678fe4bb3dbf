"""The transactional outbox of one schema, as the events revisions created it (prompts 0006, files
0004, exports 0005). Frozen with those revisions: a later change of the outbox is a new revision.

Two tables, so the writing transaction pays for one narrow insert and nothing else:
- `<schema>.event_inbox` gets one row per committed change, written by AFTER triggers in the
  transaction of the change itself, so an event exists if and only if its change committed. Its
  `seq` (an identity) is the insert order, NOT the commit order: a transaction that took a lower
  seq may commit after one with a higher seq. No index but its key; rows stay there for moments.
- `<schema>.events` holds the events in commit order: the relay (services/common/events) calls
  `<schema>.place_events(batch)`, which moves the committed inbox rows here in seq order, one
  batch per transaction under the row lock of `<schema>.event_sequencer` (its `last_position` is
  the stream's head), numbering them after the head. Readers read only this table, by position, so a reader past position P never misses a row
  placed later. `owner` (indexed with the position) is the user whose data changed: readers filter
  on it, erasure deletes by it (from both tables: the inbox is a few rows, scanned).

`<schema>.emit_event(type, subject, owner, data)` inserts one inbox row. It sends no notification:
the relay polls the inbox (one index probe), which costs the writing transaction nothing, where a
NOTIFY from every writer was measured to double the CPU a create costs.
"""

from __future__ import annotations


def outbox_ddl(schema: str) -> str:
    """The events table, its sequencer row and the emit function of `schema`."""
    return f"""
CREATE TABLE {schema}.event_inbox (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  type varchar(64) NOT NULL,
  subject varchar(1024) NOT NULL,
  owner varchar(255) NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT pk_event_inbox PRIMARY KEY (seq)
);

CREATE TABLE {schema}.events (
  position bigint NOT NULL,
  id uuid NOT NULL,
  type varchar(64) NOT NULL,
  subject varchar(1024) NOT NULL,
  owner varchar(255) NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  CONSTRAINT pk_events PRIMARY KEY (position)
);
CREATE INDEX ix_events_owner_position ON {schema}.events (owner, position);

CREATE TABLE {schema}.event_sequencer (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_position bigint NOT NULL
);
INSERT INTO {schema}.event_sequencer (id, last_position) VALUES (true, 0);

-- The relay's turn, in one round trip: nothing to do when the inbox is empty; else the sequencer
-- row's lock (replicas take turns), then, in a statement whose snapshot is taken once the turn is
-- ours, the committed inbox rows moved to the stream in insert order, numbered after the head.
CREATE FUNCTION {schema}.place_events(p_batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_last bigint;
  v_placed integer;
BEGIN
  IF NOT EXISTS (SELECT FROM {schema}.event_inbox) THEN
    RETURN 0;
  END IF;
  SELECT last_position INTO v_last FROM {schema}.event_sequencer FOR UPDATE;
  WITH moved AS (
    DELETE FROM {schema}.event_inbox
     WHERE seq IN (SELECT seq FROM {schema}.event_inbox ORDER BY seq LIMIT p_batch)
    RETURNING *),
  placed AS (
    INSERT INTO {schema}.events (position, id, type, subject, owner, data, created_at)
    SELECT v_last + row_number() OVER (ORDER BY seq), id, type, subject, owner, data, created_at
      FROM moved ORDER BY seq
    RETURNING position)
  SELECT count(*) INTO v_placed FROM placed;
  IF v_placed > 0 THEN
    UPDATE {schema}.event_sequencer SET last_position = v_last + v_placed;
    PERFORM pg_notify('{schema}_events_positioned', (v_last + v_placed)::text);
  END IF;
  RETURN v_placed;
END $$;

CREATE FUNCTION {schema}.emit_event(p_type varchar, p_subject varchar, p_owner varchar, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {schema}.event_inbox (type, subject, owner, data) VALUES (p_type, p_subject, p_owner, p_data);
END $$;
"""


def drop_outbox_ddl(schema: str) -> str:
    """Undoes outbox_ddl (after the schema's event triggers are dropped)."""
    return f"""
DROP FUNCTION {schema}.emit_event(varchar, varchar, varchar, jsonb);
DROP FUNCTION {schema}.place_events(integer);
DROP TABLE {schema}.event_sequencer;
DROP TABLE {schema}.events;
DROP TABLE {schema}.event_inbox;
"""
