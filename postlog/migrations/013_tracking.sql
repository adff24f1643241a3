-- View and click tracking (docs/tracking.md). Tracked links get listmonk's integer ids from a
-- sequence, taken by whoever registers a link (the sender when it compiles a campaign, the
-- query API's web view); the link.registered event carries the id. Gaps are fine.
CREATE SEQUENCE IF NOT EXISTS eventlog.link_id_seq;
