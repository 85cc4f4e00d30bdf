-- Moderation: account roles and suspensions, takedowns of posts, comments and spaces, reports, and an
-- append-only audit log of every moderation and role action.

ALTER TABLE users
    ADD COLUMN role              text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
    ADD COLUMN flagged_at        timestamptz,          -- marked for review by a moderator
    ADD COLUMN suspended_at      timestamptz,
    ADD COLUMN suspended_until   timestamptz,          -- NULL with suspended_at set: until lifted
    ADD COLUMN suspension_reason text CHECK (char_length(suspension_reason) <= 1000);
-- `report` notifications go to every moderator.
CREATE INDEX users_staff ON users (role) WHERE role <> 'user';

-- A taken-down item stays in the database (a moderator may restore it): every read path leaves it
-- out for everyone but its author, who sees it marked as removed with the reason.
ALTER TABLE posts
    ADD COLUMN removed_at     timestamptz,
    ADD COLUMN removed_reason text CHECK (char_length(removed_reason) <= 1000);
ALTER TABLE comments
    ADD COLUMN removed_at     timestamptz,
    ADD COLUMN removed_reason text CHECK (char_length(removed_reason) <= 1000);
ALTER TABLE spaces
    ADD COLUMN removed_at     timestamptz,
    ADD COLUMN removed_reason text CHECK (char_length(removed_reason) <= 1000);

CREATE TABLE reports (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reporter_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_type       text NOT NULL CHECK (target_type IN ('user', 'post', 'comment', 'space')),
    target_id         text NOT NULL,             -- spaces have text ids, the others uuids
    target_owner_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    category          text NOT NULL CHECK (category IN ('spam', 'abuse', 'illegal', 'other')),
    comment           text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 1000),
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    assignee_id       uuid REFERENCES users(id) ON DELETE SET NULL,
    resolution_action text,
    resolution_note   text CHECK (char_length(resolution_note) <= 1000),
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolved_at       timestamptz,
    -- Reporting the same target twice returns the first report.
    UNIQUE (reporter_id, target_type, target_id)
);
CREATE INDEX reports_status_created ON reports (status, created_at, id);

ALTER TABLE notifications ADD COLUMN report_id uuid REFERENCES reports(id) ON DELETE CASCADE;

-- No foreign keys: the history outlives the accounts and content it names, and a cascading SET NULL
-- would be an UPDATE, which the trigger refuses.
CREATE TABLE moderation_audit (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id    uuid,                              -- NULL: the command line (`hub admin`)
    actor       text NOT NULL,                     -- the actor's handle then, or "hub admin"
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX moderation_audit_at ON moderation_audit (at, id);
CREATE INDEX moderation_audit_actor ON moderation_audit (actor_id, at);
CREATE INDEX moderation_audit_target ON moderation_audit (target_id, at);

-- Append-only in the database itself: not even a bug in the hub can rewrite the history.
CREATE FUNCTION moderation_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'moderation_audit is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER moderation_audit_no_update BEFORE UPDATE OR DELETE ON moderation_audit
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();
CREATE TRIGGER moderation_audit_no_truncate BEFORE TRUNCATE ON moderation_audit
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_audit_append_only();
