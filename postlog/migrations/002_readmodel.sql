-- Read models live in schema readmodel; each projection creates its own tables.
CREATE SCHEMA IF NOT EXISTS readmodel;

-- One row per projection: how far into the log its tables are.
CREATE TABLE readmodel.projection_checkpoints (
    name            text        PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT '0'::xid8,
    global_position bigint      NOT NULL DEFAULT 0,
    stream_seq      bigint      NOT NULL DEFAULT 0,
    generation      integer     NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The query side connects with this role: it may only read the readmodel schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postlog_reader') THEN
        CREATE ROLE postlog_reader NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA readmodel TO postlog_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA readmodel GRANT SELECT ON TABLES TO postlog_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA readmodel TO postlog_reader;
