-- The whiteboard: one board per space (its position: seq + epoch) and its strokes.
-- Both reference spaces(id) ON DELETE CASCADE so purging an expired space removes its drawing.

CREATE TABLE whiteboards (
    space_id    text PRIMARY KEY REFERENCES spaces(id) ON DELETE CASCADE,
    -- Changes whenever history is lost (a board recreated), so clients never splice two histories.
    epoch       text NOT NULL,
    -- Last sequence number handed out; every stroke, erase, clear and undo takes the next one.
    seq         bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE whiteboard_strokes (
    space_id    text NOT NULL REFERENCES whiteboards(space_id) ON DELETE CASCADE,
    id          uuid NOT NULL,             -- chosen by the client: retries are idempotent
    seq         bigint NOT NULL,
    author_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    tool        text NOT NULL,
    color       text NOT NULL,
    width       double precision NOT NULL,
    points      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set by erase, clear or undo (the seq of that event); the row is kept so a retried stroke id
    -- still answers with its original ack instead of drawing again.
    removed_seq bigint,
    PRIMARY KEY (space_id, id)
);
CREATE UNIQUE INDEX whiteboard_strokes_seq ON whiteboard_strokes (space_id, seq);
CREATE INDEX whiteboard_strokes_live ON whiteboard_strokes (space_id, seq) WHERE removed_seq IS NULL;
-- undo finds the caller's newest live stroke.
CREATE INDEX whiteboard_strokes_author ON whiteboard_strokes (space_id, author_id, seq DESC)
    WHERE removed_seq IS NULL;
