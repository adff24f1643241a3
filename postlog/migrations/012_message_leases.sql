-- Single-message delivery (transactional, campaign test, opt-in, admin notification mail):
-- which sender process holds which message. The facts (queued, delivered, failed, skipped)
-- are events on each message's stream (message-<uuid>, events/messages.py and
-- events/message_deliveries.py) and the messages waiting are found in the
-- readmodel.message_deliveries read model; this table only keeps two processes from sending
-- the same message at once, and keeps a message waiting out its back-off. Ids and times only,
-- no personal data. See docs/sender.md.
CREATE TABLE sender.message_leases (
    message_id  uuid        PRIMARY KEY,
    -- the process sending it until lease_until (NULL: nobody; lease_until is then the time
    -- before which nobody may take it: a retry's back-off)
    holder      text        NULL,
    lease_until timestamptz NOT NULL DEFAULT now(),
    -- its outcome is recorded for good (delivered, failed, skipped): never taken again
    done        boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_leases_done_idx ON sender.message_leases (updated_at) WHERE done;
