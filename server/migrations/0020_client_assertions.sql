-- private_key_jwt client assertions (RFC 7523 §3 item 7): every `jti` a client used, hashed, kept
-- until the assertion expires, so a replay is refused across restarts and replicas. The primary
-- key settles concurrent replays in the database.
CREATE TABLE client_assertion_jtis (
    client_id TEXT NOT NULL,
    jti_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis(expires_at);
