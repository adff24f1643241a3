-- The unique index of users' e-mails (listmonk's users.email is unique): each person user's
-- e-mail keyed by the SHA-256 (hex) of its lower-cased form, written in the same transaction
-- as the user's events (services/command_api/users/admin.py), dropped when the user is
-- deleted or its e-mail changes. API users have none. No e-mail in clear: like the
-- subscribers' index (004), a hash only.
CREATE TABLE eventlog.user_emails (
    email_hash  text    PRIMARY KEY,
    user_id     bigint  NOT NULL UNIQUE
);
