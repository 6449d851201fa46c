//! `gigamcp-conformance matrix`: the same profiles against several deployments, one table.
//!
//! ```text
//! gigamcp-conformance matrix --target ours=https://a/t/acme/mcp --target theirs=https://b/mcp \
//!     --profile chatgpt --profile claude --report html=matrix.html -- --login form --username alice
//! ```
//!
//! Everything after `--` is passed to every `run` (any `run` option). `--config FILE.toml` adds
//! deployments with their own options, e.g. their login settings:
//!
//! ```toml
//! profiles = ["chatgpt"]          # optional, like --profile
//! args = ["--timeout", "30"]      # optional, for every deployment
//!
//! [[target]]
//! name = "ours"
//! url = "https://mcp.example.com/t/acme/mcp"
//! args = ["--login", "browser", "--login-script", "login.txt", "--second-resource", "https://mcp.example.com/t/globex/mcp"]
//! password_env = "OURS_PASSWORD"  # passed as --password from this variable, never from the file
//! ```
//!
//! Deployments run one after another (their rate limits are per client address). The table has
//! one row per check and one column per deployment (× profile); rows that fail somewhere come
//! first, and above the table each deployment lists its own failures.

pub use crate::cli::MatrixArgs;
use crate::cli::{Cli, Command, config_from};
use crate::flow::RunResult;
use crate::model::Verdict;
use crate::report::{exit_code, html::esc};
use clap::Parser;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    profiles: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    target: Vec<FileTarget>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileTarget {
    name: String,
    url: String,
    #[serde(default)]
    args: Vec<String>,
    password_env: Option<String>,
    client_secret_env: Option<String>,
}

/// One deployment to run.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub name: String,
    pub url: String,
    pub args: Vec<String>,
}

/// One column of the table: a deployment under one profile.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Column {
    pub name: String,
    pub deployment: String,
    pub profile: String,
    pub exit_code: i32,
    pub result: RunResult,
}

/// Reads `--target`, `--config` and the shared options into deployments and profiles.
pub fn plan(a: &MatrixArgs) -> Result<(Vec<Deployment>, Vec<String>), String> {
    let mut deployments = Vec::new();
    let mut profiles = a.profiles.clone();
    let mut shared = Vec::new();
    if let Some(p) = &a.config {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("--config {}: {e}", p.display()))?;
        let f: FileConfig =
            toml::from_str(&text).map_err(|e| format!("--config {}: {e}", p.display()))?;
        if profiles.is_empty() {
            profiles = f.profiles;
        }
        shared = f.args;
        for t in f.target {
            let mut args = t.args;
            for (flag, var) in [
                ("--password", &t.password_env),
                ("--client-secret", &t.client_secret_env),
            ] {
                if let Some(v) = var {
                    let val = std::env::var(v)
                        .map_err(|_| format!("deployment {:?}: ${v} is not set", t.name))?;
                    args.push(flag.into());
                    args.push(val);
                }
            }
            deployments.push(Deployment {
                name: t.name,
                url: t.url,
                args,
            });
        }
    }
    for t in &a.targets {
        let (name, url) = t
            .split_once('=')
            .filter(|(n, u)| !n.is_empty() && !u.is_empty())
            .ok_or_else(|| format!("--target {t:?} is not NAME=URL"))?;
        deployments.push(Deployment {
            name: name.into(),
            url: url.into(),
            args: Vec::new(),
        });
    }
    if deployments.is_empty() {
        return Err("no deployments: give --target NAME=URL or --config FILE.toml".into());
    }
    for (i, d) in deployments.iter().enumerate() {
        if deployments[..i].iter().any(|e| e.name == d.name) {
            return Err(format!("two deployments are named {:?}", d.name));
        }
    }
    for d in &mut deployments {
        let mut args = shared.clone();
        args.extend(a.run_args.iter().cloned());
        args.append(&mut d.args);
        d.args = args;
    }
    if profiles.is_empty() {
        profiles.push("chatgpt".into());
    }
    for r in &a.report {
        let (kind, _) = r
            .split_once('=')
            .ok_or_else(|| format!("--report {r:?} is not KIND=PATH"))?;
        if !["md", "markdown", "html", "json"].contains(&kind) {
            return Err(format!(
                "unknown matrix report kind {kind:?} (md, html, json)"
            ));
        }
    }
    Ok((deployments, profiles))
}

/// The `run` arguments of one column, parsed exactly as `gigamcp-conformance run` parses them.
fn run_args(d: &Deployment, profile: &str) -> Result<Box<crate::cli::RunArgs>, String> {
    let mut argv: Vec<String> = vec![
        "gigamcp-conformance".into(),
        "run".into(),
        d.url.clone(),
        "--profile".into(),
        profile.into(),
    ];
    argv.extend(d.args.iter().cloned());
    match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Command::Run(a),
        }) => Ok(a),
        Ok(_) => Err("internal: not a run".into()),
        Err(e) => Err(format!("deployment {:?}: {}", d.name, e.to_string().trim())),
    }
}

/// Runs every deployment × profile, one after another.
pub async fn run(deployments: &[Deployment], profiles: &[String]) -> Result<Vec<Column>, String> {
    // Validate every column before touching any deployment.
    let mut planned = Vec::new();
    for d in deployments {
        for p in profiles {
            let a = run_args(d, p)?;
            let cfg = config_from(&a).map_err(|e| format!("deployment {:?}: {e}", d.name))?;
            planned.push((d, p, cfg));
        }
    }
    let mut cols = Vec::new();
    for (d, p, cfg) in planned {
        eprintln!("matrix: {} ({p}) — {}", d.name, d.url);
        let result = crate::flow::run(cfg)
            .await
            .map_err(|e| format!("deployment {:?}: {e}", d.name))?;
        cols.push(Column {
            name: if profiles.len() > 1 {
                format!("{}/{p}", d.name)
            } else {
                d.name.clone()
            },
            deployment: d.name.clone(),
            profile: p.clone(),
            exit_code: exit_code(&result, None),
            result,
        });
    }
    Ok(cols)
}

fn cell(c: &Column, id: &str) -> Option<Verdict> {
    c.result
        .outcomes
        .iter()
        .find(|o| o.id == id)
        .map(|o| o.verdict)
}

fn tag(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Pass) => "PASS",
        Some(Verdict::Fail) => "FAIL",
        Some(Verdict::Warn) => "WARN",
        Some(Verdict::NotApplicable) => "N/A",
        Some(Verdict::CouldNotRun) => "SKIP",
        None => "-",
    }
}

/// Check ids in table order: failing somewhere first, then warning somewhere, then the rest (in
/// registry order within each group).
pub fn rows(cols: &[Column]) -> Vec<&'static str> {
    let rank = |id: &str| {
        let vs: Vec<_> = cols.iter().filter_map(|c| cell(c, id)).collect();
        if vs.contains(&Verdict::Fail) {
            0
        } else if vs.contains(&Verdict::Warn) {
            1
        } else if vs.contains(&Verdict::CouldNotRun) {
            2
        } else {
            3
        }
    };
    let mut ids: Vec<&'static str> = crate::checks::CHECKS
        .iter()
        .map(|c| c.id)
        .filter(|id| cols.iter().any(|c| cell(c, id).is_some()))
        .collect();
    ids.sort_by_key(|id| rank(id));
    ids
}

fn failures(c: &Column) -> Vec<(&'static str, &str)> {
    c.result
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .map(|o| (o.id, o.detail.as_str()))
        .collect()
}

fn summary_line(c: &Column) -> String {
    let t = crate::model::Tally::of(&c.result.outcomes);
    format!(
        "{} passed, {} failed, {} warnings, {} skipped (exit {})",
        t.passed,
        t.failed,
        t.warnings,
        t.not_applicable + t.could_not_run,
        c.exit_code
    )
}

/// The terminal table, each deployment's failures first.
pub fn terminal(cols: &[Column]) -> String {
    let mut s = String::new();
    for c in cols {
        s.push_str(&format!(
            "{} — {}\n  {}\n",
            c.name,
            c.result.target,
            summary_line(c)
        ));
        for (id, d) in failures(c) {
            s.push_str(&format!("  FAIL {id} — {d}\n"));
        }
        if let Some(f) = &c.result.fatal {
            s.push_str(&format!("  could not proceed: {f}\n"));
        }
    }
    let ids = rows(cols);
    let w = ids.iter().map(|i| i.len()).max().unwrap_or(5).max(5);
    s.push_str(&format!("\n{:<w$}", "check"));
    for c in cols {
        s.push_str(&format!("  {:<8}", c.name));
    }
    s.push('\n');
    for id in ids {
        s.push_str(&format!("{id:<w$}"));
        for c in cols {
            let width = c.name.len().max(8);
            s.push_str(&format!("  {:<width$}", tag(cell(c, id))));
        }
        s.push('\n');
    }
    s
}

pub fn markdown(cols: &[Column]) -> String {
    let mut s = String::from("# MCP conformance matrix\n\n");
    for c in cols {
        s.push_str(&format!(
            "## {} (`{}`)\n\n{}\n\n",
            c.name,
            c.result.target,
            summary_line(c)
        ));
        for (id, d) in failures(c) {
            s.push_str(&format!("- **FAIL** `{id}` — {}\n", d.replace('\n', " ")));
        }
        s.push('\n');
    }
    s.push_str("| Check |");
    for c in cols {
        s.push_str(&format!(" {} |", c.name));
    }
    s.push_str("\n|---|");
    for _ in cols {
        s.push_str("---|");
    }
    s.push('\n');
    for id in rows(cols) {
        s.push_str(&format!("| `{id}` |"));
        for c in cols {
            s.push_str(&format!(" {} |", tag(cell(c, id))));
        }
        s.push('\n');
    }
    s
}

pub fn json(cols: &[Column]) -> serde_json::Value {
    serde_json::json!({
        "tool": {"name": "gigamcp-conformance", "version": env!("CARGO_PKG_VERSION")},
        "deployments": cols.iter().map(|c| serde_json::json!({
            "name": c.name, "deployment": c.deployment, "profile": c.profile, "target": c.result.target,
            "exit_code": c.exit_code, "tally": crate::model::Tally::of(&c.result.outcomes), "fatal": c.result.fatal,
            "failures": failures(c).iter().map(|(id, d)| serde_json::json!({"id": id, "detail": d})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "checks": rows(cols).iter().map(|id| {
            let mut m = serde_json::Map::new();
            for c in cols {
                m.insert(c.name.clone(), serde_json::to_value(cell(c, id)).unwrap_or_default());
            }
            serde_json::json!({"id": id, "verdicts": m})
        }).collect::<Vec<_>>(),
    })
}

pub fn html(cols: &[Column]) -> String {
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>MCP conformance matrix</title><style>body{font:14px/1.5 system-ui,sans-serif;margin:1.5rem;color:#1d2330}table{border-collapse:collapse}th,td{border:1px solid #dde2ec;padding:.2rem .5rem;text-align:left}td.PASS{color:#067647}td.FAIL{background:#fef3f2;color:#b42318;font-weight:700}td.WARN{color:#b54708}td.SKIP{color:#6941c6}td.NA{color:#667085}code{font-family:ui-monospace,Menlo,monospace}</style></head><body><h1>MCP conformance matrix</h1>",
    );
    for c in cols {
        s.push_str(&format!(
            "<h2>{} <small><code>{}</code></small></h2><p>{}</p><ul>",
            esc(&c.name),
            esc(&c.result.target),
            esc(&summary_line(c))
        ));
        for (id, d) in failures(c) {
            s.push_str(&format!(
                "<li><strong>FAIL</strong> <code>{}</code> — {}</li>",
                esc(id),
                esc(d)
            ));
        }
        s.push_str("</ul>");
    }
    s.push_str("<table><thead><tr><th>Check</th>");
    for c in cols {
        s.push_str(&format!("<th>{}</th>", esc(&c.name)));
    }
    s.push_str("</tr></thead><tbody>");
    for id in rows(cols) {
        s.push_str(&format!("<tr><td><code>{}</code></td>", esc(id)));
        for c in cols {
            let t = tag(cell(c, id));
            s.push_str(&format!(
                "<td class=\"{}\">{t}</td>",
                if t == "N/A" { "NA" } else { t }
            ));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></body></html>\n");
    s
}

fn write(kind: &str, path: &Path, cols: &[Column]) -> Result<(), String> {
    let text = match kind {
        "md" | "markdown" => markdown(cols),
        "html" => html(cols),
        "json" => serde_json::to_string_pretty(&json(cols)).map_err(|e| e.to_string())?,
        other => return Err(format!("unknown matrix report kind {other:?}")),
    };
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The overall exit code: the worst column's (2 could not complete > 1 failed > 0).
pub fn overall(cols: &[Column]) -> i32 {
    cols.iter().map(|c| c.exit_code).max().unwrap_or(2)
}

/// `gigamcp-conformance run URL --profile all`: every client profile against one deployment,
/// one after another, then the check × client table (and `--report md|html|json` of it).
pub async fn profile_all(a: crate::cli::RunArgs) -> i32 {
    if a.baseline.is_some() || a.evidence.is_some() || a.list {
        eprintln!(
            "error: --profile all takes no --baseline, --evidence or --list (run one profile for those)"
        );
        return 2;
    }
    let mut planned = Vec::new();
    for p in crate::profile::ALL {
        let mut one = a.clone();
        one.profile = p.name.into();
        match config_from(&one) {
            Ok(cfg) => planned.push((p.name, cfg)),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    for r in &a.report {
        let kind = r.split_once('=').map(|(k, _)| k).unwrap_or_default();
        if !["md", "markdown", "html", "json"].contains(&kind) {
            eprintln!("error: --profile all writes md, html or json reports, not {kind:?}");
            return 2;
        }
    }
    let mut cols = Vec::new();
    for (name, cfg) in planned {
        eprintln!("profile {name} — {}", a.mcp_url);
        let result = match crate::flow::run(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: profile {name}: {e}");
                return 2;
            }
        };
        cols.push(Column {
            name: name.into(),
            deployment: a.mcp_url.clone(),
            profile: name.into(),
            exit_code: exit_code(&result, None),
            result,
        });
    }
    for r in &a.report {
        let (kind, path) = r.split_once('=').expect("validated");
        if let Err(e) = write(kind, Path::new(path), &cols) {
            eprintln!("error: {e}");
            return 2;
        }
    }
    print!("{}", terminal(&cols));
    overall(&cols)
}

pub async fn main_with(a: MatrixArgs) -> i32 {
    let (deployments, profiles) = match plan(&a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cols = match run(&deployments, &profiles).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    for r in &a.report {
        let (kind, path) = r.split_once('=').expect("validated");
        if let Err(e) = write(kind, Path::new(path), &cols) {
            eprintln!("error: {e}");
            return 2;
        }
    }
    print!("{}", terminal(&cols));
    overall(&cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(targets: &[&str], run: &[&str]) -> MatrixArgs {
        MatrixArgs {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            profiles: vec![],
            config: None,
            report: vec![],
            run_args: run.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn targets_need_names_and_unique_names() {
        assert!(
            plan(&args(&["https://a/mcp"], &[]))
                .unwrap_err()
                .contains("NAME=URL")
        );
        assert!(
            plan(&args(&["a=https://a/mcp", "a=https://b/mcp"], &[]))
                .unwrap_err()
                .contains("two deployments")
        );
        assert!(
            plan(&args(&[], &[]))
                .unwrap_err()
                .contains("no deployments")
        );
        let (d, p) = plan(&args(&["a=https://a/mcp"], &["--strict"])).unwrap();
        assert_eq!(p, vec!["chatgpt"]);
        assert_eq!(d[0].args, vec!["--strict"]);
    }

    #[test]
    fn run_options_are_checked_like_run_checks_them() {
        let d = Deployment {
            name: "x".into(),
            url: "https://a.example/mcp".into(),
            args: vec!["--login".into(), "sideways".into()],
        };
        assert!(
            run_args(&d, "chatgpt")
                .unwrap_err()
                .contains("deployment \"x\"")
        );
        let d = Deployment {
            args: vec!["--only".into(), "discovery".into()],
            ..d
        };
        let a = run_args(&d, "claude").unwrap();
        assert_eq!(a.profile, "claude");
        assert_eq!(a.only, vec!["discovery"]);
    }

    #[test]
    fn the_config_file_carries_per_deployment_options_and_secrets_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(
            &p,
            "profiles = [\"claude\"]\nargs = [\"--timeout\", \"5\"]\n[[target]]\nname = \"ours\"\nurl = \"https://a.example/t/acme/mcp\"\nargs = [\"--login\", \"form\", \"--username\", \"alice\"]\npassword_env = \"GIGAMCP_MATRIX_TEST_PW_UNSET\"\n",
        )
        .unwrap();
        let a = MatrixArgs {
            config: Some(p.clone()),
            ..args(&[], &[])
        };
        assert!(
            plan(&a)
                .unwrap_err()
                .contains("$GIGAMCP_MATRIX_TEST_PW_UNSET is not set")
        );
        std::fs::write(
            &p,
            "[[target]]\nname = \"ours\"\nurl = \"https://a.example/t/acme/mcp\"\nlogin = \"form\"\n",
        )
        .unwrap();
        assert!(plan(&a).unwrap_err().contains("unknown field"));
    }
}
