-- Who removed a stroke and how, so that a resume the replay buffer cannot answer (Redis restarted,
-- history aged out) is answered from here with the same events a live client saw.
ALTER TABLE whiteboard_strokes
    ADD COLUMN removed_reason text,
    ADD COLUMN removed_by uuid REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX whiteboard_strokes_removed ON whiteboard_strokes (space_id, removed_seq)
    WHERE removed_seq IS NOT NULL;
