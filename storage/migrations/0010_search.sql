-- Search over accounts: handles and display names. Queries of 3+ characters match anywhere
-- (`ILIKE '%q%'`), served by trigram GIN indexes; shorter ones match handle prefixes, served by a
-- btree in pattern order. Guests (no handle) are never searched, so the indexes leave them out.
--
-- pg_trgm is created by 0007 only where the server has it; without it there are no trigram indexes
-- and search answers the same through scans (see storage/postgres/search.py).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX users_handle_trgm ON users USING gin (username gin_trgm_ops) WHERE username IS NOT NULL;
        CREATE INDEX users_display_name_trgm ON users USING gin (display_name gin_trgm_ops)
            WHERE username IS NOT NULL;
    END IF;
END
$$;

CREATE INDEX users_handle_prefix ON users (lower(username) text_pattern_ops) WHERE username IS NOT NULL;
