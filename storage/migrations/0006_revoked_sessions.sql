-- Logins cut off before their access tokens expire (logout, refresh-token reuse). Every instance
-- refuses their access tokens while a row exists, whatever it forgot in a restart; a logout-all is
-- users.tokens_not_before instead. A row is kept until the last access token the login may have been
-- issued has expired (`expires_at`); the sweeper deletes it after that.
CREATE TABLE revoked_sessions (
    session_id  text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
