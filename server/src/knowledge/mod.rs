//! Knowledge base: connectors (wiki, GitHub), chunking, per-workspace search index.
//!
//! - [`wiki`]: `wiki/<page>.md` with front matter → documents.
//! - [`github`]: issues from fixture JSON or the GitHub REST API → documents.
//! - `chunk`: markdown → ~1 kB passages with overlap, and their plain text.
//! - `index`: one tantivy (BM25) index per workspace, built from the store: in RAM, or on disk
//!   under the data directory (memory-mapped; reopened at start-up when its stamp matches).
//! - `store`: the SQL (documents keyed by `(workspace, id)` with a content hash, a per-workspace
//!   version row and change log, connector sync times).
//!
//! **Invariants.** The store is the source of truth: ingestion writes one transaction per run
//! (documents, the version bump and the ids it changed), and indexes are derived from it, so
//! every process and backend serves the same results. An index behind the store catches up by
//! re-indexing the changed documents named in `knowledge_changes`, or rebuilds when the log
//! does not reach back far enough. Every
//! read and search takes a workspace and is confined to it here, never by callers. Nothing a
//! user types into a search can make it fail. This module never imports `axum`; time is a
//! parameter.
mod chunk;
pub mod github;
mod index;
mod model;
mod snippet;
mod store;
pub use store::KNOWLEDGE_TOPIC;
pub mod wiki;

pub use github::FetchOptions;
pub use model::{
    ConnectorStatus, Document, GithubIssue, IndexStats, IngestReport, InvalidInput, IssueFilter,
    SearchHit, Source,
};
pub(crate) use model::{SourceDoc, invalid};

use crate::config::{Config, KnowledgeIndex};
use crate::store::Store;
use anyhow::Context;
use index::{IndexBuilder, WorkspaceIndex};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::Scope;

pub struct KnowledgeBase {
    store: Store,
    public_url: String,
    indexes: RwLock<HashMap<String, Arc<WorkspaceIndex>>>,
    /// Serializes rebuilds so an older build never replaces a newer one.
    rebuild_lock: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    fetch: FetchOptions,
    refresh_every: Duration,
    /// Wakes the refresher before its next tick (a PostgreSQL change notification).
    refresh_wake: tokio::sync::Notify,
    storage: KnowledgeIndex,
    /// The store's identity (stamped into indexes on disk).
    store_id: String,
}

/// An incremental update re-indexes at most this many documents (or a quarter of the
/// workspace, if larger); beyond that a fresh build is cheaper.
const INCREMENTAL_MAX_DOCS: usize = 2_000;

impl KnowledgeBase {
    /// Opens the knowledge base and makes every workspace's index current: opened from disk
    /// when [`KnowledgeIndex::Disk`] holds a matching one, else built from the store.
    pub async fn open(config: &Config, store: &Store) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        let kb = Self {
            store: store.clone(),
            public_url: config.public_url.clone(),
            indexes: RwLock::new(HashMap::new()),
            rebuild_lock: tokio::sync::Mutex::new(()),
            http,
            fetch: FetchOptions::default(),
            // One small query per poll; four a second keep an ingest by another process (the
            // admin CLI on SQLite, where nothing signals) visible within ~0.25 s of its commit.
            refresh_every: Duration::from_millis(250),
            refresh_wake: tokio::sync::Notify::new(),
            storage: config.knowledge_index.clone(),
            store_id: match config.knowledge_index {
                KnowledgeIndex::Disk(_) => store::store_id(store.writer()).await?,
                _ => String::new(),
            },
        };
        kb.refresh()
            .await
            .context("building the knowledge indexes")?;
        Ok(kb)
    }

    /// Replaces the GitHub connector's retry/rate-limit knobs (tests shorten them).
    pub fn with_fetch_options(mut self, fetch: FetchOptions) -> Self {
        self.fetch = fetch;
        self
    }

    /// How often [`spawn_refresher`](Self::spawn_refresher) polls for other processes' ingests.
    pub fn with_refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_every = every;
        self
    }

    /// Ingests `dir` (`workspace.json`, `wiki/*.md`, `github/<owner>__<repo>/issues.json`) into
    /// `workspace`, in one transaction. Every file is read and validated before anything is
    /// written. Sources absent from `dir` are left alone: no `wiki/` leaves the wiki untouched, a
    /// repo directory without `issues.json` leaves that repo untouched.
    pub async fn ingest_dir(
        &self,
        workspace: &str,
        dir: &Path,
        now: i64,
    ) -> anyhow::Result<IngestReport> {
        self.ensure_workspace(workspace).await?;
        let (ws, dir) = (workspace.to_string(), dir.to_path_buf());
        let batches = tokio::task::spawn_blocking(move || read_source_dir(&ws, &dir))
            .await
            .context("reading the knowledge directory")??;
        self.write(workspace, batches, now).await
    }

    /// Syncs every issue of `repo` (`owner/name`) from the GitHub REST API at `api_url`. Issues
    /// no longer listed are removed. Nothing is written unless the whole listing was fetched.
    pub async fn sync_github(
        &self,
        workspace: &str,
        api_url: &str,
        token: Option<&str>,
        repo: &str,
        now: i64,
    ) -> anyhow::Result<IngestReport> {
        self.sync_github_with(workspace, api_url, token, repo, now, &self.fetch)
            .await
    }

    /// [`sync_github`](Self::sync_github) with explicit connector options.
    pub async fn sync_github_with(
        &self,
        workspace: &str,
        api_url: &str,
        token: Option<&str>,
        repo: &str,
        now: i64,
        opts: &FetchOptions,
    ) -> anyhow::Result<IngestReport> {
        self.ensure_workspace(workspace).await?;
        let repo = github::normalize_repo(repo)
            .ok_or_else(|| invalid(format!("invalid repository {repo:?}: expected owner/name")))?;
        let docs = github::fetch_issues(&self.http, api_url, token, &repo, opts).await?;
        self.write(workspace, vec![(Scope::Repo(repo), docs)], now)
            .await
    }

    async fn ensure_workspace(&self, workspace: &str) -> anyhow::Result<()> {
        if self.store.workspace(workspace).await?.is_none() {
            return Err(invalid(format!("unknown workspace {workspace:?}")));
        }
        Ok(())
    }

    async fn write(
        &self,
        workspace: &str,
        batches: Vec<(Scope, Vec<SourceDoc>)>,
        now: i64,
    ) -> anyhow::Result<IngestReport> {
        let mut tx = self.store.begin_write().await?;
        store::lock_workspace(&mut tx, workspace, now).await?;
        let mut total = IngestReport::default();
        for (scope, docs) in &batches {
            let r = store::apply(&mut tx, workspace, scope, docs, now).await?;
            total.add(&r);
            store::record_sync(&mut tx, workspace, &scope.connector(), now).await?;
        }
        if total.changed() {
            store::bump_version_with_changes(&mut tx, workspace, &total.changed_ids, now).await?;
        }
        tx.commit().await?;
        tracing::info!(workspace, %total, "knowledge ingested");
        if total.changed() && self.storage != KnowledgeIndex::Off {
            // The data is committed; a failed update is retried by the refresher.
            if let Err(e) = self.sync(workspace).await {
                tracing::error!(workspace, error = %e, "updating the knowledge index failed");
            }
        }
        Ok(total)
    }

    /// BM25 search over `workspace`'s passages; the best passage per document, `limit` clamped to
    /// 1..=50. In memory: never touches the database. Unknown workspace or a query without
    /// searchable words → no hits.
    pub fn search(
        &self,
        workspace: &str,
        query: &str,
        source: Option<Source>,
        limit: usize,
    ) -> anyhow::Result<Vec<SearchHit>> {
        self.search_with(workspace, query, source, limit, true)
    }

    /// [`search`](Self::search), with or without snippets (without: no passage text is read).
    pub fn search_with(
        &self,
        workspace: &str,
        query: &str,
        source: Option<Source>,
        limit: usize,
        snippets: bool,
    ) -> anyhow::Result<Vec<SearchHit>> {
        let index = self
            .indexes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(workspace)
            .cloned();
        match index {
            Some(index) if index.workspace == workspace => {
                let mut hits = index.search(query, source, limit, snippets)?;
                for h in &mut hits {
                    if h.url.starts_with('/') {
                        h.url = self.absolute_url(&h.url);
                    }
                }
                Ok(hits)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The live index of `workspace`, if it has one.
    pub fn index_stats(&self, workspace: &str) -> Option<IndexStats> {
        let guard = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        guard.get(workspace).map(|i| IndexStats {
            version: i.version,
            documents: i.documents,
            chunks: i.chunks,
        })
    }

    /// Every live index and its size (for metrics).
    pub fn loaded_indexes(&self) -> Vec<(String, IndexStats)> {
        let guard = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        guard
            .iter()
            .map(|(ws, i)| {
                let stats = IndexStats {
                    version: i.version,
                    documents: i.documents,
                    chunks: i.chunks,
                };
                (ws.clone(), stats)
            })
            .collect()
    }

    /// Workspaces that have stored knowledge but no live index (readiness). One small query.
    pub async fn unloaded_workspaces(&self) -> anyhow::Result<Vec<String>> {
        let stored = store::versions(self.store.pool()).await?;
        let guard = self.indexes.read().unwrap_or_else(|e| e.into_inner());
        Ok(stored
            .into_iter()
            .filter(|(ws, _)| !guard.contains_key(ws))
            .map(|(ws, _)| ws)
            .collect())
    }

    pub async fn document(&self, workspace: &str, id: &str) -> anyhow::Result<Option<Document>> {
        let row = store::document(self.store.pool(), workspace, id).await?;
        row.map(|r| self.to_document(workspace, r)).transpose()
    }

    pub async fn document_by_uri(
        &self,
        workspace: &str,
        uri: &str,
    ) -> anyhow::Result<Option<Document>> {
        let row = store::document_by_uri(self.store.pool(), workspace, uri).await?;
        row.map(|r| self.to_document(workspace, r)).transpose()
    }

    /// Documents ordered by URI, starting after `after_uri` (a cursor); `limit` clamped to 1..=1000.
    pub async fn list_documents(
        &self,
        workspace: &str,
        after_uri: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<Document>> {
        let limit = limit.clamp(1, 1000) as i64;
        let rows = store::list_documents(self.store.pool(), workspace, after_uri, limit).await?;
        rows.into_iter()
            .map(|r| self.to_document(workspace, r))
            .collect()
    }

    /// A repository's issues, most recently updated first.
    pub async fn list_github_issues(
        &self,
        workspace: &str,
        filter: &IssueFilter,
    ) -> anyhow::Result<Vec<GithubIssue>> {
        let state = match filter
            .state
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => None,
            Some(s) if s == "all" || s.is_empty() => None,
            Some(s) if s == "open" || s == "closed" => Some(s),
            Some(s) => {
                return Err(invalid(format!(
                    "invalid state {s:?}: use open, closed or all"
                )));
            }
        };
        let since = match filter
            .since
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => i64::MIN,
            Some(s) => wiki::parse_datetime(s).ok_or_else(|| {
                invalid(format!(
                    "invalid since {s:?}: use an RFC 3339 time like 2026-01-31T00:00:00Z"
                ))
            })?,
        };
        let Some(repo) = self.resolve_repo(workspace, &filter.repo).await? else {
            return Ok(Vec::new());
        };
        let limit = filter.limit.clamp(1, 100) as i64;
        let rows = store::issues(
            self.store.pool(),
            workspace,
            &repo,
            state.as_deref(),
            since,
            limit,
        )
        .await?;
        rows.into_iter().map(|r| self.to_issue(r)).collect()
    }

    async fn resolve_repo(&self, workspace: &str, repo: &str) -> anyhow::Result<Option<String>> {
        let repo = repo.trim();
        if repo.contains('/') {
            return github::normalize_repo(repo).map(Some).ok_or_else(|| {
                invalid(format!("invalid repository {repo:?}: expected owner/name"))
            });
        }
        if github::normalize_repo(&format!("x/{repo}")).is_none() {
            return Err(invalid(format!(
                "invalid repository {repo:?}: expected owner/name"
            )));
        }
        let suffix = format!("/{}", repo.to_ascii_lowercase());
        let matches: Vec<String> = store::repos(self.store.pool(), workspace)
            .await?
            .into_iter()
            .filter(|r| r.ends_with(&suffix))
            .collect();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(matches.into_iter().next()),
            _ => Err(invalid(format!(
                "repository name {repo:?} is ambiguous: {}",
                matches.join(", ")
            ))),
        }
    }

    pub async fn connector_status(&self, workspace: &str) -> anyhow::Result<ConnectorStatus> {
        let pool = self.store.pool();
        Ok(ConnectorStatus {
            wiki_pages: store::count(pool, workspace, Source::Wiki).await?,
            github_issues: store::count(pool, workspace, Source::Github).await?,
            repos: store::repos(pool, workspace).await?,
            last_sync_at: store::last_sync(pool, workspace).await?,
        })
    }

    /// Wakes the refresher now (another process changed the knowledge).
    pub fn wake_refresher(&self) {
        self.refresh_wake.notify_one();
    }

    /// Polls the version rows four times a second (or at once when woken) and updates indexes that
    /// other processes changed. Stops when the knowledge base is dropped.
    pub fn spawn_refresher(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let every = self.refresh_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                let Some(kb) = weak.upgrade() else { break };
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = kb.refresh_wake.notified() => {}
                }
                if let Err(e) = kb.refresh().await {
                    tracing::warn!(error = %e, "knowledge index refresh failed");
                }
            }
        });
    }

    /// One poll: brings every workspace whose stored version differs from its live index up to
    /// date. Returns how many were updated.
    pub async fn refresh(&self) -> anyhow::Result<usize> {
        if self.storage == KnowledgeIndex::Off {
            return Ok(0);
        }
        let mut updated = 0;
        for (workspace, version) in store::versions(self.store.pool()).await? {
            if self.index_stats(&workspace).map(|s| s.version) != Some(version) {
                self.sync(&workspace).await?;
                updated += 1;
            }
        }
        Ok(updated)
    }

    /// The directory of `workspace`'s indexes on disk (one generation directory per full build).
    fn workspace_dir(&self, workspace: &str) -> Option<PathBuf> {
        match &self.storage {
            KnowledgeIndex::Disk(root) => {
                let safe = workspace
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                let name = if safe && !workspace.is_empty() {
                    workspace.to_string()
                } else {
                    format!("x{}", hex::encode(workspace))
                };
                Some(root.join(name))
            }
            _ => None,
        }
    }

    /// Makes `workspace`'s live index reflect the store's current version: nothing to do, an
    /// incremental update (of the live index, or of the one on disk at start-up), or a build.
    async fn sync(&self, workspace: &str) -> anyhow::Result<()> {
        let _guard = self.rebuild_lock.lock().await;
        // Processes sharing this data directory take turns too: one's build would otherwise
        // remove the generation another is still writing, or open one being removed.
        let _dir_lock = match self.workspace_dir(workspace) {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                Some(crate::fsperm::lock_exclusive(dir.join("LOCK")).await?)
            }
            None => None,
        };
        let pool = self.store.pool();
        // Version first: documents read after it are at least that new, so a concurrent ingest
        // at worst causes one more update, never a missed one.
        let version = store::version(pool, workspace).await?;
        let live = self
            .indexes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(workspace)
            .cloned();
        let base = match live {
            Some(l) => Some(l),
            None => {
                let (dir, ws, store_id) = (
                    self.workspace_dir(workspace),
                    workspace.to_string(),
                    self.store_id.clone(),
                );
                tokio::task::spawn_blocking(move || open_from_disk(dir, &ws, &store_id))
                    .await
                    .context("opening the index")?
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "knowledge index on disk unreadable; rebuilding");
                        None
                    })
                    .map(Arc::new)
            }
        };
        if let Some(base) = base {
            if base.version == version {
                self.install(workspace, base);
                return Ok(());
            }
            if base.version < version
                && let Some(ids) =
                    store::changes_between(pool, workspace, base.version, version).await?
                && ids.len() <= INCREMENTAL_MAX_DOCS.max(base.documents / 4)
            {
                let docs = store::index_docs_by_ids(pool, workspace, &ids).await?;
                let documents = store::document_count(pool, workspace).await? as usize;
                let b = base.clone();
                let result = tokio::task::spawn_blocking(move || {
                    b.apply_changes(version, &ids, &docs, documents)
                })
                .await
                .context("index update task failed")?;
                match result {
                    Ok(updated) => {
                        tracing::debug!(
                            workspace,
                            from = base.version,
                            version,
                            "knowledge index updated"
                        );
                        self.install(workspace, Arc::new(updated));
                        return Ok(());
                    }
                    Err(e) => {
                        tracing::warn!(workspace, error = %e, "incremental index update failed; rebuilding");
                    }
                }
            }
        }
        self.build(workspace, version).await
    }

    /// A full build from the store, streamed: into a new generation directory on disk (then
    /// named in `CURRENT`, older generations removed) or into RAM.
    async fn build(&self, workspace: &str, version: i64) -> anyhow::Result<()> {
        let ws_dir = self.workspace_dir(workspace);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
        let generation = format!("v{version}-{}", hex::encode(nonce));
        let gen_dir = ws_dir.as_ref().map(|d| d.join(&generation));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<index::IndexDoc>(256);
        let (ws, store_id, dir) = (
            workspace.to_string(),
            self.store_id.clone(),
            gen_dir.clone(),
        );
        let builder = tokio::task::spawn_blocking(move || {
            let mut b = IndexBuilder::new(&ws, version, &store_id, dir.as_deref())?;
            while let Some(d) = rx.blocking_recv() {
                b.add(&d)?;
            }
            b.finish()
        });
        {
            use futures::TryStreamExt;
            let mut docs = std::pin::pin!(store::index_doc_stream(self.store.pool(), workspace));
            while let Some(d) = docs.try_next().await? {
                if tx.send(d).await.is_err() {
                    break; // the builder failed; its error is reported below
                }
            }
        }
        drop(tx);
        let index = builder.await.context("index build task failed")??;
        if let (Some(ws_dir), Some(_)) = (&ws_dir, &gen_dir) {
            let tmp = ws_dir.join(format!("CURRENT.{generation}.tmp"));
            std::fs::write(&tmp, &generation)?;
            std::fs::rename(&tmp, ws_dir.join("CURRENT"))?;
            // Older generations: nothing reads them after the swap below (on Unix, searches
            // still running on the old index keep their mapped files until they finish).
            if let Ok(entries) = std::fs::read_dir(ws_dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    if name != generation.as_str() && e.path().is_dir() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        tracing::info!(
            workspace,
            version,
            documents = index.documents,
            chunks = index.chunks,
            on_disk = gen_dir.is_some(),
            "knowledge index built"
        );
        self.install(workspace, Arc::new(index));
        Ok(())
    }

    fn install(&self, workspace: &str, index: Arc<WorkspaceIndex>) {
        self.indexes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(workspace.to_string(), index);
    }

    fn absolute_url(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.public_url)
        } else {
            url.to_string()
        }
    }

    fn to_document(&self, workspace: &str, r: store::StoredDoc) -> anyhow::Result<Document> {
        let source = Source::parse(&r.source)
            .with_context(|| format!("document {} has unknown source {:?}", r.id, r.source))?;
        let metadata = match serde_json::from_str::<Value>(&r.metadata) {
            Ok(Value::Object(m)) => m,
            _ => anyhow::bail!("document {} has corrupt metadata", r.id),
        };
        Ok(Document {
            workspace: workspace.to_string(),
            source,
            url: self.absolute_url(&r.url),
            id: r.id,
            title: r.title,
            uri: r.uri,
            text: r.body,
            mime_type: r.mime_type,
            metadata,
            updated_at: r.updated_at,
        })
    }

    fn to_issue(&self, r: store::StoredDoc) -> anyhow::Result<GithubIssue> {
        let m = match serde_json::from_str::<Value>(&r.metadata) {
            Ok(Value::Object(m)) => m,
            _ => anyhow::bail!("document {} has corrupt metadata", r.id),
        };
        let s = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(GithubIssue {
            repo: s("repo"),
            number: m.get("number").and_then(Value::as_i64).unwrap_or_default(),
            state: s("state"),
            labels: m
                .get("labels")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            author: s("author"),
            created_at: s("created_at"),
            updated_at: s("updated_at"),
            closed_at: m
                .get("closed_at")
                .and_then(Value::as_str)
                .map(str::to_owned),
            comments: m
                .get("comments")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            url: self.absolute_url(&r.url),
            uri: r.uri,
            body: github::issue_body(&r.title, &r.body).to_string(),
            title: r.title,
        })
    }
}

/// The index on disk named by the workspace directory's `CURRENT` file, if it is usable.
fn open_from_disk(
    dir: Option<PathBuf>,
    workspace: &str,
    store_id: &str,
) -> anyhow::Result<Option<WorkspaceIndex>> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    let Ok(current) = std::fs::read_to_string(dir.join("CURRENT")) else {
        return Ok(None);
    };
    let current = current.trim();
    if current.is_empty() || current.contains(['/', '\\']) || current.starts_with('.') {
        return Ok(None);
    }
    let generation = dir.join(current);
    if !generation.is_dir() {
        return Ok(None);
    }
    WorkspaceIndex::open(&generation, workspace, store_id)
}

/// `workspace.json` (all fields optional here).
#[derive(Debug, Deserialize)]
struct WorkspaceJson {
    #[serde(default)]
    slug: Option<String>,
}

/// Reads and validates a whole knowledge directory (blocking I/O).
fn read_source_dir(workspace: &str, dir: &Path) -> anyhow::Result<Vec<(Scope, Vec<SourceDoc>)>> {
    if !dir.is_dir() {
        return Err(invalid(format!(
            "knowledge directory {} does not exist or is not a directory",
            dir.display()
        )));
    }
    let manifest = dir.join("workspace.json");
    if manifest.is_file() {
        let bytes =
            std::fs::read(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
        let m: WorkspaceJson = serde_json::from_slice(&bytes).map_err(|e| {
            invalid(format!(
                "{}: not a valid workspace.json: {e}",
                manifest.display()
            ))
        })?;
        if let Some(slug) = m.slug
            && slug != workspace
        {
            return Err(invalid(format!(
                "{} describes workspace {slug:?}, not {workspace:?}; refusing to mix workspaces",
                manifest.display()
            )));
        }
    }
    let mut batches = Vec::new();
    let wiki_dir = dir.join("wiki");
    if wiki_dir.is_dir() {
        batches.push((Scope::Wiki, wiki::read_dir(workspace, &wiki_dir)?));
    }
    let gh_dir = dir.join("github");
    if gh_dir.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&gh_dir)
            .with_context(|| format!("reading {}", gh_dir.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", gh_dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !path.is_dir() {
                continue;
            }
            let repo = github::repo_from_dir_name(&name).ok_or_else(|| {
                invalid(format!(
                    "{}: directory name must be <owner>__<repo>",
                    path.display()
                ))
            })?;
            if !seen.insert(repo.clone()) {
                return Err(invalid(format!(
                    "{}: repository {repo} appears twice",
                    path.display()
                )));
            }
            let issues = path.join("issues.json");
            if issues.is_file() {
                let docs = github::read_issues_file(&repo, &issues)?;
                batches.push((Scope::Repo(repo), docs));
            }
        }
    }
    if batches.is_empty() && !manifest.is_file() {
        return Err(invalid(format!(
            "{} has no wiki/ or github/ directory: expected fixtures/knowledge/<workspace>",
            dir.display()
        )));
    }
    Ok(batches)
}
