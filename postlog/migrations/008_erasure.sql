-- Erasure reaches every table that may hold a subscriber's personal data (docs/crypto-shredding.md).

-- 1. Attachments are sealed. Each file's name and bytes are encrypted with a key of its own; that
-- key is stored once per message it was sent with, sealed with the key that seals the message's
-- content (the subscriber's data key, or the message's key in eventlog.message_keys). Destroying
-- a recipient's key therefore shreds that recipient's access to the file, and the erasing
-- transaction also deletes the recipient's rows here and every file no recipient holds a key to.
-- Files stored before this migration are in clear (sealed = false): their recipients are
-- recorded below with no key, so erasure deletes them when their last recipient is erased.
ALTER TABLE eventlog.attachments ADD COLUMN sealed boolean NOT NULL DEFAULT false;

CREATE TABLE eventlog.attachment_keys (
    attachment_id   uuid        NOT NULL REFERENCES eventlog.attachments ON DELETE CASCADE,
    message_id      uuid        NOT NULL,
    subscriber_id   bigint,     -- NULL: a recipient who is not a subscriber (message key)
    sealed_key      bytea,      -- NULL: a file stored in clear before this migration
    PRIMARY KEY (attachment_id, message_id)
);
CREATE INDEX attachment_keys_subscriber_idx ON eventlog.attachment_keys (subscriber_id)
    WHERE subscriber_id IS NOT NULL;
CREATE INDEX attachment_keys_message_idx ON eventlog.attachment_keys (message_id);

INSERT INTO eventlog.attachment_keys (attachment_id, message_id, subscriber_id)
SELECT DISTINCT t.attachment_id, (e.data->>'message_id')::uuid,
       (e.data->>'subscriber_id')::bigint
FROM eventlog.events e
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(e.data->'attachments') = 'array' THEN e.data->'attachments'
         ELSE '[]'::jsonb END) AS ref(item)
JOIN eventlog.attachments t ON t.attachment_id = (ref.item->>'attachment_id')::uuid
WHERE e.category = 'message' AND e.type = 'message.tx_queued'
ON CONFLICT DO NOTHING;

-- Recipients erased already lose their access, and files in clear nobody may open go.
DELETE FROM eventlog.attachment_keys k
WHERE CASE WHEN k.subscriber_id IS NULL
           THEN NOT EXISTS (SELECT 1 FROM eventlog.message_keys m
                            WHERE m.message_id = k.message_id)
           ELSE NOT EXISTS (SELECT 1 FROM eventlog.subscriber_keys s
                            WHERE s.subscriber_id = k.subscriber_id) END;
DELETE FROM eventlog.attachments t
WHERE NOT t.sealed AND NOT EXISTS (
    SELECT 1 FROM eventlog.attachment_keys k WHERE k.attachment_id = t.attachment_id);

-- 2. Stored idempotent answers that may name people other than through result->>'subscriber_id'
-- (a transactional message's "Subscriber (0: <e-mail>) not found", the body fingerprint of a
-- request naming addresses) carry result->'subjects': ["subscriber:<id>", "email:<sha256>"...].
-- Erasing a subscriber (by id or by its e-mail's hash) or an address clears those records.
CREATE INDEX idempotency_subjects_idx ON eventlog.idempotency USING gin ((result->'subjects'))
    WHERE result ? 'subjects';

-- 3. Import log lines no longer name anyone (line number and reason only). Lines written before
-- this migration lose the e-mail and the row they quoted; a line that still does not fit the
-- new wording is dropped.
UPDATE eventlog.import_logs
SET line = regexp_replace(line,
    '^([0-9/]+ [0-9:.]+ skipping invalid attributes JSON on line [0-9]+) for ''.*''(: [^'']*)$',
    '\1\2')
WHERE line ~ '^[0-9/]+ [0-9:.]+ skipping invalid attributes JSON on line [0-9]+ for ''';
UPDATE eventlog.import_logs
SET line = regexp_replace(line, '^([0-9/]+ [0-9:.]+ skipping line [0-9]+: Invalid email\.): \[.*\]$',
                          '\1')
WHERE line ~ '^[0-9/]+ [0-9:.]+ skipping line [0-9]+: Invalid email\.: \[';
DELETE FROM eventlog.import_logs
WHERE line ~ '^[0-9/]+ [0-9:.]+ skipping invalid attributes JSON on line [0-9]+ for '''
   OR line ~ '^[0-9/]+ [0-9:.]+ skipping line [0-9]+: .*: \[';
