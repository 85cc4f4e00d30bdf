-- Search over posts: `ILIKE '%q%'` on the text of 3+ character queries, served by a trigram GIN
-- index. Unlisted posts are never searched, so the index leaves them out (search's statement repeats
-- `visibility <> 'unlisted'`, which lets the planner use this partial index). `#tag` queries read
-- post_hashtags through post_hashtags_tag (0008).
--
-- As in 0010, the index exists only where pg_trgm does; without it search scans and finds the same.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX posts_text_trgm ON posts USING gin (text gin_trgm_ops) WHERE visibility <> 'unlisted';
    END IF;
END
$$;
