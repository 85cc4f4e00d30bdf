-- Accounts, refresh-token families, spaces with members and invites, text bins with revisions.

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username         text,               -- NULL for guests until they register
    display_name     text NOT NULL,
    password_hash    text,
    is_guest         boolean NOT NULL DEFAULT false,
    tokens_not_before timestamptz NOT NULL DEFAULT to_timestamp(0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username)) WHERE username IS NOT NULL;

-- One row per issued refresh token; a family is one login's chain of rotations.
CREATE TABLE refresh_tokens (
    jti         text PRIMARY KEY,
    family_id   text NOT NULL,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE spaces (
    id          text PRIMARY KEY,          -- unguessable (128 random bits, url-safe)
    name        text NOT NULL,
    owner_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    visibility  text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'link')),
    link_role   text NOT NULL DEFAULT 'viewer' CHECK (link_role IN ('viewer', 'editor')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX spaces_expires_at ON spaces (expires_at);

CREATE TABLE space_members (
    space_id   text NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('viewer', 'editor', 'owner')),
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_members_user ON space_members (user_id, joined_at, space_id);

CREATE TABLE space_invites (
    id          text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,     -- sha256 of the token; the token itself is never stored
    space_id    text NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('viewer', 'editor')),
    max_uses    integer,
    uses        integer NOT NULL DEFAULT 0,
    expires_at  timestamptz,
    created_by  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX space_invites_space ON space_invites (space_id);

CREATE TABLE bins (
    id            text PRIMARY KEY,
    space_id      text NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
    title         text NOT NULL,
    content       text NOT NULL,
    language      text NOT NULL DEFAULT 'text',
    version       integer NOT NULL DEFAULT 1,
    created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    burn_after_reading boolean NOT NULL DEFAULT false,
    expires_at    timestamptz
);
CREATE INDEX bins_space_created ON bins (space_id, created_at, id);

CREATE TABLE bin_revisions (
    bin_id      text NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    version     integer NOT NULL,
    title       text NOT NULL,
    content     text NOT NULL,
    language    text NOT NULL,
    author_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bin_id, version)
);
