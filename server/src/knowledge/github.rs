//! GitHub connector: issues in the REST API's "list repository issues" shape, read from fixture
//! JSON (offline) or fetched from the API with `Link` pagination, rate-limit handling and retries.
use super::model::{Source, SourceDoc};
use super::wiki::parse_datetime;
use anyhow::{Context, anyhow, bail};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::Duration;

/// One element of GitHub's issue list. Only the fields we use; unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueJson {
    pub number: i64,
    pub title: String,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<LabelJson>,
    #[serde(default)]
    pub user: Option<UserJson>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub comments: i64,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Present only on pull requests, which the issues API also lists.
    #[serde(default)]
    pub pull_request: Option<Value>,
}

/// Labels come as objects (`{"name": …}`) from the API, sometimes as plain strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LabelJson {
    Name(String),
    Object { name: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserJson {
    pub login: String,
}

/// `owner/repo` with GitHub's character set; returned lowercased (GitHub names are
/// case-insensitive, so this is the key we store).
pub fn normalize_repo(repo: &str) -> Option<String> {
    let (owner, name) = repo.trim().split_once('/')?;
    let ok = |s: &str| {
        (1..=100).contains(&s.len())
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    (ok(owner) && ok(name)).then(|| format!("{owner}/{name}").to_ascii_lowercase())
}

/// Directory name `owner__repo` → `owner/repo`.
pub fn repo_from_dir_name(name: &str) -> Option<String> {
    let (owner, repo) = name.split_once("__")?;
    normalize_repo(&format!("{owner}/{repo}"))
}

impl IssueJson {
    fn is_pull_request(&self) -> bool {
        self.pull_request.as_ref().is_some_and(|v| !v.is_null())
    }

    /// Validates and converts; `repo` is normalized.
    pub(crate) fn into_doc(self, repo: &str) -> Result<SourceDoc, String> {
        let n = self.number;
        if n <= 0 {
            return Err(format!("issue number {n} is not positive"));
        }
        let updated_at = parse_datetime(&self.updated_at)
            .ok_or_else(|| format!("issue #{n}: bad updated_at {:?}", self.updated_at))?;
        if parse_datetime(&self.created_at).is_none() {
            return Err(format!("issue #{n}: bad created_at {:?}", self.created_at));
        }
        if let Some(c) = &self.closed_at
            && parse_datetime(c).is_none()
        {
            return Err(format!("issue #{n}: bad closed_at {c:?}"));
        }
        let state = self.state.to_ascii_lowercase();
        if state != "open" && state != "closed" {
            return Err(format!("issue #{n}: unknown state {:?}", self.state));
        }
        let url = match self.html_url {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => u,
            Some(u) => return Err(format!("issue #{n}: html_url is not an http(s) URL: {u:?}")),
            None => format!("https://github.com/{repo}/issues/{n}"),
        };
        let labels: Vec<String> = self
            .labels
            .into_iter()
            .map(|l| match l {
                LabelJson::Name(s) | LabelJson::Object { name: s } => s,
            })
            .collect();
        let body = self.body.unwrap_or_default();
        let mut metadata = Map::new();
        metadata.insert("repo".into(), json!(repo));
        metadata.insert("number".into(), json!(n));
        metadata.insert("state".into(), json!(state));
        metadata.insert("labels".into(), json!(labels));
        metadata.insert(
            "author".into(),
            json!(self.user.map(|u| u.login).unwrap_or_default()),
        );
        metadata.insert("created_at".into(), json!(self.created_at));
        metadata.insert("updated_at".into(), json!(self.updated_at));
        metadata.insert("closed_at".into(), json!(self.closed_at));
        metadata.insert("comments".into(), json!(self.comments));
        Ok(SourceDoc {
            id: format!("github:{repo}#{n}"),
            source: Source::Github,
            text: issue_text(&self.title, &body),
            title: self.title,
            url,
            uri: format!("github://{repo}/issues/{n}"),
            mime_type: "text/markdown".into(),
            metadata,
            updated_at: Some(updated_at),
            repo: Some(repo.to_string()),
            state: Some(state),
            number: Some(n),
        })
    }
}

/// The indexed text of an issue: its title as a heading, then its body.
pub(crate) fn issue_text(title: &str, body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        format!("# {title}")
    } else {
        format!("# {title}\n\n{body}")
    }
}

/// The body back out of [`issue_text`].
pub(crate) fn issue_body<'a>(title: &str, text: &'a str) -> &'a str {
    text.strip_prefix(&format!("# {title}"))
        .map(|r| r.trim_start_matches('\n'))
        .unwrap_or(text)
}

/// Converts a page of issues, dropping pull requests and rejecting duplicates.
fn convert(repo: &str, issues: Vec<IssueJson>) -> Result<Vec<SourceDoc>, String> {
    let mut seen = std::collections::HashSet::new();
    let mut docs = Vec::new();
    for issue in issues.into_iter().filter(|i| !i.is_pull_request()) {
        let n = issue.number;
        if !seen.insert(n) {
            // The API can repeat an issue across pages when it is updated mid-listing; the first
            // (newest) copy wins.
            continue;
        }
        docs.push(issue.into_doc(repo)?);
    }
    Ok(docs)
}

/// Reads `github/<owner>__<repo>/issues.json`.
pub(crate) fn read_issues_file(repo: &str, path: &Path) -> anyhow::Result<Vec<SourceDoc>> {
    let fail = |msg: String| anyhow!("GitHub issues file {}: {msg}", path.display());
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let issues: Vec<IssueJson> = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("not a GitHub issue list: {e}")))?;
    convert(repo, issues).map_err(fail)
}

/// Knobs of the HTTP connector (tests shorten them).
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Total time one sync may spend waiting for rate limits to reset.
    pub max_rate_limit_wait: Duration,
    /// Retries after a 5xx or network error (so `1 + max_retries` attempts).
    pub max_retries: u32,
    /// First retry delay; doubled on each further retry.
    pub backoff: Duration,
    /// Hard stop on pagination (100 pages × 100 = 10,000 issues).
    pub max_pages: usize,
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            max_rate_limit_wait: Duration::from_secs(60),
            max_retries: 2,
            backoff: Duration::from_millis(500),
            max_pages: 100,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Fetches every issue of `repo` (normalized `owner/name`) from the REST API at `api_url`.
/// Nothing is returned unless every page was fetched and parsed.
pub(crate) async fn fetch_issues(
    client: &reqwest::Client,
    api_url: &str,
    token: Option<&str>,
    repo: &str,
    opts: &FetchOptions,
) -> anyhow::Result<Vec<SourceDoc>> {
    let base = api_url.trim_end_matches('/');
    let origin = url::Url::parse(base)
        .with_context(|| format!("invalid GitHub API URL {base:?}"))?
        .origin();
    let mut next = Some(format!(
        "{base}/repos/{repo}/issues?state=all&per_page=100&sort=updated&direction=desc"
    ));
    let mut all = Vec::new();
    let mut visited = std::collections::HashSet::new();
    let mut budget = opts.max_rate_limit_wait;
    let mut page = 0;
    while let Some(url) = next.take() {
        page += 1;
        if page > opts.max_pages {
            bail!(
                "GitHub sync of {repo} stopped after {} pages",
                opts.max_pages
            );
        }
        if !visited.insert(url.clone()) {
            bail!("GitHub pagination for {repo} loops back to page {url}");
        }
        let resp = get_with_retries(client, &url, token, repo, opts, &mut budget).await?;
        let link_next = next_link(resp.headers());
        let exhausted_wait = rate_limit_wait(resp.headers(), true);
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("reading GitHub issues of {repo} (page {page})"))?;
        let issues: Vec<IssueJson> = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!("GitHub returned invalid JSON for {repo} issues (page {page}): {e}")
        })?;
        all.extend(issues);
        if let Some(u) = link_next {
            let parsed = url::Url::parse(&u)
                .map_err(|e| anyhow!("GitHub sent an invalid next-page link {u:?}: {e}"))?;
            // The bearer token must never be sent to another host.
            if parsed.origin() != origin {
                bail!("GitHub next-page link {u:?} leaves {base}; refusing to follow it");
            }
            // Proactively wait when the quota is used up before asking for the next page.
            if let Some(wait) = exhausted_wait {
                spend(&mut budget, wait, repo, opts)?;
                tokio::time::sleep(wait).await;
            }
            next = Some(u);
        }
    }
    convert(repo, all).map_err(|m| anyhow!("GitHub issues of {repo}: {m}"))
}

fn spend(
    budget: &mut Duration,
    wait: Duration,
    repo: &str,
    opts: &FetchOptions,
) -> anyhow::Result<()> {
    if wait > *budget {
        bail!(
            "GitHub rate limit reached while syncing {repo}: it resets in {}s, longer than the {}s a sync may wait; try again later",
            wait.as_secs().max(1),
            opts.max_rate_limit_wait.as_secs()
        );
    }
    *budget -= wait;
    Ok(())
}

async fn get_with_retries(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    repo: &str,
    opts: &FetchOptions,
    budget: &mut Duration,
) -> anyhow::Result<reqwest::Response> {
    let mut failures = 0u32;
    loop {
        let mut req = client
            .get(url)
            .timeout(opts.timeout)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(USER_AGENT, "gigamcp");
        if let Some(t) = token {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                anyhow!("the GitHub token contains characters not allowed in a header")
            })?;
            v.set_sensitive(true);
            req = req.header(AUTHORIZATION, v);
        }
        let retry_delay = opts.backoff * 2u32.saturating_pow(failures);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if failures < opts.max_retries => {
                tracing::warn!(repo, error = %e.without_url(), "GitHub request failed; retrying");
                failures += 1;
                tokio::time::sleep(retry_delay).await;
                continue;
            }
            Err(e) => bail!(
                "GitHub request for {repo} failed after {} attempts: {}",
                failures + 1,
                e.without_url()
            ),
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let code = status.as_u16();
        if code == 403 || code == 429 {
            if let Some(wait) = rate_limit_wait(resp.headers(), false) {
                spend(budget, wait, repo, opts)?;
                tracing::info!(
                    repo,
                    wait_ms = wait.as_millis() as u64,
                    "GitHub rate limit; waiting for the reset"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if code == 429 && failures < opts.max_retries {
                failures += 1;
                tokio::time::sleep(retry_delay).await;
                continue;
            }
        }
        if status.is_server_error() && failures < opts.max_retries {
            tracing::warn!(repo, status = code, "GitHub server error; retrying");
            failures += 1;
            tokio::time::sleep(retry_delay).await;
            continue;
        }
        let message = github_message(resp).await;
        match code {
            401 => bail!("GitHub rejected the token (401) while syncing {repo}: {message}"),
            403 => bail!("GitHub refused access to {repo} (403): {message}"),
            404 => {
                bail!("GitHub repository {repo} not found, or not visible with this token (404)")
            }
            _ if status.is_server_error() => {
                bail!(
                    "GitHub answered {status} for {repo} after {} attempts: {message}",
                    failures + 1
                )
            }
            _ => bail!("GitHub answered {status} for {repo}: {message}"),
        }
    }
}

/// GitHub error bodies are `{"message": …}`; keep it short.
async fn github_message(resp: reqwest::Response) -> String {
    let bytes = resp.bytes().await.unwrap_or_default();
    let msg = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    super::chunk::truncate_chars(msg.trim(), 200)
}

/// How long a rate-limited response asks us to wait: `retry-after` seconds, else (when
/// `x-ratelimit-remaining` is 0) until `x-ratelimit-reset`. With `only_exhausted`, only the
/// latter (a successful response that used the last request of the quota).
fn rate_limit_wait(h: &HeaderMap, only_exhausted: bool) -> Option<Duration> {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if !only_exhausted && let Some(secs) = get("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if get("x-ratelimit-remaining") != Some("0") {
        return None;
    }
    let reset = get("x-ratelimit-reset")?.parse::<u64>().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    // The reset is a whole second; wait until it has fully passed.
    let reset = Duration::from_secs(reset) + Duration::from_millis(250);
    Some(reset.saturating_sub(now))
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
pub fn next_link(h: &HeaderMap) -> Option<String> {
    for value in h.get_all(reqwest::header::LINK) {
        let Ok(s) = value.to_str() else { continue };
        let mut rest = s;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after.find('>')?;
            let target = &after[..close];
            let params_end = after[close..]
                .find('<')
                .map(|i| close + i)
                .unwrap_or(after.len());
            let params = &after[close + 1..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                p.strip_prefix("rel=")
                    .map(|r| {
                        r.trim_matches('"')
                            .split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("next"))
                    })
                    .unwrap_or(false)
            });
            if is_next {
                return Some(target.to_string());
            }
            rest = &after[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos() {
        assert_eq!(
            normalize_repo("Acme-Cloud/auth-service").as_deref(),
            Some("acme-cloud/auth-service")
        );
        assert_eq!(
            repo_from_dir_name("acme-cloud__auth_service").as_deref(),
            Some("acme-cloud/auth_service")
        );
        for bad in ["", "a", "a/", "/b", "a/b/c", "../x", "a/..", "a b/c"] {
            assert_eq!(normalize_repo(bad), None, "{bad}");
        }
    }

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                r#"<https://x/?a=1,2>; rel="prev", <https://x/?p=3>; rel=next"#,
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/?p=3"));
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(r#"<https://x/?p=1>; rel="first""#),
        );
        assert_eq!(next_link(&h), None);
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("garbage <unclosed"),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn issue_conversion() {
        let json = r#"[{"number": 7, "title": "T", "state": "open", "labels": [{"name": "bug"}, "p1"],
            "user": {"login": "ann"}, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
            "closed_at": null, "comments": 3, "html_url": "https://github.com/o/r/issues/7", "body": "Body"},
            {"number": 8, "title": "PR", "state": "open", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z", "pull_request": {"url": "x"}}]"#;
        let issues: Vec<IssueJson> = serde_json::from_str(json).unwrap();
        let docs = convert("o/r", issues).unwrap();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d.id, "github:o/r#7");
        assert_eq!(d.uri, "github://o/r/issues/7");
        assert_eq!(d.text, "# T\n\nBody");
        assert_eq!(issue_body(&d.title, &d.text), "Body");
        assert_eq!(d.metadata["labels"], json!(["bug", "p1"]));
        assert_eq!(d.metadata["author"], json!("ann"));
        let bad: Vec<IssueJson> = serde_json::from_str(
            r#"[{"number": 1, "title": "T", "state": "weird", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"}]"#,
        )
        .unwrap();
        assert!(convert("o/r", bad).unwrap_err().contains("unknown state"));
    }
}
