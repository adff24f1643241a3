-- Logins for people (issue 12, part 4; docs/logins.md): server-side sessions, the second step
-- of a TOTP login, brute-force throttling, and users' TOTP state in the credential index.
-- All of it is command-side state read by every process: a logout, a disabled user or a
-- changed password is in force everywhere at commit.

-- Sessions and pending second steps. The cookie's value is never stored: only its sha256.
CREATE TABLE eventlog.sessions (
    id_hash     text        PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES eventlog.api_users (id) ON DELETE CASCADE,
    -- 'session': a logged-in browser; 'twofa': password checked, TOTP code still due
    kind        text        NOT NULL CHECK (kind IN ('session', 'twofa')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user ON eventlog.sessions (user_id);
CREATE INDEX sessions_expiry ON eventlog.sessions (expires_at);

-- TOTP: the secret is sealed with the user's data key (aad user:<id>:twofa_key), so deleting
-- the user shreds it; the last accepted time step refuses a code's replay.
ALTER TABLE eventlog.api_users
    ADD COLUMN twofa_type      text   NOT NULL DEFAULT 'none' CHECK (twofa_type IN ('none', 'totp')),
    ADD COLUMN twofa_key       text   NULL,
    ADD COLUMN twofa_last_step bigint NULL;

-- A user disabled, turned into an API user, without password login, or with a new password
-- loses every session at once, whichever command (API, profile, CLI) changed the row. A login
-- that only upgrades the stored hash to argon2 sets postlog.rehash for its transaction.
CREATE FUNCTION eventlog.revoke_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'enabled' OR NOT NEW.password_login OR NEW.user_type <> 'user'
       OR (NEW.password_hash IS DISTINCT FROM OLD.password_hash
           AND coalesce(current_setting('postlog.rehash', true), '') <> 'on') THEN
        DELETE FROM eventlog.sessions WHERE user_id = NEW.id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER api_users_revoke_sessions AFTER UPDATE ON eventlog.api_users
    FOR EACH ROW EXECUTE FUNCTION eventlog.revoke_sessions();

-- Failed logins per username and per client address (keys are sha256 of those, never the
-- text a visitor typed), shared by every process.
CREATE TABLE eventlog.login_throttle (
    key           text        PRIMARY KEY,
    failures      integer     NOT NULL,
    window_start  timestamptz NOT NULL,
    locked_until  timestamptz NULL
);
