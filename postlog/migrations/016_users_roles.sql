-- Users and roles (issue 12): the credential index grows the user's profile flags and its
-- roles, and a role index holds what each role grants. Both are command-side state written in
-- the same transaction as the user.* / role.* events, and read together by the request guard in
-- one indexed query (docs/users_roles.md), so a change is in force on every process at commit.

CREATE TABLE eventlog.api_roles (
    id           bigint  PRIMARY KEY,
    role_type    text    NOT NULL CHECK (role_type IN ('user', 'list')),
    name         text    NOT NULL,
    permissions  text[]  NOT NULL DEFAULT '{}',
    -- list roles: [{"id": list_id, "permissions": ["list:get", "list:manage"]}, ...]
    lists        jsonb   NOT NULL DEFAULT '[]',
    UNIQUE (role_type, name)
);

-- listmonk's primordial Super Admin role: built in, never changed or deleted.
INSERT INTO eventlog.api_roles (id, role_type, name, permissions) VALUES
    (1, 'user', 'Super Admin', ARRAY[
        'lists:get_all', 'lists:manage_all',
        'subscribers:get', 'subscribers:get_all', 'subscribers:manage', 'subscribers:import',
        'subscribers:sql_query', 'tx:send',
        'campaigns:get', 'campaigns:get_all', 'campaigns:get_analytics', 'campaigns:manage',
        'campaigns:manage_all', 'campaigns:send',
        'bounces:get', 'bounces:manage', 'webhooks:post_bounce',
        'media:get', 'media:manage', 'templates:get', 'templates:manage',
        'users:get', 'users:manage', 'roles:get', 'roles:manage',
        'settings:get', 'settings:manage', 'settings:maintain']);

CREATE SEQUENCE eventlog.role_id_seq START 2;

ALTER TABLE eventlog.api_users
    ADD COLUMN password_login boolean NOT NULL DEFAULT false,
    ADD COLUMN user_role_id   bigint  NOT NULL DEFAULT 1 REFERENCES eventlog.api_roles (id),
    ADD COLUMN list_role_id   bigint  NULL REFERENCES eventlog.api_roles (id),
    ADD COLUMN updated_at     timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT api_users_status CHECK (status IN ('enabled', 'disabled'));

-- The super-admin of postlog up (a password user) logs in with its password.
UPDATE eventlog.api_users SET password_login = true WHERE user_type = 'user';

-- Users' data keys (crypto-shredding of their e-mail and name; events/user_keys.py).
CREATE TABLE eventlog.user_keys (
    user_id   bigint PRIMARY KEY,
    data_key  bytea  NOT NULL
);
