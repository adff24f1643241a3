-- Bounces (docs/bounces.md). Bounce ids, like listmonk's serial bounces.id, come from a
-- sequence taken by the command recording the bounce (subscriber.bounce_recorded).
CREATE SEQUENCE IF NOT EXISTS eventlog.bounce_id_seq;

-- A bounce names its subscriber and campaign by uuid (a webhook's subscriber_uuid, a bounced
-- e-mail's X-Listmonk-Subscriber / X-Listmonk-Campaign headers). The command side finds their
-- streams by the uuid in their creation event (services/command_api/bounces/lookups.py); these
-- partial indexes hold only those creation events, so the lookup is one index probe and every
-- other append pays nothing.
CREATE INDEX IF NOT EXISTS events_subscriber_uuid_idx ON eventlog.events ((lower(data->>'uuid')))
    WHERE type = 'subscriber.created';
CREATE INDEX IF NOT EXISTS events_campaign_uuid_idx ON eventlog.events ((lower(data->>'uuid')))
    WHERE type = 'campaign.created';
