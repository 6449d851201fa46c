-- Sign-in hardening: a browser that signed in before gets a password-verification slot of its
-- own (`auth::password`), so a distributed flood of wrong passwords that fills the shared queue
-- does not turn its user away. The device cookie is stored as its SHA-256, like sessions.
CREATE TABLE trusted_devices (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id, created_at);
CREATE INDEX trusted_devices_expiry ON trusted_devices (expires_at);
