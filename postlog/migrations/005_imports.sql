-- Subscriber imports (POST /api/import/subscribers): command-side state of the one import that
-- may run at a time, shared by every command API process. The subscribers it creates are events;
-- this is only the progress, the owner's heartbeat and the log, which listmonk keeps in memory.
CREATE TABLE eventlog.imports (
    slot            smallint    PRIMARY KEY DEFAULT 1 CHECK (slot = 1),
    import_id       uuid,
    name            text        NOT NULL DEFAULT '',
    total           bigint      NOT NULL DEFAULT 0,
    imported        bigint      NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'none'
        CHECK (status IN ('none', 'importing', 'stopping', 'finished', 'failed')),
    owner           text        NOT NULL DEFAULT '',
    started_at      timestamptz,
    heartbeat_at    timestamptz,
    finished_at     timestamptz
);
INSERT INTO eventlog.imports (slot) VALUES (1);

-- The running or last import's log lines (personal data of skipped rows may appear, as in
-- listmonk's log): replaced by the next import, cleared by DELETE /api/import/subscribers.
CREATE TABLE eventlog.import_logs (
    import_id       uuid        NOT NULL,
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    line            text        NOT NULL,
    PRIMARY KEY (import_id, seq)
);

-- GET /api/import/subscribers[/logs] are served by the query API, which may only read schema
-- readmodel: these two views expose the status and the log, nothing else of eventlog. An import
-- whose process stopped sending heartbeats (crashed) reads as failed.
CREATE VIEW readmodel.import_status AS
SELECT name, total, imported,
       CASE WHEN status IN ('importing', 'stopping')
                 AND heartbeat_at < now() - interval '60 seconds' THEN 'failed'
            ELSE status END AS status
FROM eventlog.imports WHERE slot = 1;

CREATE VIEW readmodel.import_log AS
SELECT l.seq, l.line
FROM eventlog.import_logs l JOIN eventlog.imports i ON i.import_id = l.import_id;

GRANT SELECT ON readmodel.import_status, readmodel.import_log TO postlog_reader;
