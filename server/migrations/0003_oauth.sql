-- Authorization-server state: authorization codes, browser sessions, login throttling, audit log,
-- and the sealed successor of a rotated refresh token (refresh grace window).
-- Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT only; secrets stored as SHA-256 hex.

-- RFC 6749 §4.1.2: short-lived, single use, bound to client, redirect URI, PKCE challenge,
-- resource, scopes and user. `redeemed_at` is set by a conditional UPDATE, so the database
-- arbitrates concurrent redemptions; `grant_id` names the grant the code produced.
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_slug TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_explicit BIGINT NOT NULL,
    code_challenge TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT,
    grant_id TEXT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);

-- Browser sessions of signed-in users. Only the SHA-256 of the cookie value is stored.
CREATE TABLE browser_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_user ON browser_sessions(user_id);

-- Failed sign-ins, per subject ('user:<name>' or 'ip:<address>'), for throttling.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures(subject, at);

-- Security-relevant events. Never holds secrets (no tokens, codes, passwords or session ids).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT,
    username TEXT,
    workspace_slug TEXT,
    client_id TEXT,
    grant_id TEXT,
    ip TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_slug, at);
CREATE INDEX audit_log_user ON audit_log(user_id, at);

-- The successor pair of a rotated refresh token, encrypted with a key derived from the rotated
-- token itself: only a holder of that token can read it, and only within the grace window.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed TEXT;
