-- Notifications: one row per group a recipient sees, and the accounts that caused it.
--
-- A group is what the list shows as one entry: the likes of one post within a day, the follows of a
-- day, or a single comment, reply, mention or follow request (`group_key` says which). Its actors are
-- distinct accounts, so like -> unlike -> like by one account stays one actor of one group. A group
-- moves to the top (`updated_at`) and becomes unread again when a new account joins it.
--
-- Rows point at what they are about with cascading foreign keys: a deleted post or comment takes its
-- notifications with it. The worker that writes them runs after the commit of what caused them.
CREATE TABLE notifications (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recipient_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type         text NOT NULL CHECK (type IN ('follow', 'follow_request', 'like', 'comment', 'reply', 'mention',
                                               'moderation_warning', 'report')),
    group_key    text NOT NULL CHECK (char_length(group_key) <= 200),
    post_id      uuid REFERENCES posts(id) ON DELETE CASCADE,
    comment_id   uuid REFERENCES comments(id) ON DELETE CASCADE,
    note         text CHECK (char_length(note) <= 2000),   -- a moderation warning's words
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at      timestamptz,
    UNIQUE (recipient_id, group_key)
);
-- The list (newest activity first, keyset pages both ways) and the unread count.
CREATE INDEX notifications_recipient_updated ON notifications (recipient_id, updated_at, id);
CREATE INDEX notifications_unread ON notifications (recipient_id) WHERE read_at IS NULL;
-- `hub batch notifications`: read notifications past the retention.
CREATE INDEX notifications_read_at ON notifications (read_at) WHERE read_at IS NOT NULL;

CREATE TABLE notification_actors (
    notification_id uuid NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    actor_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (notification_id, actor_id)
);
-- A block removes what the blocked account caused.
CREATE INDEX notification_actors_actor ON notification_actors (actor_id, notification_id);
