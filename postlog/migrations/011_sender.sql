-- Campaign delivery: which sender process works on which chunk of a campaign's recipients.
-- The facts (who was delivered, who failed) are events on each chunk's stream
-- (delivery-<campaign>-<chunk>, events/deliveries.py); these tables only coordinate the
-- processes: a lease per chunk, and per campaign how far chunks were cut. They hold ids and
-- counts, no personal data. See docs/sender.md.
CREATE SCHEMA IF NOT EXISTS sender;

-- One row per campaign the sender ever worked on.
CREATE TABLE sender.campaign_runs (
    campaign_id     bigint      PRIMARY KEY,
    -- stream version of the campaign's last start/resume seen: a newer one resets ``errors``
    launch_version  integer     NOT NULL DEFAULT 0,
    -- highest subscriber id inside a chunk: the next chunk starts after it
    covered_through bigint      NOT NULL DEFAULT 0,
    next_chunk      integer     NOT NULL DEFAULT 0,
    -- last retry round applied (chunks with failures reopened)
    retry_round     integer     NOT NULL DEFAULT 0,
    -- deliveries recorded as failed since the last start/resume (app.max_send_errors)
    errors          integer     NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per chunk: recipients with ids in (after_id, last_id]. ``holder`` is the sender
-- process working on it until ``lease_until`` (renewed while it works); a chunk whose lease
-- ran out is taken over from its recorded progress.
CREATE TABLE sender.chunks (
    campaign_id     bigint      NOT NULL,
    chunk_no        integer     NOT NULL,
    after_id        bigint      NOT NULL,
    last_id         bigint      NOT NULL,
    round           integer     NOT NULL DEFAULT 0,
    holder          text        NULL,
    lease_until     timestamptz NULL,
    done            boolean     NOT NULL DEFAULT false,
    -- deliveries of this chunk failed for good, as its holder last recorded
    failed          integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, chunk_no)
);
CREATE INDEX chunks_unfinished_idx ON sender.chunks (campaign_id, chunk_no) WHERE NOT done;
