-- What search and every visibility check read per row, made cheap.
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
CREATE INDEX users_suspended ON users (id) WHERE suspended_at IS NOT NULL;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        ALTER TABLE posts ADD COLUMN text_trigrams integer
            GENERATED ALWAYS AS (coalesce(array_length(show_trgm(text), 1), 0)) STORED;
    END IF;
END
$$;
