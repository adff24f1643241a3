-- Unique e-mails, case-insensitively, without keeping addresses in clear: one row per live
-- subscriber keyed by the SHA-256 (hex) of its lower-cased e-mail. Written in the same
-- transaction as the subscriber's events; the row is deleted when the subscriber is erased.
CREATE TABLE eventlog.subscriber_emails (
    email_hash      text        PRIMARY KEY,
    subscriber_id   bigint      NOT NULL UNIQUE
);

-- Erasing a subscriber clears the answers stored for its idempotent commands (they hold its
-- profile); those records name it in result->>'subscriber_id'.
CREATE INDEX idempotency_subscriber_idx ON eventlog.idempotency ((result->>'subscriber_id'))
    WHERE result ? 'subscriber_id';
