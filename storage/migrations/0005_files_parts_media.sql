-- Multipart uploads keep the part size they were created with, so a change of HUB_MULTIPART_PART_BYTES
-- (or instances configured differently) cannot turn parts uploaded as told into a mismatch at completion.
-- NULL for uploads created before this column: they follow the configured size, as they did.
ALTER TABLE files ADD COLUMN part_size bigint CHECK (part_size > 0);

-- Images still waiting for their variants, oldest first: the sweepers enqueue their media jobs again
-- when the enqueue after completion was lost.
CREATE INDEX files_media_queued ON files (completed_at, id) WHERE processing = 'queued';
