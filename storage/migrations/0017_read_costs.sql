-- What search, the home feed and every visibility check read per row, made cheap.
--
-- `users_suspended`: the suspended accounts, a handful, so that "is the author suspended" is one
-- lookup of this small set per statement (storage.postgres.social.account_suspended) instead of a
-- probe of `users` for every candidate row.
--
-- `posts.text_trigrams`: how many distinct trigrams the text has (pg_trgm's `show_trgm`), kept by
-- PostgreSQL itself. The similarity of a query to a text is at most min(q, t) / max(q, t) of their
-- trigram counts, so post search ranks a common word's thousands of matches by computing the
-- similarity of only those whose bound can still reach the page (storage.postgres.search.posts_sql):
-- 131 -> 25 ms for a word in 5,600 of 1,000,000 posts. Adding the column rewrites `posts` once under
-- an exclusive lock: about 50 s per million posts, during which posting waits.
--
-- As in 0010 and 0013, the column exists only where pg_trgm does; search without it ranks by length.
--
-- `users_followers_count`: the hot authors (more followers than HUB_FEED_HOT_FOLLOWERS, a setting, so
-- no partial index) are found by range instead of reading the row of every account a reader follows.
-- `posts_created`: everyone's newest posts, which every cached feed read merges in
-- (storage.postgres.feed.PostgresFeedRepo.merged), as one range of an index-only scan.
-- `mutes_muted`: who mutes an author, read once when its new post goes out to its followers, instead
-- of a probe per follower.
CREATE INDEX users_suspended ON users (id) WHERE suspended_at IS NOT NULL;
CREATE INDEX users_followers_count ON users (followers_count);
CREATE INDEX posts_created ON posts (created_at, author_id, id);
CREATE INDEX mutes_muted ON mutes (muted_id, muter_id);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        ALTER TABLE posts ADD COLUMN text_trigrams integer
            GENERATED ALWAYS AS (coalesce(array_length(show_trgm(text), 1), 0)) STORED;
    END IF;
END
$$;
