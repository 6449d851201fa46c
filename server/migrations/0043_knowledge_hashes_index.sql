-- Performance (issue 11): an incremental `admin ingest` compares each stored document's content
-- hash with its source's (`knowledge::store::apply`). The hash is stored after the body in the
-- row, so to reach it SQLite read every body's overflow pages: 97 MiB for a 20,000-document
-- workspace, about half a second when those pages were not cached. This index holds every column
-- the comparison reads, so it is answered from the index alone and no body is read.
CREATE INDEX knowledge_documents_hashes ON knowledge_documents (workspace, source, repo, id, content_hash);
