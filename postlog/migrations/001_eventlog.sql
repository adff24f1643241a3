-- The event log: the single source of truth. Rows are never updated or deleted.
CREATE SCHEMA IF NOT EXISTS eventlog;

CREATE TABLE eventlog.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    category        text        NOT NULL,
    version         integer     NOT NULL CHECK (version >= 1),
    type            text        NOT NULL,
    schema_version  smallint    NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);
CREATE INDEX events_tx_position_idx ON eventlog.events (tx_id, global_position);
CREATE INDEX events_category_idx ON eventlog.events (category, tx_id, global_position);
CREATE INDEX events_recorded_at_idx ON eventlog.events (recorded_at);

-- Guard immutability: stored events are never rewritten.
CREATE FUNCTION eventlog.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventlog.events is append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON eventlog.events
    FOR EACH ROW EXECUTE FUNCTION eventlog.forbid_change();

-- Idempotent commands: one row per Idempotency-Key, written in the append transaction.
CREATE TABLE eventlog.idempotency (
    key             text        PRIMARY KEY,
    fingerprint     text        NOT NULL,
    result          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    tx_id           xid8,
    global_position bigint,
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Checkpoints of processes that follow the log (the relay; projections keep theirs beside their tables).
CREATE TABLE eventlog.checkpoints (
    name            text        PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT '0'::xid8,
    global_position bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Per-subscriber data keys for crypto-shredding personal data (deleting the row erases the data).
CREATE TABLE eventlog.subscriber_keys (
    subscriber_id   bigint      PRIMARY KEY,
    data_key        bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE eventlog.shredded_subscribers (
    subscriber_id   bigint      PRIMARY KEY,
    shredded_at     timestamptz NOT NULL DEFAULT now()
);

-- Integer ids that listmonk clients expect come from sequences, taken by the command side.
CREATE SEQUENCE eventlog.list_id_seq;
CREATE SEQUENCE eventlog.subscriber_id_seq;
CREATE SEQUENCE eventlog.campaign_id_seq;
CREATE SEQUENCE eventlog.template_id_seq;
CREATE SEQUENCE eventlog.user_id_seq;
