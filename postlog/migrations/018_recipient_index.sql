-- The sender reads a campaign's recipients as pages of a list's subscribers in id order from
-- an id on (services/sender/recipients.py). projections/subscribers.py now creates this index
-- with the table; this adds it to a table created before, so the page is an index range
-- whatever the planner's statistics say. A database whose read model is not created yet gets
-- it from the projection.
DO $$
BEGIN
    IF to_regclass('readmodel.subscriber_lists') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS subscriber_lists_list_id_subscriber_id_idx
            ON readmodel.subscriber_lists (list_id, subscriber_id);
    END IF;
END
$$;
