-- The public subscription form's altcha captcha (services/server_info/captcha.py,
-- docs/server_info.md). A challenge is signed by the query API (GET) and checked by the command
-- API (POST), possibly on other machines: they share the signing key kept here, created on
-- first use. A solved challenge is accepted once: its digest is recorded until it expires, so
-- a replay on any process is refused.
CREATE TABLE IF NOT EXISTS eventlog.captcha_keys (
    key_id      smallint    PRIMARY KEY CHECK (key_id = 1),
    hmac_key    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS eventlog.captcha_spent (
    digest      bytea       PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS captcha_spent_expires_at_idx ON eventlog.captcha_spent (expires_at);
