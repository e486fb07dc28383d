-- Replies nobody waits for (issue 12 item 8): a reply naming an order this
-- service has no saga for is kept here (a reply to an ended saga is an
-- IGNORED_REPLY row of its saga log), and counted in oms_orphan_replies_total.
CREATE TABLE IF NOT EXISTS orphan_replies (
    event_id    uuid PRIMARY KEY,
    event_type  text NOT NULL,
    order_id    text NOT NULL,
    command_id  text,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orphan_replies_received ON orphan_replies (received_at);
