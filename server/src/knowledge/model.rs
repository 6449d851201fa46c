//! The knowledge base's plain data: sources, documents, hits, issues, reports. Connectors,
//! the index and the store build on these; nothing here does I/O.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Wiki,
    Github,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Wiki => "wiki",
            Source::Github => "github",
        }
    }

    /// Exactly `"wiki"` or `"github"`: the tools' `source` argument, a schema enum.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "wiki" => Some(Source::Wiki),
            "github" => Some(Source::Github),
            _ => None,
        }
    }

    /// `"wiki"` / `"github"` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "wiki" => Some(Source::Wiki),
            "github" => Some(Source::Github),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One search result: the best passage of one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub doc_id: String,
    pub title: String,
    pub url: String,
    pub uri: String,
    pub source: Source,
    /// Plain text, at most 300 characters.
    pub snippet: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub id: String,
    pub workspace: String,
    pub source: Source,
    pub title: String,
    pub url: String,
    pub uri: String,
    pub text: String,
    pub mime_type: String,
    pub metadata: Map<String, Value>,
    /// Unix seconds: the source's own update time when it has one.
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GithubIssue {
    pub repo: String,
    pub number: i64,
    pub title: String,
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub comments: i64,
    pub url: String,
    pub uri: String,
    pub body: String,
}

#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    /// `owner/repo`, or just `repo` when only one owner has a repo of that name here.
    pub repo: String,
    /// `"open"`, `"closed"` or `"all"`; `None` means all.
    pub state: Option<String>,
    /// RFC 3339 (or `YYYY-MM-DD`): only issues updated at or after this time.
    pub since: Option<String>,
    /// Clamped to 1..=100.
    pub limit: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Ids of the documents added, rewritten or removed (what the index must re-read).
    #[serde(skip)]
    pub changed_ids: Vec<String>,
}

impl IngestReport {
    pub fn changed(&self) -> bool {
        self.added + self.updated + self.removed > 0
    }
    pub(crate) fn add(&mut self, o: &IngestReport) {
        self.added += o.added;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.removed += o.removed;
        self.changed_ids.extend(o.changed_ids.iter().cloned());
    }
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} removed",
            self.added, self.updated, self.unchanged, self.removed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorStatus {
    pub wiki_pages: i64,
    pub github_issues: i64,
    pub repos: Vec<String>,
    /// Unix seconds of the last successful ingest or sync of any connector.
    pub last_sync_at: Option<i64>,
}

/// Bad caller input (unknown workspace, invalid repo/state/since, bad directory). Returned
/// inside `anyhow::Error`; callers `downcast_ref::<InvalidInput>()` to tell it from a failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

pub(crate) fn invalid(msg: impl Into<String>) -> anyhow::Error {
    InvalidInput(msg.into()).into()
}

/// A document as a connector produces it (before storage).
#[derive(Debug, Clone)]
pub(crate) struct SourceDoc {
    pub id: String,
    pub source: Source,
    pub title: String,
    /// Absolute, or a path under the public origin.
    pub url: String,
    pub uri: String,
    pub text: String,
    pub mime_type: String,
    pub metadata: Map<String, Value>,
    pub updated_at: Option<i64>,
    pub repo: Option<String>,
    pub state: Option<String>,
    pub number: Option<i64>,
}

/// Size of a workspace's live index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    pub version: i64,
    pub documents: usize,
    pub chunks: usize,
}
