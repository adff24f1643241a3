-- Single messages queued for the sender (POST /api/tx, POST /api/campaigns/:id/test).
-- The messages themselves are events (category "message"); these tables hold what must not be
-- inside an immutable event.

-- Files attached to transactional messages, referenced from events by id + SHA-256. Command
-- side storage: rows may be deleted (after delivery, or to erase them); the events keep only
-- the reference.
CREATE TABLE eventlog.attachments (
    attachment_id   uuid        PRIMARY KEY,
    sha256          text        NOT NULL,
    name            text        NOT NULL,
    content_type    text        NOT NULL,
    size            bigint      NOT NULL,
    content         bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Data keys of messages to recipients who are not subscribers (tx "external" mode, or
-- "fallback" with an unknown address): the message's content is sealed with its own key,
-- kept beside the SHA-256 (hex) of the lower-cased address, so erasing an address is
-- DELETE FROM eventlog.message_keys WHERE email_hash = <hash>.
CREATE TABLE eventlog.message_keys (
    message_id      uuid        PRIMARY KEY,
    email_hash      text        NOT NULL,
    data_key        bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_keys_email_idx ON eventlog.message_keys (email_hash);
