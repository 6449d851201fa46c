//! Knowledge fixtures: the demo fixture shipped in `fixtures/knowledge/`, and a tiny workspace
//! directory written on the fly (wiki pages and GitHub issues built by [`page`] and [`issue`]).
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The demo knowledge fixture of workspace `ws` (`fixtures/knowledge/<ws>`).
pub fn fixtures_dir(ws: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/knowledge")
        .join(ws)
}

/// Writes `content` to `path`, creating its parent directories.
pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A wiki page with the front matter the ingester reads.
pub fn page(title: &str, updated: &str, body: &str) -> String {
    format!(
        "---\ntitle: {title}\nupdated: {updated}\nauthor: test.author\ntags: a, b\n---\n# {title}\n\n{body}\n"
    )
}

/// A GitHub REST issue object as the issues API returns it.
pub fn issue(
    repo: &str,
    n: i64,
    state: &str,
    updated: &str,
    labels: &[&str],
    title: &str,
    body: &str,
) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/{repo}/issues/{n}"),
        "html_url": format!("https://github.com/{repo}/issues/{n}"),
        "id": 1000 + n,
        "number": n,
        "title": title,
        "user": {"login": format!("user{}", n % 3)},
        "labels": labels.iter().map(|l| json!({"name": l, "color": "ffffff"})).collect::<Vec<_>>(),
        "state": state,
        "comments": n % 5,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": updated,
        "closed_at": if state == "closed" { json!(updated) } else { Value::Null },
        "body": body,
    })
}

/// A pull request as the issues API lists it (an issue with `pull_request`).
pub fn pull_request(repo: &str, n: i64) -> Value {
    let mut v = issue(
        repo,
        n,
        "open",
        "2026-06-01T00:00:00Z",
        &[],
        "A pull request",
        "diff",
    );
    v["pull_request"] = json!({"url": format!("https://api.github.com/repos/{repo}/pulls/{n}")});
    v
}

/// A tiny workspace directory: three wiki pages and three issues (plus a PR) of `acme-cloud/auth-service`.
pub fn tiny_fixture(root: &Path) -> PathBuf {
    let dir = root.join("acme");
    write(
        &dir.join("workspace.json"),
        r#"{"slug":"acme","name":"Acme Cloud","wiki_base_url":"https://wiki.acme.example/","github_repos":["acme-cloud/auth-service"]}"#,
    );
    write(
        &dir.join("wiki/incident-response-runbook.md"),
        &page(
            "Incident Response Runbook",
            "2026-09-14T10:22:00Z",
            "Declare an incident in #incidents, page the incident commander, and open a status page.\n\n## Severity\n\nSEV1 means customers are down.",
        ),
    );
    write(
        &dir.join("wiki/deploy-process.md"),
        &page(
            "Deploy Process",
            "2026-08-01T00:00:00Z",
            "Deploys go through Argo Rollouts with a canary step.",
        ),
    );
    write(
        &dir.join("wiki/pto-policy.md"),
        &page(
            "PTO Policy",
            "2026-02-01",
            "Take at least fifteen days of paid time off per year.",
        ),
    );
    let repo = "acme-cloud/auth-service";
    let issues = json!([
        issue(
            repo,
            3,
            "open",
            "2026-11-20T10:00:00Z",
            &["bug"],
            "Token refresh fails after rotation",
            "Refresh tokens rotate but the old one is rejected too early."
        ),
        pull_request(repo, 4),
        issue(
            repo,
            2,
            "closed",
            "2026-10-01T00:00:00Z",
            &["enhancement"],
            "Add RateLimit headers",
            "Send RateLimit-* headers on 429."
        ),
        issue(
            repo,
            1,
            "open",
            "2026-09-01T00:00:00Z",
            &[],
            "Document the incident runbook link",
            "The runbook link in the README is stale."
        ),
    ]);
    write(
        &dir.join("github/acme-cloud__auth-service/issues.json"),
        &issues.to_string(),
    );
    dir
}
