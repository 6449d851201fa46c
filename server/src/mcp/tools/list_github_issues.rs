//! `list_github_issues`: a repository's issues in this workspace, newest activity first, filtered
//! by state and last-update time ("Summarize the latest GitHub issues from the auth-service repo").
use super::def::{
    Structured, ToolDef, ToolError, ToolFuture, ToolOutput, only_known, optional_int, optional_str,
    required_str,
};
use crate::knowledge::IssueFilter;
use serde_json::{Map, Value, json};
use std::fmt::Write;

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 50;
const EXCERPT_CHARS: usize = 280;

pub static DEF: ToolDef = ToolDef {
    name: "list_github_issues",
    title: "List GitHub issues",
    description: "List a GitHub repository's issues in this workspace, most recently updated first. \
        Filter by state (open, closed or all; default open) and by last update (since, RFC 3339). \
        Each issue has number, title, state, labels, author, dates, comment count, URL and a short \
        excerpt of its body.",
    input_schema,
    output_schema,
    // A gateway can route and rate-limit per repository without parsing the body.
    param_headers: &[param_header!("Repo", ["repo"])],
    cacheable: false,
    run: run_boxed,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "repo": { "type": "string", "pattern": "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$", "description": "Repository as owner/name, e.g. acme-cloud/auth-service (a bare name works when it is unambiguous)." },
            "state": { "type": "string", "enum": ["open", "closed", "all"], "default": "open" },
            "since": { "type": "string", "description": "Only issues updated at or after this time: an RFC 3339 date-time (2026-01-31T00:00:00Z) or a date (2026-01-31)." },
            "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT }
        },
        "required": ["repo"],
        "additionalProperties": false
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "repo": { "type": "string" },
            "state": { "type": "string", "enum": ["open", "closed", "all"] },
            "count": { "type": "integer", "minimum": 0 },
            "issues": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "number": { "type": "integer" },
                        "title": { "type": "string" },
                        "state": { "type": "string" },
                        "labels": { "type": "array", "items": { "type": "string" } },
                        "author": { "type": "string" },
                        "created_at": { "type": "string" },
                        "updated_at": { "type": "string" },
                        "closed_at": { "type": ["string", "null"] },
                        "comments": { "type": "integer" },
                        "url": { "type": "string" },
                        "uri": { "type": "string" },
                        "body_excerpt": { "type": "string" }
                    },
                    "required": ["number", "title", "state", "labels", "author", "created_at", "updated_at", "closed_at", "comments", "url", "uri", "body_excerpt"]
                }
            }
        },
        "required": ["repo", "state", "count", "issues"]
    })
}

/// `owner/name`, or a bare `name` (resolved by the knowledge base when unambiguous).
fn valid_repo(repo: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    match repo.split_once('/') {
        Some((o, n)) => ok(o) && ok(n),
        None => ok(repo),
    }
}

/// RFC 3339 `full-date` (`YYYY-MM-DD`) or `date-time`.
fn valid_since(s: &str) -> bool {
    let b = s.as_bytes();
    let date_only = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0));
    date_only || valid_rfc3339(s)
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub(crate) fn valid_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [sign, h1, h2, b':', m1, m2]
            if matches!(sign, b'+' | b'-')
                && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            num(i + 1..i + 3) <= 23 && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}

fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut out: String = flat.chars().take(EXCERPT_CHARS).collect();
    out.push('…');
    out
}

pub async fn run(
    ctx: &crate::mcp::context::Ctx,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolError> {
    only_known(args, &["repo", "state", "since", "limit"])?;
    let repo = required_str(args, "repo")?;
    if !valid_repo(repo) {
        return Err(ToolError::InvalidArguments(
            "repo must look like owner/name, e.g. acme-cloud/auth-service".into(),
        ));
    }
    let state = optional_str(args, "state")?.unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ToolError::InvalidArguments(
            "state must be open, closed or all".into(),
        ));
    }
    let since = optional_str(args, "since")?.filter(|s| !s.is_empty());
    if let Some(s) = since
        && !valid_since(s)
    {
        return Err(ToolError::InvalidArguments(
            "since must be an RFC 3339 date-time or date, e.g. 2026-01-31T00:00:00Z or 2026-01-31"
                .into(),
        ));
    }
    let limit = optional_int(args, "limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;

    let filter = IssueFilter {
        repo: repo.to_owned(),
        state: (state != "all").then(|| state.to_owned()),
        since: since.map(str::to_owned),
        limit,
    };
    let mut issues = ctx
        .state
        .knowledge
        .list_github_issues(&ctx.workspace.slug, &filter)
        .await?;
    // Newest activity first, whatever order the store used; ties by number, newest first.
    issues.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then(b.number.cmp(&a.number))
    });
    issues.truncate(limit);

    let items: Vec<Value> = issues
        .iter()
        .map(|i| {
            json!({
                "number": i.number,
                "title": i.title,
                "state": i.state,
                "labels": i.labels,
                "author": i.author,
                "created_at": i.created_at,
                "updated_at": i.updated_at,
                "closed_at": i.closed_at,
                "comments": i.comments,
                "url": i.url,
                "uri": i.uri,
                "body_excerpt": excerpt(&i.body),
            })
        })
        .collect();

    let which = if state == "all" {
        String::new()
    } else {
        format!("{state} ")
    };
    let mut text = String::new();
    if issues.is_empty() {
        let _ = write!(
            text,
            "No {which}issues found for {repo} in workspace {}",
            ctx.workspace.slug
        );
        if let Some(s) = since {
            let _ = write!(text, " updated since {s}");
        }
        text.push('.');
    } else {
        let _ = writeln!(
            text,
            "{} {which}issue(s) in {repo}, most recently updated first:",
            issues.len()
        );
        for i in &issues {
            let labels = if i.labels.is_empty() {
                String::new()
            } else {
                format!(" [{}]", i.labels.join(", "))
            };
            let _ = write!(
                text,
                "\n#{} {} ({}){labels}\n    by {}, opened {}, updated {}, {} comment(s)\n    {}\n",
                i.number, i.title, i.state, i.author, i.created_at, i.updated_at, i.comments, i.url
            );
            let ex = excerpt(&i.body);
            if !ex.is_empty() {
                let _ = writeln!(text, "    {ex}");
            }
        }
    }
    Ok(ToolOutput {
        text,
        structured: Structured::Value(
            json!({ "repo": issues.first().map_or(repo, |i| i.repo.as_str()), "state": state, "count": items.len(), "issues": items }),
        ),
    })
}

fn run_boxed<'a>(
    ctx: &'a crate::mcp::context::Ctx,
    args: &'a Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(run(ctx, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_and_dates() {
        assert!(valid_repo("acme-cloud/auth-service"));
        assert!(valid_repo("auth-service"));
        assert!(!valid_repo("a/b/c"));
        assert!(!valid_repo("/b"));
        assert!(!valid_repo("a b/c"));
        for ok in [
            "2026-01-31T00:00:00Z",
            "2026-01-31T10:20:30.123+02:00",
            "2026-01-31t10:20:30z",
        ] {
            assert!(valid_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-01-31",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-01-31T00:00:00",
            "2026-01-31T00:00:00+2:00",
            "2026-01-31T00:00:00.Z",
            "2026-01-31T25:00:00Z",
        ] {
            assert!(!valid_rfc3339(bad), "{bad}");
        }
        assert!(valid_since("2026-01-31") && valid_since("2026-01-31T00:00:00Z"));
        assert!(!valid_since("2026-1-31") && !valid_since("2026-00-31") && !valid_since("soon"));
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("a\n\n b"), "a b");
        let long = "word ".repeat(200);
        let e = excerpt(&long);
        assert!(e.chars().count() == EXCERPT_CHARS + 1 && e.ends_with('…'));
    }
}
