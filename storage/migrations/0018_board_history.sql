-- When a stroke was taken off the board, so that the board's history (GET /spaces/{id}/board/history)
-- tells when each erase, clear and undo happened, as it tells when each stroke was drawn. Removals
-- made before this column read as of unknown time (NULL).
ALTER TABLE whiteboard_strokes ADD COLUMN removed_at timestamptz;
