-- Posts and their media tied by keys. A media row's `post_id` names a post or nothing: deleting a
-- post deletes its media in the same transaction (storage.postgres.posts), and any other way a post
-- goes leaves its media unattached for the sweeper instead of pointing at nothing. A post's
-- `post_media` row goes with its medium (DELETE /media/{id}: "a post using it loses it").

UPDATE media m SET post_id = NULL
WHERE m.post_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = m.post_id);
ALTER TABLE media ADD CONSTRAINT media_post_fk
    FOREIGN KEY (post_id) REFERENCES posts(id) ON DELETE SET NULL;

DELETE FROM post_media pm WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.id = pm.media_id);
ALTER TABLE post_media ADD CONSTRAINT post_media_media_fk
    FOREIGN KEY (media_id) REFERENCES media(id) ON DELETE CASCADE;

-- When a row last became unattached (its upload, or an edit that dropped it from a post): the
-- sweeper counts HUB_MEDIA_UNATTACHED_TTL from here, so an old image dropped by an edit gets the
-- whole delay too, not deletion at the next sweep.
ALTER TABLE media ADD COLUMN unattached_since timestamptz NOT NULL DEFAULT now();
UPDATE media SET unattached_since = created_at;
DROP INDEX media_unattached;
CREATE INDEX media_unattached ON media (unattached_since) WHERE post_id IS NULL;
