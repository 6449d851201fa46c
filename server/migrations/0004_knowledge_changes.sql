-- Which documents each knowledge version changed (added, rewritten or removed), so a server
-- whose index is at version v can catch up to the store by re-indexing only the documents
-- changed after v instead of rebuilding everything. Written in the ingest transaction that bumps
-- knowledge_versions; old versions are pruned, and an index older than the log rebuilds fully.
CREATE TABLE knowledge_changes (
    workspace TEXT NOT NULL REFERENCES workspaces(slug) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (workspace, version, doc_id)
);
