-- Media (uploaded files, docs/media.md): listmonk's serial media ids come from a sequence taken
-- by the upload command. The files themselves live with the upload provider (a directory or an
-- S3 bucket); the facts are events on media-<id> streams and the readmodel.media /
-- readmodel.campaign_media tables are built by the media projection (projections/media.py).
CREATE SEQUENCE IF NOT EXISTS eventlog.media_id_seq;
