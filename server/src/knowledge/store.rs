//! The knowledge tables (see `migrations/0002_knowledge.sql`). Portable SQL, `$n` placeholders.
use super::index::IndexDoc;
use super::model::{IngestReport, Source, SourceDoc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::collections::HashMap;

/// Which existing documents a batch replaces (documents in the scope but not in the batch are
/// deleted).
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    Wiki,
    Repo(String),
}

impl Scope {
    pub(crate) fn connector(&self) -> String {
        match self {
            Scope::Wiki => "wiki".into(),
            Scope::Repo(r) => format!("github:{r}"),
        }
    }
}

/// A stored document row (url still possibly relative).
#[derive(Debug, Clone)]
pub(crate) struct StoredDoc {
    pub id: String,
    pub source: String,
    pub title: String,
    pub url: String,
    pub uri: String,
    pub body: String,
    pub mime_type: String,
    pub metadata: String,
    pub updated_at: i64,
}

fn doc_row(r: &AnyRow) -> Result<StoredDoc, sqlx::Error> {
    Ok(StoredDoc {
        id: r.try_get(0)?,
        source: r.try_get(1)?,
        title: r.try_get(2)?,
        url: r.try_get(3)?,
        uri: r.try_get(4)?,
        body: r.try_get(5)?,
        mime_type: r.try_get(6)?,
        metadata: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

fn content_hash(d: &SourceDoc) -> String {
    // Field order is fixed by this array; the workspace is not part of the content.
    let canonical = serde_json::json!([
        d.id,
        d.source.as_str(),
        d.title,
        d.url,
        d.uri,
        d.text,
        d.mime_type,
        d.metadata,
        d.updated_at,
        d.repo,
        d.state,
        d.number,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The stored hashes an ingest compares against, per scope: answered from the covering index
/// `knowledge_documents_hashes` (migration 0043) without reading any body.
const WIKI_HASHES: &str =
    "SELECT id, content_hash FROM knowledge_documents WHERE workspace = $1 AND source = 'wiki'";
const REPO_HASHES: &str = "SELECT id, content_hash FROM knowledge_documents WHERE workspace = $1 AND source = 'github' AND repo = $2";

/// Replaces the documents of `scope` in `workspace` with `docs` inside `tx`: inserts new ones,
/// rewrites changed ones, leaves unchanged ones untouched and deletes the ones that vanished.
pub(crate) async fn apply(
    tx: &mut Transaction<'static, Any>,
    workspace: &str,
    scope: &Scope,
    docs: &[SourceDoc],
    now: i64,
) -> Result<IngestReport, sqlx::Error> {
    let existing_rows = match scope {
        Scope::Wiki => {
            sqlx::query(WIKI_HASHES)
                .bind(workspace)
                .fetch_all(&mut **tx)
                .await?
        }
        Scope::Repo(repo) => {
            sqlx::query(REPO_HASHES)
                .bind(workspace)
                .bind(repo)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    let mut existing: HashMap<String, String> = HashMap::new();
    for r in &existing_rows {
        existing.insert(r.try_get(0)?, r.try_get(1)?);
    }
    let mut report = IngestReport::default();
    for d in docs {
        let hash = content_hash(d);
        let changed = match existing.remove(&d.id) {
            Some(old) if old == hash => {
                report.unchanged += 1;
                continue;
            }
            Some(_) => true,
            None => false,
        };
        // One statement for new and changed documents (valid on SQLite and PostgreSQL).
        sqlx::query(
            "INSERT INTO knowledge_documents (workspace, id, source, repo, state, number, title, url, uri, body, \
             mime_type, metadata, content_hash, updated_at, ingested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (workspace, id) DO UPDATE SET source = excluded.source, repo = excluded.repo, \
             state = excluded.state, number = excluded.number, title = excluded.title, url = excluded.url, \
             uri = excluded.uri, body = excluded.body, mime_type = excluded.mime_type, \
             metadata = excluded.metadata, content_hash = excluded.content_hash, \
             updated_at = excluded.updated_at, ingested_at = excluded.ingested_at",
        )
        .bind(workspace)
        .bind(&d.id)
        .bind(d.source.as_str())
        .bind(&d.repo)
        .bind(&d.state)
        .bind(d.number)
        .bind(&d.title)
        .bind(&d.url)
        .bind(&d.uri)
        .bind(&d.text)
        .bind(&d.mime_type)
        .bind(serde_json::Value::Object(d.metadata.clone()).to_string())
        .bind(&hash)
        .bind(d.updated_at.unwrap_or(now))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if changed {
            report.updated += 1;
        } else {
            report.added += 1;
        }
        report.changed_ids.push(d.id.clone());
    }
    let mut gone: Vec<String> = existing.into_keys().collect();
    gone.sort();
    for id in gone {
        sqlx::query("DELETE FROM knowledge_documents WHERE workspace = $1 AND id = $2")
            .bind(workspace)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        report.removed += 1;
        report.changed_ids.push(id);
    }
    Ok(report)
}

/// Serializes writers of one workspace's knowledge: takes the row lock of its
/// `knowledge_versions` row (inserting version 0, which readers already treat as "none", when
/// absent). Without it two processes ingesting the same documents at once on PostgreSQL both
/// see "new" and the second insert fails on the `(workspace, uri)` index, which is not the
/// upsert's arbiter. On SQLite `BEGIN IMMEDIATE` already serializes writers; this is harmless.
pub(crate) async fn lock_workspace(
    tx: &mut Transaction<'static, Any>,
    workspace: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge_versions (workspace, version, changed_at) VALUES ($1, 0, $2) \
         ON CONFLICT (workspace) DO UPDATE SET version = knowledge_versions.version",
    )
    .bind(workspace)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a successful connector run.
pub(crate) async fn record_sync(
    tx: &mut Transaction<'static, Any>,
    workspace: &str,
    connector: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge_syncs (workspace, connector, synced_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace, connector) DO UPDATE SET synced_at = excluded.synced_at",
    )
    .bind(workspace)
    .bind(connector)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the workspace's knowledge version forward (other processes rebuild their index).
pub(crate) async fn bump_version(
    tx: &mut Transaction<'static, Any>,
    workspace: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO knowledge_versions (workspace, version, changed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (workspace) DO UPDATE SET version = knowledge_versions.version + 1, changed_at = excluded.changed_at",
    )
    .bind(workspace)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    crate::store::notify(tx, KNOWLEDGE_TOPIC).await
}

/// The `pg_notify` topic of knowledge changes.
pub const KNOWLEDGE_TOPIC: &str = "knowledge";

/// Versions of the change log kept per workspace; an index further behind rebuilds fully.
const CHANGE_LOG_VERSIONS: i64 = 200;

/// Moves the workspace's version forward and records which documents the new version changed
/// (`knowledge_changes`), pruning old log entries. Returns the new version.
pub(crate) async fn bump_version_with_changes(
    tx: &mut Transaction<'static, Any>,
    workspace: &str,
    changed: &[String],
    now: i64,
) -> Result<i64, sqlx::Error> {
    bump_version(tx, workspace, now).await?;
    let version: i64 = sqlx::query("SELECT version FROM knowledge_versions WHERE workspace = $1")
        .bind(workspace)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    let mut ids: Vec<&String> = changed.iter().collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        sqlx::query(
            "INSERT INTO knowledge_changes (workspace, version, doc_id) VALUES ($1, $2, $3)",
        )
        .bind(workspace)
        .bind(version)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM knowledge_changes WHERE workspace = $1 AND version <= $2")
        .bind(workspace)
        .bind(version - CHANGE_LOG_VERSIONS)
        .execute(&mut **tx)
        .await?;
    Ok(version)
}

/// The documents changed after version `since` up to `until`, or `None` when the log does not
/// cover every version in between (pruned, or written before the log existed).
pub(crate) async fn changes_between(
    pool: &AnyPool,
    workspace: &str,
    since: i64,
    until: i64,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    if until <= since {
        return Ok(Some(Vec::new()));
    }
    let rows = sqlx::query(
        "SELECT version, doc_id FROM knowledge_changes WHERE workspace = $1 AND version > $2 AND version <= $3",
    )
    .bind(workspace)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let mut versions = std::collections::HashSet::new();
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        versions.insert(r.try_get::<i64, _>(0)?);
        ids.push(r.try_get::<String, _>(1)?);
    }
    if versions.len() as i64 != until - since {
        return Ok(None);
    }
    ids.sort();
    ids.dedup();
    Ok(Some(ids))
}

/// This database's identity (created once): an index on disk built from another database is
/// never mistaken for this one's, even at the same version number.
pub(crate) async fn store_id(pool: &AnyPool) -> Result<String, sqlx::Error> {
    const NAME: &str = "knowledge_store_id";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(NAME)
        .bind(hex::encode(bytes))
        .execute(pool)
        .await?;
    sqlx::query("SELECT value FROM settings WHERE name = $1")
        .bind(NAME)
        .fetch_one(pool)
        .await?
        .try_get(0)
}

/// Number of documents in a workspace.
pub(crate) async fn document_count(pool: &AnyPool, workspace: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM knowledge_documents WHERE workspace = $1")
        .bind(workspace)
        .fetch_one(pool)
        .await?
        .try_get(0)
}

fn index_doc(r: &AnyRow) -> Result<Option<IndexDoc>, sqlx::Error> {
    let source: String = r.try_get(1)?;
    let Some(source) = Source::parse(&source) else {
        return Ok(None);
    };
    Ok(Some(IndexDoc {
        id: r.try_get(0)?,
        source,
        title: r.try_get(2)?,
        url: r.try_get(3)?,
        uri: r.try_get(4)?,
        text: r.try_get(5)?,
    }))
}

/// The index documents among `ids` that still exist (the others were removed).
pub(crate) async fn index_docs_by_ids(
    pool: &AnyPool,
    workspace: &str,
    ids: &[String],
) -> Result<Vec<IndexDoc>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for batch in ids.chunks(200) {
        let placeholders: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id, source, title, url, uri, body FROM knowledge_documents WHERE workspace = $1 AND id IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        // Only `$n` placeholders are generated; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace);
        for id in batch {
            q = q.bind(id);
        }
        for r in &q.fetch_all(pool).await? {
            out.extend(index_doc(r)?);
        }
    }
    Ok(out)
}

pub(crate) async fn versions(pool: &AnyPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT workspace, version FROM knowledge_versions ORDER BY workspace")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub(crate) async fn version(pool: &AnyPool, workspace: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT version FROM knowledge_versions WHERE workspace = $1")
        .bind(workspace)
        .fetch_optional(pool)
        .await?;
    row.map(|r| r.try_get(0))
        .transpose()
        .map(|v| v.unwrap_or(0))
}

/// Everything the index needs for one workspace, in id order (so builds are deterministic),
/// as a stream: a large workspace is indexed while it is read, never held in memory whole.
pub(crate) fn index_doc_stream<'a>(
    pool: &'a AnyPool,
    workspace: &'a str,
) -> impl futures::Stream<Item = Result<IndexDoc, sqlx::Error>> + 'a {
    use futures::TryStreamExt;
    sqlx::query(
        "SELECT id, source, title, url, uri, body FROM knowledge_documents WHERE workspace = $1 ORDER BY id",
    )
    .bind(workspace)
    .fetch(pool)
    .try_filter_map(|r| futures::future::ready(index_doc(&r)))
}

pub(crate) async fn document(
    pool: &AnyPool,
    workspace: &str,
    id: &str,
) -> Result<Option<StoredDoc>, sqlx::Error> {
    let sql = "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at \
               FROM knowledge_documents WHERE workspace = $1 AND id = $2";
    sqlx::query(sql)
        .bind(workspace)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(doc_row)
        .transpose()
}

pub(crate) async fn document_by_uri(
    pool: &AnyPool,
    workspace: &str,
    uri: &str,
) -> Result<Option<StoredDoc>, sqlx::Error> {
    sqlx::query(
        "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at \
         FROM knowledge_documents WHERE workspace = $1 AND uri = $2",
    )
    .bind(workspace)
    .bind(uri)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(doc_row)
    .transpose()
}

pub(crate) async fn list_documents(
    pool: &AnyPool,
    workspace: &str,
    after_uri: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredDoc>, sqlx::Error> {
    let rows = match after_uri {
        Some(after) => {
            sqlx::query(
                "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at \
                 FROM knowledge_documents WHERE workspace = $1 AND uri > $2 ORDER BY uri LIMIT $3",
            )
            .bind(workspace)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at \
                 FROM knowledge_documents WHERE workspace = $1 ORDER BY uri LIMIT $2",
            )
            .bind(workspace)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(doc_row).collect()
}

/// Issues of one repo, newest activity first. `state` is `None` for all.
pub(crate) async fn issues(
    pool: &AnyPool,
    workspace: &str,
    repo: &str,
    state: Option<&str>,
    since: i64,
    limit: i64,
) -> Result<Vec<StoredDoc>, sqlx::Error> {
    let rows = match state {
        Some(state) => {
            sqlx::query(
                "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at FROM knowledge_documents \
                 WHERE workspace = $1 AND source = 'github' AND repo = $2 AND state = $3 AND updated_at >= $4 \
                 ORDER BY updated_at DESC, number DESC LIMIT $5",
            )
            .bind(workspace)
            .bind(repo)
            .bind(state)
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT id, source, title, url, uri, body, mime_type, metadata, updated_at FROM knowledge_documents \
                 WHERE workspace = $1 AND source = 'github' AND repo = $2 AND updated_at >= $3 \
                 ORDER BY updated_at DESC, number DESC LIMIT $4",
            )
            .bind(workspace)
            .bind(repo)
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(doc_row).collect()
}

/// Every repo the workspace knows: from stored issues and from connector runs, sorted.
pub(crate) async fn repos(pool: &AnyPool, workspace: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut out: Vec<String> = Vec::new();
    let rows = sqlx::query(
        "SELECT DISTINCT repo FROM knowledge_documents WHERE workspace = $1 AND source = 'github' AND repo IS NOT NULL",
    )
    .bind(workspace)
    .fetch_all(pool)
    .await?;
    for r in &rows {
        out.push(r.try_get(0)?);
    }
    let rows = sqlx::query("SELECT connector FROM knowledge_syncs WHERE workspace = $1")
        .bind(workspace)
        .fetch_all(pool)
        .await?;
    for r in &rows {
        let c: String = r.try_get(0)?;
        if let Some(repo) = c.strip_prefix("github:") {
            out.push(repo.to_string());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) async fn count(
    pool: &AnyPool,
    workspace: &str,
    source: Source,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM knowledge_documents WHERE workspace = $1 AND source = $2")
        .bind(workspace)
        .bind(source.as_str())
        .fetch_one(pool)
        .await?
        .try_get(0)
}

pub(crate) async fn last_sync(pool: &AnyPool, workspace: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MAX(synced_at) FROM knowledge_syncs WHERE workspace = $1")
        .bind(workspace)
        .fetch_one(pool)
        .await?
        .try_get(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// An ingest's comparison reads no body: SQLite answers both scopes' hash queries from the
    /// covering index (without it, it read every stored body's overflow pages).
    #[tokio::test]
    async fn stored_hashes_are_read_from_the_covering_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        for (sql, binds) in [(WIKI_HASHES, 1), (REPO_HASHES, 2)] {
            // Test-only text: a fixed prefix on one of the two constants above.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for _ in 0..binds {
                q = q.bind("x");
            }
            let plan: Vec<String> = q
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>(3).unwrap())
                .collect();
            assert!(
                plan.iter()
                    .any(|d| d.contains("USING COVERING INDEX knowledge_documents_hashes")),
                "{sql}: {plan:?}"
            );
        }
    }
}
