-- Application settings (listmonk's /api/settings) are events ("settings.changed", stream
-- settings-app). Their secrets (SMTP passwords, API keys...) are sealed in those events with
-- the installation's settings data key, kept here (wrapped with POSTLOG_MASTER_KEY when one
-- is set; see events/settings_secrets.py). The key is never destroyed: settings are not
-- personal data, and losing it loses every stored secret.
CREATE TABLE IF NOT EXISTS eventlog.settings_keys (
    key_id          integer     PRIMARY KEY,
    data_key        bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
