-- The board after change N is every life that covers N (0019). A B-tree on the start of each life
-- reads every life begun by N, the whole history for a late N (19 ms at change 50,000 of a board of
-- 100,000 changes); a GiST index on the life's interval reads only the lives that cover N (0.9 ms).
-- It needs btree_gist (for the space id beside the range; trusted, shipped with PostgreSQL's contrib
-- and by the embedded server). Without it the same statement answers through the other indexes.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist') THEN
        CREATE EXTENSION IF NOT EXISTS btree_gist;
        CREATE INDEX whiteboard_strokes_life ON whiteboard_strokes USING gist (space_id, int8range(seq, removed_seq));
        CREATE INDEX whiteboard_lives_life ON whiteboard_lives USING gist (space_id, int8range(from_seq, to_seq));
    END IF;
END
$$;
