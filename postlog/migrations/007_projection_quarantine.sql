-- Events a projection could not apply (docs/projections.md, "When a projection cannot apply an
-- event"). The runner writes a row in the transaction that moves the projection's checkpoint past
-- the event, so nothing is ever skipped without a trace. A row with caused_by NULL is the event
-- that failed itself; it freezes its stream for that projection, and every later event of the
-- stream is recorded too, with caused_by naming it. A rebuild replaces the projection's rows
-- (it stages its own under the name '<projection>__rebuild' until the swap).
-- error holds the SQLSTATE, error class and primary message only: never the DETAIL/CONTEXT
-- lines, which can quote the row being written (personal data).
CREATE TABLE readmodel.projection_quarantine (
    projection      text        NOT NULL,
    event_id        uuid        NOT NULL,
    tx_id           xid8        NOT NULL,
    global_position bigint      NOT NULL,
    stream_id       text        NOT NULL,
    type            text        NOT NULL,
    error           text        NOT NULL,
    caused_by       uuid,
    attempts        integer     NOT NULL,
    first_failed_at timestamptz NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
);
CREATE INDEX projection_quarantine_stream_idx
    ON readmodel.projection_quarantine (projection, stream_id);
