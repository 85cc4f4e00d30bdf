-- Board elements that can be moved, resized and brought back: text labels and sticky notes carry
-- their text; every change that is not a drawing (erase, clear, undo, transform, restore) is one row
-- of `whiteboard_edits`; and an element's placement over time is a list of lives.
--
-- A stroke row is its element as drawn and its first life: live from `seq` until `removed_seq`
-- (whatever ended it: an erase, a clear, an undo, a transform or a restore). Each later life (the
-- element brought back, or moved) is a row of `whiteboard_lives` with the placement that maps the
-- drawn points onto the board: x' = sx * x + tx, y' = sy * y + ty. An element has at most one open
-- life, so the board after change N is every life that covers N: two indexed reads, never a replay.

ALTER TABLE whiteboard_strokes ADD COLUMN text text;

CREATE TABLE whiteboard_lives (
    space_id text NOT NULL,
    id       uuid NOT NULL,
    from_seq bigint NOT NULL,
    to_seq   bigint,
    sx       double precision NOT NULL,
    sy       double precision NOT NULL,
    tx       double precision NOT NULL,
    ty       double precision NOT NULL,
    PRIMARY KEY (space_id, id, from_seq),
    FOREIGN KEY (space_id, id) REFERENCES whiteboard_strokes (space_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX whiteboard_lives_open ON whiteboard_lives (space_id, id) WHERE to_seq IS NULL;
CREATE INDEX whiteboard_lives_from ON whiteboard_lives (space_id, from_seq);

CREATE TABLE whiteboard_edits (
    space_id  text NOT NULL REFERENCES whiteboards (space_id) ON DELETE CASCADE,
    seq       bigint NOT NULL,
    kind      text NOT NULL,                 -- erase, clear, undo, transform or restore
    author_id uuid REFERENCES users (id) ON DELETE SET NULL,
    at        timestamptz,                   -- unknown (NULL) for removals older than their record
    ids       uuid[] NOT NULL,               -- the elements it changed, in drawing order
    params    double precision[],            -- transform: dx, dy, sx, sy, ox, oy; restore: at
    client_id uuid,                          -- the client's id of a transform or restore: retries
    PRIMARY KEY (space_id, seq)
);
CREATE UNIQUE INDEX whiteboard_edits_client ON whiteboard_edits (space_id, client_id) WHERE client_id IS NOT NULL;

-- The removals made so far, as the history read them from the strokes.
INSERT INTO whiteboard_edits (space_id, seq, kind, author_id, at, ids)
SELECT space_id, removed_seq, coalesce(min(removed_reason), 'erase'), (array_agg(removed_by))[1], max(removed_at),
       array_agg(id ORDER BY seq)
FROM whiteboard_strokes WHERE removed_seq IS NOT NULL
GROUP BY space_id, removed_seq;
