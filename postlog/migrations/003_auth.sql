-- Users of the API. Command-side state that is not event-sourced data of listmonk's model:
-- the user's creation is still appended as an event; this table is the credential index.
CREATE TABLE eventlog.api_users (
    id              bigint      PRIMARY KEY,
    username        text        NOT NULL UNIQUE,
    user_type       text        NOT NULL CHECK (user_type IN ('user', 'api')),
    password_hash   text        NOT NULL,
    status          text        NOT NULL DEFAULT 'enabled',
    created_at      timestamptz NOT NULL DEFAULT now()
);
