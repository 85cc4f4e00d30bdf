-- Posts, their versions, media, mentions and hashtags; likes and comments; idempotency keys of
-- POST /posts. Counters (posts.likes_count, posts.comments_count, users.posts_count) are
-- denormalised and changed in the transaction that changes what they count; `hub batch counters`
-- recomputes them.
--
-- Media rows live in the `media` table of account media (id text, owner_id uuid, status 'pending' |
-- 'ready', post_id uuid): a post claims ready uploads of its author by setting `media.post_id`, and
-- `post_media` keeps their order. No foreign key points at `media`, so this migration does not depend
-- on it; deleting a medium removes its `post_media` rows.

-- clock_timestamp(), not now(): rows made in one transaction still get distinct keyset positions.
CREATE TABLE posts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    text           text NOT NULL CHECK (char_length(text) <= 5000),
    visibility     text NOT NULL CHECK (visibility IN ('public', 'unlisted', 'followers')),
    reply_to       uuid REFERENCES posts(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    edited_at      timestamptz,
    likes_count    integer NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
    comments_count integer NOT NULL DEFAULT 0 CHECK (comments_count >= 0)
);
-- A profile's posts, newest first (keyset pages both ways).
CREATE INDEX posts_author_created ON posts (author_id, created_at, id);
CREATE INDEX posts_reply_to ON posts (reply_to) WHERE reply_to IS NOT NULL;

-- What a post said before each edit; version 1 is the original text.
CREATE TABLE post_versions (
    post_id    uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version    integer NOT NULL CHECK (version >= 1),
    text       text NOT NULL,
    media      text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,             -- when this version was written
    PRIMARY KEY (post_id, version)
);

CREATE TABLE post_media (
    post_id  uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    media_id text NOT NULL,
    position smallint NOT NULL CHECK (position BETWEEN 0 AND 3),
    PRIMARY KEY (post_id, position),
    UNIQUE (media_id)                            -- a medium belongs to one post at most
);

CREATE TABLE post_mentions (
    post_id  uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position smallint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
-- "Posts mentioning me", for notifications.
CREATE INDEX post_mentions_user ON post_mentions (user_id, post_id);

CREATE TABLE post_hashtags (
    post_id  uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    tag      text NOT NULL CHECK (char_length(tag) BETWEEN 1 AND 64),  -- case-folded
    position smallint NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_hashtags_tag ON post_hashtags (tag, post_id);

CREATE TABLE likes (
    post_id    uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX likes_post_created ON likes (post_id, created_at, user_id);

CREATE TABLE comments (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id    uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    text       text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
    reply_to   uuid REFERENCES comments(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX comments_post_created ON comments (post_id, created_at, id);
CREATE INDEX comments_author ON comments (author_id);

-- Idempotency-Key of POST /posts, kept an hour per account (the sweeper deletes older ones). The
-- fingerprint is a digest of the request body: a key reused for a different post is refused.
CREATE TABLE post_idempotency_keys (
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    post_id     uuid REFERENCES posts(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX post_idempotency_keys_created ON post_idempotency_keys (created_at);
