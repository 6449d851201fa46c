-- Scale-out (issue 9): MCP sessions (`Mcp-Session-Id`, revisions 2025-03-26 … 2025-11-25) live
-- in the database, so any replica serves any request of a session. Portable SQL (SQLite and
-- PostgreSQL): TEXT and BIGINT only.

-- One row per live session. The id (256 random bits) is stored only as its SHA-256. `ordinal`
-- orders sessions minted within the same second (per process), so a user's oldest goes first.
-- `last_seen` is refreshed at most once a minute per replica (idle TTL is 24 h).
CREATE TABLE mcp_sessions (
    id_hash TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    log_level BIGINT NOT NULL DEFAULT 1,
    initialized BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mcp_sessions_user ON mcp_sessions(user_id, created_at, ordinal);
CREATE INDEX mcp_sessions_last_seen ON mcp_sessions(last_seen);

-- Sessions ended by DELETE or by the per-user cap, in commit order: every replica reads the
-- entries after the last `seq` it saw and drops those sessions from its cache (and ends their
-- GET streams). `seq` comes from `mcp_session_end_seq`, bumped in the ending transaction, so
-- entries become visible in `seq` order. Pruned after an hour.
CREATE TABLE mcp_session_ends (
    seq BIGINT PRIMARY KEY,
    id_hash TEXT NOT NULL,
    ended_at BIGINT NOT NULL
);
CREATE INDEX mcp_session_ends_at ON mcp_session_ends(ended_at);
CREATE TABLE mcp_session_end_seq (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO mcp_session_end_seq (id, seq) VALUES (1, 0);
