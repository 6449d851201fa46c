//! The knowledge base on a generated corpus (`gigamcp_bench::corpus`, the one `cargo xtask
//! corpus` writes): relevance (every needle at rank 1), the index on disk (reopened, not rebuilt,
//! when its stamp matches; rebuilt when the store is another one), and incremental updates from
//! another process's ingest. Not timed: `cargo xtask bench` measures.
use crate::support;
use gigamcp_bench::corpus::{self, Needle, Spec, Summary};
use gigamcp_server::knowledge::KnowledgeBase;
use gigamcp_server::{Config, KnowledgeIndex, Store};
use std::path::{Path, PathBuf};

const PUBLIC_URL: &str = "https://mcp.test";
const NOW: i64 = 1_790_000_000;
const DOCS: usize = 240;

struct Env {
    dir: tempfile::TempDir,
    db_url: String,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_url = support::test_database_url(dir.path()).await;
        let store = Store::connect(&db_url).await.unwrap();
        store.create_workspace("scale", "Scale", NOW).await.unwrap();
        Env { dir, db_url }
    }

    fn index_root(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// A server-like knowledge base with its index on disk.
    async fn server(&self) -> KnowledgeBase {
        self.open(KnowledgeIndex::Disk(self.index_root())).await
    }

    /// An admin-like one: writes the store only.
    async fn admin(&self) -> KnowledgeBase {
        self.open(KnowledgeIndex::Off).await
    }

    async fn open(&self, index: KnowledgeIndex) -> KnowledgeBase {
        let store = Store::connect(&self.db_url).await.unwrap();
        let mut config = Config::new(PUBLIC_URL, self.dir.path().to_path_buf()).unwrap();
        config.knowledge_index = index;
        KnowledgeBase::open(&config, &store).await.unwrap()
    }

    /// The generation directory `CURRENT` names (a new one per full build).
    fn generation(&self) -> String {
        std::fs::read_to_string(self.index_root().join("scale").join("CURRENT")).unwrap()
    }

    fn corpus(&self, revision: u32, changed: usize) -> (PathBuf, Summary) {
        let out = self.dir.path().join(format!("corpus-r{revision}"));
        let mut spec = Spec::new(DOCS, 7);
        spec.revision = revision;
        spec.changed = changed;
        let summary = corpus::generate(&spec, &out).unwrap();
        (out, summary)
    }
}

fn top(kb: &KnowledgeBase, query: &str) -> Vec<String> {
    kb.search("scale", query, None, 5)
        .unwrap()
        .into_iter()
        .map(|h| h.doc_id)
        .collect()
}

fn assert_needles_first(kb: &KnowledgeBase, needles: &[Needle]) {
    assert!(!needles.is_empty());
    for n in needles {
        let hits = top(kb, &n.query);
        assert_eq!(
            hits.first(),
            Some(&n.doc_id),
            "needle {:?} should rank first, got {hits:?}",
            n.query
        );
    }
}

#[tokio::test]
async fn needles_rank_first_in_a_generated_corpus() {
    let env = Env::new().await;
    let (dir, summary) = env.corpus(0, 0);
    let kb = env.open(KnowledgeIndex::Memory).await;
    let report = kb.ingest_dir("scale", &dir, NOW).await.unwrap();
    assert_eq!(report.added, DOCS);
    assert_eq!(summary.needles.len(), 8);
    assert_needles_first(&kb, &summary.needles);
    let stats = kb.index_stats("scale").unwrap();
    assert_eq!(stats.documents, DOCS);
    // Each generated section is one passage: the estimate is what the chunker made.
    assert!(
        stats.chunks.abs_diff(summary.estimated_passages) <= DOCS / 10,
        "{} passages, estimated {}",
        stats.chunks,
        summary.estimated_passages
    );
}

#[tokio::test]
async fn index_on_disk_is_reopened_and_caught_up_incrementally() {
    let env = Env::new().await;
    let (dir0, summary0) = env.corpus(0, 0);
    let (dir1, summary1) = env.corpus(1, 12);

    let server = env.server().await;
    server.ingest_dir("scale", &dir0, NOW).await.unwrap();
    assert_needles_first(&server, &summary0.needles);
    let built = env.generation();
    let version = server.index_stats("scale").unwrap().version;
    drop(server);

    // A restart opens the same index: no new generation, same answers, same version.
    let server = env.server().await;
    assert_eq!(env.generation(), built, "a warm restart must not rebuild");
    assert_eq!(server.index_stats("scale").unwrap().version, version);
    assert_needles_first(&server, &summary0.needles);

    // Another process ingests revision 1 (12 documents rewritten); one poll brings the running
    // index forward by re-indexing those documents only.
    let admin = env.admin().await;
    let report = admin.ingest_dir("scale", &dir1, NOW + 10).await.unwrap();
    assert_eq!(report.updated, 12, "{report}");
    assert_eq!(
        admin.index_stats("scale"),
        None,
        "admin commands build no index"
    );
    assert_eq!(server.refresh().await.unwrap(), 1);
    assert_eq!(
        env.generation(),
        built,
        "an incremental update must not rebuild"
    );
    let stats = server.index_stats("scale").unwrap();
    assert_eq!(stats.version, version + 1);
    assert_eq!(stats.documents, DOCS);
    for c in &summary1.changed {
        assert_eq!(top(&server, &c.query).first(), Some(&c.doc_id), "{c:?}");
    }
    assert_needles_first(&server, &summary1.needles);
    // No passage is indexed twice: each changed document appears once per result list.
    for c in &summary1.changed {
        let hits = top(&server, &c.query);
        assert_eq!(hits.iter().filter(|h| *h == &c.doc_id).count(), 1);
    }

    // A restart while the store moved on: the index on disk is opened and caught up.
    drop(server);
    let report = admin.ingest_dir("scale", &dir0, NOW + 20).await.unwrap();
    assert_eq!(report.updated, 12, "{report}");
    let server = env.server().await;
    assert_eq!(env.generation(), built);
    assert_eq!(server.index_stats("scale").unwrap().version, version + 2);
    for c in &summary1.changed {
        assert!(top(&server, &c.query).is_empty(), "stale passage of {c:?}");
    }

    // Removed documents leave the index.
    let removed = &summary0.needles[0];
    let page = removed.doc_id.strip_prefix("wiki:");
    let shrunk = copy_without(&dir0, &env.dir.path().join("shrunk"), page, &removed.doc_id);
    let report = admin.ingest_dir("scale", &shrunk, NOW + 30).await.unwrap();
    assert_eq!(report.removed, 1, "{report}");
    server.refresh().await.unwrap();
    assert_ne!(top(&server, &removed.query).first(), Some(&removed.doc_id));
    assert_eq!(server.index_stats("scale").unwrap().documents, DOCS - 1);
    assert_eq!(env.generation(), built);
}

#[tokio::test]
async fn index_from_another_store_is_rebuilt() {
    let env = Env::new().await;
    let (dir0, summary0) = env.corpus(0, 0);
    let server = env.server().await;
    server.ingest_dir("scale", &dir0, NOW).await.unwrap();
    let built = env.generation();
    drop(server);

    // Same data directory, a different database at the same version number: the stamp names
    // another store, so the index is rebuilt rather than trusted.
    let other = Env::new().await;
    let store = Store::connect(&other.db_url).await.unwrap();
    let mut config = Config::new(PUBLIC_URL, env.dir.path().to_path_buf()).unwrap();
    config.knowledge_index = KnowledgeIndex::Disk(env.index_root());
    let kb = KnowledgeBase::open(&config, &store).await.unwrap();
    let (dir_other, _) = other.corpus(0, 0);
    kb.ingest_dir("scale", &dir_other, NOW).await.unwrap();
    assert_ne!(env.generation(), built);
    assert_needles_first(&kb, &summary0.needles);
}

/// A copy of a corpus without one document (a wiki page file, or an issue in its repo file).
fn copy_without(from: &Path, to: &Path, page: Option<&str>, doc_id: &str) -> PathBuf {
    copy_dir(from, to);
    match page {
        Some(p) => std::fs::remove_file(to.join("wiki").join(format!("{p}.md"))).unwrap(),
        None => {
            let (repo, number) = doc_id
                .strip_prefix("github:")
                .and_then(|r| r.split_once('#'))
                .unwrap();
            let file = to
                .join("github")
                .join(repo.replace('/', "__"))
                .join("issues.json");
            let mut issues: Vec<serde_json::Value> =
                serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            let number: i64 = number.parse().unwrap();
            issues.retain(|i| i["number"].as_i64() != Some(number));
            std::fs::write(&file, serde_json::to_vec(&issues).unwrap()).unwrap();
        }
    }
    to.to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
