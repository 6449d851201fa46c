//! Knowledge base: ingestion, search, isolation, listing and the GitHub connector, on real SQLite.
use crate::support::knowledge::{fixtures_dir, issue, page, pull_request, tiny_fixture, write};
use crate::support::{self, PUBLIC_URL, START as NOW};

use gigamcp_server::knowledge::{
    FetchOptions, InvalidInput, IssueFilter, KnowledgeBase, SearchHit, Source,
};
use gigamcp_server::{Config, Store};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::matchers::{bearer_token, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A store on a fresh SQLite file with workspaces `acme` and `globex`, and a knowledge base on it.
struct Kb {
    kb: KnowledgeBase,
    store: Store,
    config: Config,
    db_url: String,
    _dir: tempfile::TempDir,
}

impl Kb {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(PUBLIC_URL, dir.path().to_path_buf()).unwrap();
        // SQLite in `dir`, or a fresh PostgreSQL database when GIGAMCP_TEST_POSTGRES_URL is set.
        let db_url = support::test_database_url(dir.path()).await;
        let store = Store::connect(&db_url).await.unwrap();
        store
            .create_workspace("acme", "Acme Cloud", NOW)
            .await
            .unwrap();
        store
            .create_workspace("globex", "Globex Logistics", NOW)
            .await
            .unwrap();
        let kb = KnowledgeBase::open(&config, &store)
            .await
            .unwrap()
            .with_fetch_options(fast_fetch());
        Self {
            kb,
            store,
            config,
            db_url,
            _dir: dir,
        }
    }

    /// Another knowledge base on the same database file through its own pool (another process).
    async fn second_process(&self) -> KnowledgeBase {
        let store = Store::connect(&self.db_url).await.unwrap();
        KnowledgeBase::open(&self.config, &store).await.unwrap()
    }

    fn search(&self, ws: &str, q: &str) -> Vec<SearchHit> {
        self.kb.search(ws, q, None, 10).unwrap()
    }

    async fn count(&self) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM knowledge_documents")
            .fetch_one(self.store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }
}

fn fast_fetch() -> FetchOptions {
    FetchOptions {
        backoff: Duration::from_millis(10),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn ingest_is_incremental_and_idempotent() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    let dir = tiny_fixture(root.path());

    let r = t.kb.ingest_dir("acme", &dir, NOW).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (6, 0, 0, 0),
        "{r}"
    );
    assert_eq!(r.to_string(), "6 added, 0 updated, 0 unchanged, 0 removed");
    let version = t.kb.index_stats("acme").unwrap().version;

    // Same directory again, later: nothing changes, not even the index version.
    let r = t.kb.ingest_dir("acme", &dir, NOW + 60).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (0, 0, 6, 0),
        "{r}"
    );
    assert_eq!(t.kb.index_stats("acme").unwrap().version, version);
    assert_eq!(t.count().await, 6);

    // Edit one page, delete one, add one; drop one issue.
    write(
        &dir.join("wiki/deploy-process.md"),
        &page(
            "Deploy Process",
            "2026-08-02T00:00:00Z",
            "Deploys now use a blue-green switchover with flamingo checks.",
        ),
    );
    std::fs::remove_file(dir.join("wiki/pto-policy.md")).unwrap();
    write(
        &dir.join("wiki/on-call.md"),
        "# On-call\n\nThe on-call engineer carries the pager for a week.",
    );
    let repo = "acme-cloud/auth-service";
    let issues = json!([issue(
        repo,
        3,
        "open",
        "2026-11-20T10:00:00Z",
        &["bug"],
        "Token refresh fails after rotation",
        "Refresh tokens rotate but the old one is rejected too early."
    )]);
    write(
        &dir.join("github/acme-cloud__auth-service/issues.json"),
        &issues.to_string(),
    );

    let r = t.kb.ingest_dir("acme", &dir, NOW + 120).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (1, 1, 2, 3),
        "{r}"
    );
    assert!(t.kb.index_stats("acme").unwrap().version > version);
    assert_eq!(t.count().await, 4);

    // The in-process index was rebuilt at once.
    assert_eq!(
        t.search("acme", "flamingo")[0].doc_id,
        "wiki:deploy-process"
    );
    assert!(
        t.search("acme", "paid time off")
            .iter()
            .all(|h| h.doc_id != "wiki:pto-policy")
    );
    assert!(
        t.kb.document("acme", "wiki:pto-policy")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        t.search("acme", "RateLimit headers")
            .iter()
            .all(|h| h.doc_id != "github:acme-cloud/auth-service#2")
    );

    // A page without front matter: title from its heading, updated_at = when it was ingested.
    let d =
        t.kb.document("acme", "wiki:on-call")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.title, "On-call");
    assert_eq!(d.updated_at, NOW + 120);
    let r = t.kb.ingest_dir("acme", &dir, NOW + 999).await.unwrap();
    assert!(!r.changed());
    assert_eq!(
        t.kb.document("acme", "wiki:on-call")
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        NOW + 120
    );
}

#[tokio::test]
async fn documents_have_the_contract_identifiers() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();

    let d =
        t.kb.document("acme", "wiki:incident-response-runbook")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(d.workspace, "acme");
    assert_eq!(d.source, Source::Wiki);
    assert_eq!(d.title, "Incident Response Runbook");
    assert_eq!(d.uri, "wiki://pages/incident-response-runbook");
    assert_eq!(
        d.url,
        "https://mcp.test/t/acme/wiki/incident-response-runbook"
    );
    assert_eq!(d.mime_type, "text/markdown");
    assert_eq!(d.updated_at, 1_789_381_320);
    assert!(
        d.text
            .starts_with("# Incident Response Runbook\n\nDeclare an incident")
    );
    assert_eq!(d.metadata["author"], "test.author");
    assert_eq!(d.metadata["tags"], json!(["a", "b"]));
    assert_eq!(
        t.kb.document_by_uri("acme", &d.uri).await.unwrap().unwrap(),
        d
    );

    let g =
        t.kb.document_by_uri("acme", "github://acme-cloud/auth-service/issues/3")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(g.id, "github:acme-cloud/auth-service#3");
    assert_eq!(g.source, Source::Github);
    assert_eq!(g.url, "https://github.com/acme-cloud/auth-service/issues/3");
    assert_eq!(
        g.text,
        "# Token refresh fails after rotation\n\nRefresh tokens rotate but the old one is rejected too early."
    );
    for k in [
        "repo",
        "number",
        "state",
        "labels",
        "author",
        "created_at",
        "updated_at",
        "closed_at",
        "comments",
    ] {
        assert!(g.metadata.contains_key(k), "metadata lacks {k}");
    }
    assert_eq!(g.metadata["labels"], json!(["bug"]));
    // Pull requests are not issues.
    assert!(
        t.kb.document("acme", "github:acme-cloud/auth-service#4")
            .await
            .unwrap()
            .is_none()
    );
    assert!(t.kb.document("acme", "nope").await.unwrap().is_none());
    assert!(
        t.kb.document_by_uri("acme", "wiki://pages/nope")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn search_ranks_filters_and_cites() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();

    let hits = t.search("acme", "incident runbook");
    assert_eq!(
        hits[0].doc_id, "wiki:incident-response-runbook",
        "{hits:#?}"
    );
    assert_eq!(hits[0].uri, "wiki://pages/incident-response-runbook");
    assert_eq!(
        hits[0].url,
        "https://mcp.test/t/acme/wiki/incident-response-runbook"
    );
    assert!(hits[0].score > 0.0);
    assert!(!hits[0].snippet.is_empty() && hits[0].snippet.chars().count() <= 300);
    assert!(!hits[0].snippet.contains("##") && !hits[0].snippet.contains('\n'));
    // The issue that mentions the runbook is found too, ranked below the page titled so.
    assert!(
        hits.iter()
            .any(|h| h.doc_id == "github:acme-cloud/auth-service#1")
    );
    // One hit per document, scores descending.
    let mut ids: Vec<_> = hits.iter().map(|h| h.doc_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), hits.len());
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    // Source filter.
    let gh =
        t.kb.search("acme", "incident runbook", Some(Source::Github), 10)
            .unwrap();
    assert!(!gh.is_empty() && gh.iter().all(|h| h.source == Source::Github));
    let wiki =
        t.kb.search("acme", "token refresh rotation", Some(Source::Wiki), 10)
            .unwrap();
    assert!(wiki.iter().all(|h| h.source == Source::Wiki));
    // Stemming: "deploying" finds "Deploys".
    assert_eq!(
        t.search("acme", "deploying")[0].doc_id,
        "wiki:deploy-process"
    );
    // Limit.
    assert_eq!(t.kb.search("acme", "the", None, 1).unwrap().len(), 1);
    // No index yet / unknown workspace: no hits, no error.
    assert!(t.search("globex", "incident").is_empty());
    assert!(t.search("nope", "incident").is_empty());
}

#[tokio::test]
async fn hostile_queries_never_fail() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let long = "incident ".repeat(5000);
    let queries = [
        "",
        "   ",
        "\"",
        "\"unbalanced phrase",
        "title:",
        "title:incident",
        "workspace:globex",
        "AND",
        "OR NOT",
        "(((",
        ")",
        "a:b:c",
        "*",
        "?",
        "~2",
        "^2",
        "\\",
        "[1 TO",
        "{}",
        "incident AND (runbook",
        "-incident",
        "+",
        "'; DROP TABLE knowledge_documents; --",
        "\u{0}",
        "🔥🔥",
        "日本語",
        &long,
        "incident\"runbook",
    ];
    for q in queries {
        for limit in [0, 1, 50, 10_000] {
            let hits =
                t.kb.search("acme", q, None, limit)
                    .unwrap_or_else(|e| panic!("{q:?}: {e}"));
            assert!(hits.len() <= 50);
        }
    }
    assert!(t.search("acme", "").is_empty());
    assert!(t.search("acme", "  \"\" ()").is_empty());
    assert!(!t.search("acme", "incident AND (runbook").is_empty());
    assert!(!t.search("acme", &long).is_empty());
    assert_eq!(t.count().await, 6);
}

#[tokio::test]
async fn workspaces_never_see_each_other() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    let acme = root.path().join("a");
    let globex = root.path().join("g");
    write(
        &acme.join("wiki/zebra.md"),
        "# Acme zebra plan\n\nThe zebrafish rollout at Acme.",
    );
    write(
        &acme.join("wiki/shared-name.md"),
        "# Shared\n\nAcme's zebrafish notes.",
    );
    write(
        &globex.join("wiki/zebra-routes.md"),
        "# Globex zebra routes\n\nThe zebrafish routes at Globex.",
    );
    write(
        &globex.join("wiki/shared-name.md"),
        "# Shared\n\nGlobex's zebrafish notes.",
    );
    t.kb.ingest_dir("acme", &acme, NOW).await.unwrap();
    t.kb.ingest_dir("globex", &globex, NOW).await.unwrap();

    let a = t.search("acme", "zebrafish");
    let g = t.search("globex", "zebrafish");
    assert_eq!(a.len(), 2);
    assert_eq!(g.len(), 2);
    assert!(a.iter().all(|h| h.url.starts_with("https://mcp.test/t/acme/") && !h.snippet.contains("Globex")), "{a:#?}");
    assert!(g.iter().all(|h| h.url.starts_with("https://mcp.test/t/globex/") && !h.snippet.contains("Acme")), "{g:#?}");
    assert!(
        t.search("acme", "globex routes")
            .iter()
            .all(|h| !h.title.contains("Globex"))
    );

    // Reads are confined too, even for an id/URI that exists in the other workspace.
    assert!(
        t.kb.document("acme", "wiki:zebra-routes")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        t.kb.document_by_uri("globex", "wiki://pages/zebra")
            .await
            .unwrap()
            .is_none()
    );
    let shared =
        t.kb.document("acme", "wiki:shared-name")
            .await
            .unwrap()
            .unwrap();
    assert!(shared.text.contains("Acme's"));
    let shared =
        t.kb.document_by_uri("globex", "wiki://pages/shared-name")
            .await
            .unwrap()
            .unwrap();
    assert!(shared.text.contains("Globex's"));
    let listed = t.kb.list_documents("acme", None, 100).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|d| d.workspace == "acme" && d.text.contains("Acme"))
    );

    // Re-ingesting one workspace leaves the other alone.
    std::fs::remove_file(acme.join("wiki/shared-name.md")).unwrap();
    let r = t.kb.ingest_dir("acme", &acme, NOW + 1).await.unwrap();
    assert_eq!(r.removed, 1);
    assert_eq!(t.search("globex", "zebrafish").len(), 2);
    assert!(
        t.kb.document("globex", "wiki:shared-name")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn list_documents_paginates_by_uri() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let all = t.kb.list_documents("acme", None, 1000).await.unwrap();
    assert_eq!(all.len(), 6);
    let mut uris: Vec<_> = all.iter().map(|d| d.uri.clone()).collect();
    let sorted = {
        let mut s = uris.clone();
        s.sort();
        s
    };
    assert_eq!(uris, sorted);

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page =
            t.kb.list_documents("acme", cursor.as_deref(), 4)
                .await
                .unwrap();
        assert!(page.len() <= 4);
        if page.is_empty() {
            break;
        }
        cursor = Some(page.last().unwrap().uri.clone());
        paged.extend(page.into_iter().map(|d| d.uri));
    }
    assert_eq!(paged, uris);
    // Limit 0 is clamped to 1; an unknown cursor still works (it is a position, not a key).
    assert_eq!(t.kb.list_documents("acme", None, 0).await.unwrap().len(), 1);
    uris.retain(|u| u.as_str() > "github://zzz");
    assert_eq!(
        t.kb.list_documents("acme", Some("github://zzz"), 100)
            .await
            .unwrap()
            .len(),
        uris.len()
    );
    assert!(
        t.kb.list_documents("globex", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn github_issue_listing_filters() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let filter = |state: Option<&str>, since: Option<&str>, limit| IssueFilter {
        repo: "acme-cloud/auth-service".into(),
        state: state.map(Into::into),
        since: since.map(Into::into),
        limit,
    };
    let numbers = |v: Vec<gigamcp_server::knowledge::GithubIssue>| {
        v.iter().map(|i| i.number).collect::<Vec<_>>()
    };

    let all =
        t.kb.list_github_issues("acme", &filter(None, None, 50))
            .await
            .unwrap();
    assert_eq!(numbers(all.clone()), [3, 2, 1]);
    let i = &all[0];
    assert_eq!(i.repo, "acme-cloud/auth-service");
    assert_eq!(i.title, "Token refresh fails after rotation");
    assert_eq!(i.state, "open");
    assert_eq!(i.labels, ["bug"]);
    assert_eq!(i.author, "user0");
    assert_eq!(i.updated_at, "2026-11-20T10:00:00Z");
    assert_eq!(i.closed_at, None);
    assert_eq!(i.comments, 3);
    assert_eq!(i.url, "https://github.com/acme-cloud/auth-service/issues/3");
    assert_eq!(i.uri, "github://acme-cloud/auth-service/issues/3");
    assert_eq!(
        i.body,
        "Refresh tokens rotate but the old one is rejected too early."
    );
    assert_eq!(all[1].closed_at.as_deref(), Some("2026-10-01T00:00:00Z"));

    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(Some("open"), None, 50))
                .await
                .unwrap()
        ),
        [3, 1]
    );
    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(Some("CLOSED"), None, 50))
                .await
                .unwrap()
        ),
        [2]
    );
    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(Some("all"), None, 2))
                .await
                .unwrap()
        ),
        [3, 2]
    );
    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(None, Some("2026-10-01T00:00:00Z"), 50))
                .await
                .unwrap()
        ),
        [3, 2]
    );
    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(Some("open"), Some("2026-09-15"), 50))
                .await
                .unwrap()
        ),
        [3]
    );
    assert_eq!(
        numbers(
            t.kb.list_github_issues("acme", &filter(None, None, 0))
                .await
                .unwrap()
        ),
        [3]
    );
    // Repo by name alone, any case.
    let short = IssueFilter {
        repo: "Auth-Service".into(),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        numbers(t.kb.list_github_issues("acme", &short).await.unwrap()),
        [3, 2, 1]
    );
    // Unknown repo or other workspace: nothing.
    let other = IssueFilter {
        repo: "acme-cloud/nope".into(),
        limit: 10,
        ..Default::default()
    };
    assert!(
        t.kb.list_github_issues("acme", &other)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        t.kb.list_github_issues("globex", &filter(None, None, 10))
            .await
            .unwrap()
            .is_empty()
    );
    // Bad input is InvalidInput, not a failure.
    for bad in [
        filter(Some("merged"), None, 10),
        filter(None, Some("last week"), 10),
        IssueFilter {
            repo: "a/b/c".into(),
            ..Default::default()
        },
    ] {
        let e = t.kb.list_github_issues("acme", &bad).await.unwrap_err();
        assert!(e.downcast_ref::<InvalidInput>().is_some(), "{e}");
    }
}

#[tokio::test]
async fn connector_status_counts() {
    let t = Kb::new().await;
    let s = t.kb.connector_status("acme").await.unwrap();
    assert_eq!(
        (s.wiki_pages, s.github_issues, s.repos.len(), s.last_sync_at),
        (0, 0, 0, None)
    );
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let s = t.kb.connector_status("acme").await.unwrap();
    assert_eq!(s.wiki_pages, 3);
    assert_eq!(s.github_issues, 3);
    assert_eq!(s.repos, ["acme-cloud/auth-service"]);
    assert_eq!(s.last_sync_at, Some(NOW));
    // An unchanged re-ingest still counts as a sync.
    t.kb.ingest_dir("acme", &root.path().join("acme"), NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        t.kb.connector_status("acme").await.unwrap().last_sync_at,
        Some(NOW + 5)
    );
    assert_eq!(t.kb.connector_status("globex").await.unwrap().wiki_pages, 0);
}

#[tokio::test]
async fn bad_input_files_write_nothing() {
    let t = Kb::new().await;
    let root = tempfile::tempdir().unwrap();
    let dir = tiny_fixture(root.path());
    t.kb.ingest_dir("acme", &dir, NOW).await.unwrap();
    let before = t.kb.list_documents("acme", None, 100).await.unwrap();
    let version = t.kb.index_stats("acme").unwrap().version;

    let err = |e: anyhow::Error| format!("{e:#}");
    // A new good page next to a malformed one: neither is written.
    write(&dir.join("wiki/new-page.md"), "# New\n\nfresh");
    write(
        &dir.join("wiki/broken.md"),
        "---\ntitle: Broken\nno end of front matter\n",
    );
    let e = err(t.kb.ingest_dir("acme", &dir, NOW + 1).await.unwrap_err());
    assert!(e.contains("broken.md") && e.contains("never closed"), "{e}");
    std::fs::remove_file(dir.join("wiki/broken.md")).unwrap();

    write(&dir.join("wiki/latin1.md"), "");
    std::fs::write(dir.join("wiki/latin1.md"), b"caf\xe9").unwrap();
    let e = err(t.kb.ingest_dir("acme", &dir, NOW + 1).await.unwrap_err());
    assert!(e.contains("latin1.md") && e.contains("UTF-8"), "{e}");
    std::fs::remove_file(dir.join("wiki/latin1.md")).unwrap();

    write(&dir.join("wiki/bad name.md"), "x");
    let e = err(t.kb.ingest_dir("acme", &dir, NOW + 1).await.unwrap_err());
    assert!(e.contains("bad name.md"), "{e}");
    std::fs::remove_file(dir.join("wiki/bad name.md")).unwrap();

    let issues = dir.join("github/acme-cloud__auth-service/issues.json");
    let good_issues = std::fs::read_to_string(&issues).unwrap();
    for bad in [
        "[{\"number\": 1",
        "{\"message\": \"Not Found\"}",
        "[{\"number\": 1, \"title\": \"x\"}]",
    ] {
        write(&issues, bad);
        let e = err(t.kb.ingest_dir("acme", &dir, NOW + 1).await.unwrap_err());
        assert!(e.contains("issues.json"), "{e}");
    }
    write(&issues, &good_issues);

    write(&dir.join("github/not-a-repo/issues.json"), "[]");
    let e = err(t.kb.ingest_dir("acme", &dir, NOW + 1).await.unwrap_err());
    assert!(e.contains("not-a-repo"), "{e}");
    std::fs::remove_dir_all(dir.join("github/not-a-repo")).unwrap();

    // A directory for another workspace, a missing directory, an unknown workspace.
    let e = t.kb.ingest_dir("globex", &dir, NOW + 1).await.unwrap_err();
    assert!(e.downcast_ref::<InvalidInput>().is_some() && err(e).contains("refusing"));
    let e =
        t.kb.ingest_dir("acme", &root.path().join("missing"), NOW + 1)
            .await
            .unwrap_err();
    assert!(e.downcast_ref::<InvalidInput>().is_some());
    std::fs::create_dir_all(root.path().join("empty")).unwrap();
    assert!(
        t.kb.ingest_dir("acme", &root.path().join("empty"), NOW + 1)
            .await
            .is_err()
    );
    let e = t.kb.ingest_dir("initech", &dir, NOW + 1).await.unwrap_err();
    assert!(err(e).contains("unknown workspace"));

    assert_eq!(
        t.kb.list_documents("acme", None, 100).await.unwrap(),
        before
    );
    assert_eq!(t.kb.index_stats("acme").unwrap().version, version);
    assert_eq!(
        t.kb.connector_status("acme").await.unwrap().last_sync_at,
        Some(NOW)
    );
    // Fixed, the same directory ingests (the new page was waiting).
    let r = t.kb.ingest_dir("acme", &dir, NOW + 2).await.unwrap();
    assert_eq!((r.added, r.unchanged), (1, 6), "{r}");
}

#[tokio::test]
async fn other_processes_pick_up_ingests() {
    let t = Kb::new().await;
    let server = Arc::new(
        t.second_process()
            .await
            .with_refresh_interval(Duration::from_millis(50)),
    );
    server.spawn_refresher();
    assert!(
        server
            .search("acme", "incident", None, 10)
            .unwrap()
            .is_empty()
    );

    // `admin ingest` in "another process" (the first knowledge base, with its own pool).
    let root = tempfile::tempdir().unwrap();
    t.kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .search("acme", "incident", None, 10)
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the server never saw the ingest");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        server.search("acme", "incident runbook", None, 10).unwrap()[0].doc_id,
        "wiki:incident-response-runbook"
    );
    // A fresh process builds the same index from the store.
    let fresh = t.second_process().await;
    assert_eq!(
        fresh.search("acme", "incident runbook", None, 10).unwrap(),
        t.search("acme", "incident runbook")
    );
    assert_eq!(fresh.refresh().await.unwrap(), 0);
}

/// Replicas seeding the same fixtures at once (the CI failure of session 7: on PostgreSQL the
/// second insert of a document hit the `(workspace, uri)` index, which the upsert does not
/// arbitrate). Every ingest must succeed, exactly one of them adds the documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_of_the_same_documents_all_succeed() {
    for round in 0..3 {
        let t = Kb::new().await;
        let root = tempfile::tempdir().unwrap();
        let dir = tiny_fixture(root.path());
        let mut processes = vec![];
        for _ in 0..6 {
            processes.push(Arc::new(t.second_process().await));
        }
        let runs = processes.iter().map(|kb| {
            let (kb, dir) = (kb.clone(), dir.clone());
            tokio::spawn(async move { kb.ingest_dir("acme", &dir, NOW).await })
        });
        let reports: Vec<_> = futures::future::join_all(runs)
            .await
            .into_iter()
            .map(|r| r.unwrap().expect("a concurrent ingest failed"))
            .collect();
        // Serialized writers: the first adds all six, every later one finds them unchanged.
        let adders = reports.iter().filter(|r| r.added > 0).count();
        assert_eq!(adders, 1, "round {round}: {reports:?}");
        assert!(
            reports.iter().all(|r| r.added == 6 || r.unchanged == 6),
            "round {round}: {reports:?}"
        );
        assert_eq!(t.count().await, 6);
    }
}

#[tokio::test]
async fn app_state_knowledge_base_is_wired() {
    let app = support::TestApp::with_people().await;
    let root = tempfile::tempdir().unwrap();
    let kb = &app.state.knowledge;
    kb.ingest_dir("acme", &tiny_fixture(root.path()), NOW)
        .await
        .unwrap();
    let hits = kb.search("acme", "incident runbook", None, 5).unwrap();
    assert_eq!(
        hits[0].url,
        format!("{}/t/acme/wiki/incident-response-runbook", PUBLIC_URL)
    );
    assert!(
        kb.search("globex", "incident runbook", None, 5)
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// The real demo fixtures (fixtures/knowledge/{acme,globex}).

#[tokio::test]
async fn real_fixtures_ingest_and_answer() {
    let (acme, globex) = (fixtures_dir("acme"), fixtures_dir("globex"));
    if !acme.join("wiki").is_dir() {
        eprintln!("fixtures/knowledge/acme not present; skipping");
        return;
    }
    let t = Kb::new().await;
    let r = t.kb.ingest_dir("acme", &acme, NOW).await.unwrap();
    assert!(r.added >= 30, "{r}");
    if globex.join("workspace.json").is_file() {
        t.kb.ingest_dir("globex", &globex, NOW).await.unwrap();
    }
    let again = t.kb.ingest_dir("acme", &acme, NOW + 10).await.unwrap();
    assert_eq!(
        (again.added, again.updated, again.removed),
        (0, 0, 0),
        "{again}"
    );
    assert_eq!(again.unchanged, r.added);

    let hits = t.search("acme", "incident response runbook");
    let first = &hits[0];
    assert_eq!(first.doc_id, "wiki:incident-response-runbook", "{hits:#?}");
    assert_eq!(first.uri, "wiki://pages/incident-response-runbook");
    assert_eq!(
        first.url,
        "https://mcp.test/t/acme/wiki/incident-response-runbook"
    );
    assert!(
        !first.snippet.is_empty() && first.snippet.chars().count() <= 300,
        "{}",
        first.snippet
    );

    let status = t.kb.connector_status("acme").await.unwrap();
    assert!(status.wiki_pages >= 30);
    assert!(
        status
            .repos
            .contains(&"acme-cloud/auth-service".to_string())
    );
    let issues =
        t.kb.list_github_issues(
            "acme",
            &IssueFilter {
                repo: "acme-cloud/auth-service".into(),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(issues.len() >= 40, "{}", issues.len());
    assert!(
        issues
            .windows(2)
            .all(|w| w[0].updated_at >= w[1].updated_at)
    );
    assert!(issues.iter().any(|i| i.state == "open") && issues.iter().any(|i| i.state == "closed"));

    // Isolation on real content: every globex hit is globex's.
    for q in ["incident", "on-call", "deploy", "security policy", "token"] {
        for h in t.search("globex", q) {
            assert!(
                h.url.contains("/t/globex/") || h.url.contains("github.com/globex-logistics/"),
                "{q}: {h:?}"
            );
        }
        for h in t.search("acme", q) {
            assert!(
                h.url.contains("/t/acme/") || h.url.contains("github.com/acme-cloud/"),
                "{q}: {h:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The GitHub connector against wiremock.

const REPO: &str = "acme-cloud/auth-service";
const ISSUES_PATH: &str = "/repos/acme-cloud/auth-service/issues";

fn page_of(from: i64, to: i64) -> Value {
    // Newest first: higher numbers were updated later.
    Value::Array(
        (from..=to)
            .rev()
            .map(|n| {
                let state = if n % 3 == 0 { "closed" } else { "open" };
                issue(
                    REPO,
                    n,
                    state,
                    &format!("2026-05-{:02}T12:00:00Z", n.min(28)),
                    &["bug"],
                    &format!("Issue number {n}"),
                    "body",
                )
            })
            .collect(),
    )
}

fn ok_json(v: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/json")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn sync(
    t: &Kb,
    server: &MockServer,
    token: Option<&str>,
) -> anyhow::Result<gigamcp_server::knowledge::IngestReport> {
    t.kb.sync_github("acme", &server.uri(), token, REPO, NOW)
        .await
}

/// Page 1 (no `page` param) + Link to 2 + Link to 3; page 2 carries a pull request.
async fn mount_three_pages(server: &MockServer, page3: Value) {
    let base = server.uri();
    let link = |n: u32| {
        format!(
            "<{base}{ISSUES_PATH}?state=all&per_page=100&page={n}>; rel=\"next\", <{base}{ISSUES_PATH}?page=3>; rel=\"last\""
        )
    };
    let mut p2 = page_of(4, 6);
    p2.as_array_mut().unwrap().push(pull_request(REPO, 100));
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(query_param("state", "all"))
        .and(query_param("per_page", "100"))
        .and(query_param("sort", "updated"))
        .and(query_param("direction", "desc"))
        .and(query_param_is_missing("page"))
        .respond_with(ok_json(&page_of(7, 9)).insert_header("link", link(2).as_str()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(query_param("page", "2"))
        .respond_with(ok_json(&p2).insert_header("link", link(3).as_str()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(query_param("page", "3"))
        .respond_with(ok_json(&page3))
        .mount(server)
        .await;
}

#[tokio::test]
async fn github_sync_follows_pagination_and_skips_pull_requests() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    mount_three_pages(&server, page_of(1, 3)).await;

    let r = sync(&t, &server, Some("ghp_secret")).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (9, 0, 0, 0),
        "{r}"
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        let h = |n: &str| req.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(h("authorization").as_deref(), Some("Bearer ghp_secret"));
        assert_eq!(h("accept").as_deref(), Some("application/vnd.github+json"));
        assert_eq!(h("x-github-api-version").as_deref(), Some("2022-11-28"));
        assert_eq!(h("user-agent").as_deref(), Some("gigamcp"));
    }
    assert!(
        t.kb.document("acme", "github:acme-cloud/auth-service#100")
            .await
            .unwrap()
            .is_none()
    );
    let issues =
        t.kb.list_github_issues(
            "acme",
            &IssueFilter {
                repo: REPO.into(),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        issues.iter().map(|i| i.number).collect::<Vec<_>>(),
        (1..=9).rev().collect::<Vec<_>>()
    );
    assert_eq!(t.search("acme", "issue number")[0].source, Source::Github);
    assert_eq!(
        t.kb.connector_status("acme").await.unwrap().last_sync_at,
        Some(NOW)
    );

    // Re-sync: idempotent.
    let r = sync(&t, &server, Some("ghp_secret")).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (0, 0, 9, 0),
        "{r}"
    );

    // An issue that disappeared upstream is removed; a changed one is updated.
    server.reset().await;
    let mut p3 = page_of(2, 3);
    p3[0]["state"] = json!("open");
    p3[0]["updated_at"] = json!("2026-07-01T00:00:00Z");
    mount_three_pages(&server, p3).await;
    let r = sync(&t, &server, None).await.unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.removed),
        (0, 1, 7, 1),
        "{r}"
    );
    // Without a token, no Authorization header.
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
}

#[tokio::test]
async fn github_sync_waits_for_the_rate_limit_reset() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    let reset = unix_now() + 1;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(bearer_token("tok"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_raw(
                    r#"{"message":"API rate limit exceeded"}"#,
                    "application/json",
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ok_json(&page_of(1, 2)))
        .mount(&server)
        .await;

    let r = sync(&t, &server, Some("tok")).await.unwrap();
    assert_eq!(r.added, 2);
    assert!(unix_now() >= reset, "retried before the reset");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn github_sync_honours_retry_after() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ok_json(&page_of(1, 2)))
        .mount(&server)
        .await;
    let started = Instant::now();
    assert_eq!(sync(&t, &server, None).await.unwrap().added, 2);
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn github_sync_gives_up_on_a_distant_reset() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header(
                    "x-ratelimit-reset",
                    (unix_now() + 3600).to_string().as_str(),
                ),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let e = format!("{:#}", sync(&t, &server, Some("tok")).await.unwrap_err());
    assert!(
        e.contains("rate limit") && e.contains("try again later"),
        "{e}"
    );
    assert!(!e.contains("tok"), "token leaked into the error: {e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(t.count().await, 0);
}

#[tokio::test]
async fn github_sync_retries_server_errors() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ok_json(&page_of(1, 3)))
        .mount(&server)
        .await;
    assert_eq!(sync(&t, &server, None).await.unwrap().added, 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // Persistent failure: a clear error after the retries, nothing changed.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let e = format!("{:#}", sync(&t, &server, None).await.unwrap_err());
    assert!(e.contains("503") && e.contains("3 attempts"), "{e}");
    assert_eq!(t.count().await, 3);
}

#[tokio::test]
async fn github_sync_rejects_bad_responses_without_writing() {
    let t = Kb::new().await;
    let server = MockServer::start().await;
    // Page 1 fine, page 2 garbage: nothing from page 1 is kept.
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(query_param_is_missing("page"))
        .respond_with(ok_json(&page_of(3, 4)).insert_header(
            "link",
            format!("<{base}{ISSUES_PATH}?page=2>; rel=\"next\"").as_str(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[{\"number\": ", "application/json"))
        .mount(&server)
        .await;
    let e = format!("{:#}", sync(&t, &server, None).await.unwrap_err());
    assert!(e.contains("invalid JSON") && e.contains("page 2"), "{e}");
    assert_eq!(t.count().await, 0);
    assert_eq!(
        t.kb.connector_status("acme").await.unwrap().last_sync_at,
        None
    );

    // A next link to another host would carry the token away: refused.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(ISSUES_PATH))
        .respond_with(
            ok_json(&page_of(1, 1))
                .insert_header("link", "<https://evil.example/steal>; rel=\"next\""),
        )
        .mount(&server)
        .await;
    let e = format!("{:#}", sync(&t, &server, Some("tok")).await.unwrap_err());
    assert!(e.contains("refusing"), "{e}");

    // 401 / 404 are clear errors, not retried.
    for (status, words) in [(401, "rejected the token"), (404, "not found")] {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path(ISSUES_PATH))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(r#"{"message":"nope"}"#, "application/json"),
            )
            .mount(&server)
            .await;
        let e = format!("{:#}", sync(&t, &server, Some("tok")).await.unwrap_err());
        assert!(e.contains(words), "{e}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
    // Bad repo names and unknown workspaces are InvalidInput.
    let e =
        t.kb.sync_github("acme", &server.uri(), None, "../etc", NOW)
            .await
            .unwrap_err();
    assert!(e.downcast_ref::<InvalidInput>().is_some());
    let e =
        t.kb.sync_github("initech", &server.uri(), None, REPO, NOW)
            .await
            .unwrap_err();
    assert!(e.downcast_ref::<InvalidInput>().is_some());
    assert_eq!(t.count().await, 0);
}
