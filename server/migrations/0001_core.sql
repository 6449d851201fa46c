-- Core aggregates: workspaces, users, memberships, OAuth clients, grants and tokens.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Times are unix seconds (BIGINT),
-- identifiers are application-generated TEXT, secrets are stored only as SHA-256 hex.

CREATE TABLE workspaces (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_slug TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_slug, user_id)
);

-- kind: 'dcr' (RFC 7591), 'cimd' (client ID metadata document), 'builtin' (admin CLI tokens).
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_secret_hash TEXT,
    client_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

INSERT INTO oauth_clients (client_id, client_secret_hash, client_name, kind, redirect_uris,
    token_endpoint_auth_method, grant_types, response_types, metadata, created_at)
VALUES ('gigamcp-admin-cli', NULL, 'gigamcp admin CLI (personal access token)', 'builtin', '[]',
    'none', '[]', '[]', '{}', 0);

-- A grant: one user let one client act on one workspace resource with some scopes.
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_slug TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_workspace ON grants(workspace_slug);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_grant ON access_tokens(grant_id);

-- Refresh tokens rotate: a used token records its successor and the time it was rotated.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    successor_hash TEXT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

-- Bumped by every change that can invalidate a cached bearer validation (revocation, membership
-- removal), so other processes sharing the database drop their caches within one poll interval.
CREATE TABLE auth_epoch (
    id BIGINT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);

-- Process-wide settings, e.g. the public URL `serve` last ran with (admin commands mint tokens
-- bound to MCP URLs under it).
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
