//! Knowledge base: connectors (wiki, GitHub), chunking, per-workspace search index.
//! (Being built; the API below is the contract the MCP tools and the CLI use.)
use crate::{Config, Store};
use std::path::Path;

pub struct KnowledgeBase {}

#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
}

impl KnowledgeBase {
    pub async fn open(_config: &Config, _store: &Store) -> anyhow::Result<Self> {
        Ok(Self {})
    }

    /// Ingests `dir` (`wiki/*.md`, `github/<owner>__<repo>/issues.json`) into `workspace`.
    pub async fn ingest_dir(
        &self,
        _workspace: &str,
        _dir: &Path,
        _now: i64,
    ) -> anyhow::Result<IngestReport> {
        anyhow::bail!("knowledge ingestion is not built yet")
    }
}
