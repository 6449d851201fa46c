-- Knowledge base: documents from the wiki and GitHub connectors, per workspace.
-- Portable SQL (SQLite and PostgreSQL). The search index is rebuilt from these rows, so the
-- store is the single source of truth; chunks are derived and not stored.

CREATE TABLE knowledge_documents (
    workspace TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    -- 'wiki:<page>' or 'github:<owner>/<repo>#<n>'
    id TEXT NOT NULL,
    -- 'wiki' | 'github'
    source TEXT NOT NULL,
    -- GitHub only (NULL for wiki pages): lowercase owner/repo, 'open'|'closed', issue number.
    repo TEXT,
    state TEXT,
    number BIGINT,
    title TEXT NOT NULL,
    -- Absolute, or a path ('/t/…') made absolute with the serving process's public URL.
    url TEXT NOT NULL,
    uri TEXT NOT NULL,
    body TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    -- JSON object
    metadata TEXT NOT NULL,
    -- SHA-256 of everything above except the workspace: unchanged documents are not rewritten.
    content_hash TEXT NOT NULL,
    -- Source's own last-update time (unix seconds), else when the content last changed here.
    updated_at BIGINT NOT NULL,
    ingested_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE UNIQUE INDEX knowledge_documents_uri ON knowledge_documents(workspace, uri);
CREATE INDEX knowledge_documents_repo ON knowledge_documents(workspace, repo, updated_at);

-- Bumped in the same transaction as any change to a workspace's documents; every server process
-- polls it and rebuilds that workspace's index when it moves (admin ingest runs out of process).
CREATE TABLE knowledge_versions (
    workspace TEXT PRIMARY KEY REFERENCES workspaces(slug) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);

-- Last successful run of each connector: 'wiki' or 'github:<owner>/<repo>'.
CREATE TABLE knowledge_syncs (
    workspace TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    connector TEXT NOT NULL,
    synced_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, connector)
);
