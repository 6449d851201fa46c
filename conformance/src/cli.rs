//! Command line: `gigamcp-conformance run <MCP_URL> [options]`, `gigamcp-conformance list`.

use crate::config::{Config, Login, Registration};
use crate::{checks, profile, report};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// `gigamcp-conformance matrix`: several deployments × profiles in one table (see [`crate::matrix`]).
#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// A deployment, `NAME=MCP_URL` (repeatable).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Client profile (repeatable; default chatgpt).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// TOML file with deployments and their options (see the module docs).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Reports: md=PATH, html=PATH, json=PATH (repeatable). The table is always printed.
    #[arg(long)]
    pub report: Vec<String>,
    /// Options for every `run` (after `--`).
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

#[derive(Parser, Debug)]
#[command(
    name = "gigamcp-conformance",
    version,
    about = "Replays an MCP host's connector flow against a deployment and grades every requirement"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the checks against an MCP URL.
    Run(Box<RunArgs>),
    /// List every check id with its level and references.
    List,
    /// Explain a check: requirement, references, how it is tested, how to fix it.
    Explain {
        /// A check id (see `list`).
        check_id: String,
    },
    /// Run profiles against several deployments and print a checks × deployments table.
    Matrix(Box<MatrixArgs>),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LoginKind {
    Form,
    /// A real Chromium (`--login-script FILE` headless, or `--headed`).
    Browser,
    Command,
    Manual,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RegistrationKind {
    /// What the profile's client does: its metadata document when the AS advertises CIMD and
    /// the target is on this machine (the harness serves the document), DCR otherwise.
    Auto,
    Dcr,
    Preregistered,
    /// Client ID Metadata Document: a URL `client_id` (see --cimd-url).
    Cimd,
}

#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// The MCP URL exactly as a user would paste it into the host.
    pub mcp_url: String,
    /// Client profile: chatgpt, chatgpt-dcr, claude, claude-dcr, claude-code, cursor, vscode,
    /// mcp-inspector, strict; or `all` (every profile, one client × check table).
    #[arg(long, default_value = "chatgpt")]
    pub profile: String,
    /// Protocol revision: 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28 or auto.
    #[arg(long, default_value = "auto")]
    pub spec: String,
    /// How the harness gets a client: auto (as the profile's client does), dcr, preregistered
    /// (--client-id) or cimd (a URL client_id).
    #[arg(long, value_enum, default_value = "auto")]
    pub registration: RegistrationKind,
    /// For `--registration cimd`: the URL of a client metadata document you host (its
    /// `client_id` must be this URL and its `redirect_uris` must list the profile's callback or
    /// --redirect-uri). Without it the harness serves its own documents on a loopback listener
    /// (http://127.0.0.1:<port>/...), which only a target on this machine can fetch (a local
    /// server that allows loopback metadata URLs); the client-id-mismatch and plural-auth-methods
    /// checks need those harness-served documents.
    #[arg(long)]
    pub cimd_url: Option<String>,
    #[arg(long, env = "GIGAMCP_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "GIGAMCP_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Callback to use (default: the profile's).
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// How to play the user's login and consent.
    #[arg(long, value_enum)]
    pub login: Option<LoginKind>,
    #[arg(long, env = "GIGAMCP_USERNAME")]
    pub username: Option<String>,
    #[arg(long, env = "GIGAMCP_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// For `--login command`: gets the authorization URL as $1 and prints the callback URL.
    #[arg(long)]
    pub login_command: Option<String>,
    /// For `--login browser`: steps to sign in headless (goto, fill SELECTOR env:VAR|literal,
    /// select, click, click-if-present, wait selector|url); see `flow::browser`.
    #[arg(long)]
    pub login_script: Option<PathBuf>,
    /// For `--login browser`: show the browser window and wait for a person to sign in.
    #[arg(long)]
    pub headed: bool,
    /// For `--login browser`: the Chromium or Chrome executable (default: GIGAMCP_CHROMIUM, else
    /// the usual install paths; nothing is ever downloaded).
    #[arg(long)]
    pub chromium: Option<PathBuf>,
    /// For `--login browser`: seconds to wait for the callback (headed default 300, else 30).
    #[arg(long)]
    pub login_timeout: Option<u64>,
    /// A second resource on the same deployment (e.g. another workspace's MCP URL).
    #[arg(long)]
    pub second_resource: Option<String>,
    /// Tool to call after authorizing (default: the first tool marked readOnlyHint).
    #[arg(long)]
    pub call_tool: Option<String>,
    /// JSON arguments for --call-tool.
    #[arg(long)]
    pub call_args: Option<String>,
    /// Only checks whose id starts with this prefix (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip checks whose id starts with this prefix (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Dry run: list the selected check ids and exit.
    #[arg(long)]
    pub list: bool,
    /// SHOULD failures fail the run.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 even when a MUST could not run (default: exit 2, "could not complete").
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Extra header on every request, `K:V` (repeatable).
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// A pre-issued access token: resource-server and MCP checks only.
    #[arg(long, env = "GIGAMCP_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,
    /// Reports: json=PATH, junit=PATH, sarif=PATH, md=PATH, html=PATH (repeatable).
    #[arg(long)]
    pub report: Vec<String>,
    /// Directory for the redacted evidence bundle.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Expected failures, one check id per line; a baselined check that passes fails the run.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Longest token lifetime (seconds) to wait out for the expired-token check.
    #[arg(long, default_value_t = 10)]
    pub expiry_wait: u64,
    /// Seconds to wait before replaying a used authorization code or a rotated refresh token
    /// (set it above the server's duplicate-redemption / refresh grace window, if it has one).
    #[arg(long, default_value_t = 0)]
    pub replay_delay: u64,
    /// Seconds a revoked token may keep working.
    #[arg(long, default_value_t = 5)]
    pub revocation_wait: u64,
    /// Robustness fuzzing: number of generated requests (0 disables generation).
    #[arg(long, default_value_t = 64)]
    pub fuzz_cases: u32,
    /// Robustness fuzzing: RNG seed (runs are reproducible for a given seed and target).
    #[arg(long)]
    pub fuzz_seed: Option<u64>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
    /// Also trust the root certificates in this PEM file (e.g. a test ACME CA's; repeatable).
    #[arg(long = "ca-cert")]
    pub ca_certs: Vec<PathBuf>,
}

/// Turns arguments into a configuration; `Err` is a usage error (exit 2).
pub fn config_from(a: &RunArgs) -> Result<Config, String> {
    let p = profile::by_name(&a.profile).ok_or_else(|| {
        format!(
            "unknown profile {:?} ({}, or all)",
            a.profile,
            profile::names()
        )
    })?;
    crate::urls::parse_mcp_url(&a.mcp_url)?;
    let mut c = Config::new(a.mcp_url.trim(), p);
    c.spec = match a.spec.as_str() {
        "auto" => None,
        s if crate::schema::REVISIONS.contains(&s) => Some(s.to_string()),
        s => {
            return Err(format!(
                "unknown --spec {s:?} ({} or auto)",
                crate::schema::REVISIONS.join(", ")
            ));
        }
    };
    c.registration = registration_from(a)?;
    c.redirect_uri = a.redirect_uri.clone();
    c.login = match a.login {
        None => Login::None,
        Some(LoginKind::Form) => Login::Form {
            username: a.username.clone().ok_or("--login form needs --username")?,
            password: a
                .password
                .clone()
                .ok_or("--login form needs --password (or GIGAMCP_PASSWORD)")?,
        },
        Some(LoginKind::Command) => Login::Command(
            a.login_command
                .clone()
                .ok_or("--login command needs --login-command")?,
        ),
        Some(LoginKind::Manual) => Login::Manual,
        Some(LoginKind::Browser) => Login::Browser(browser_login(a)?),
    };
    if a.login_script.is_some() && !matches!(a.login, Some(LoginKind::Browser)) {
        return Err("--login-script needs --login browser".into());
    }
    if a.headed && !matches!(a.login, Some(LoginKind::Browser)) {
        return Err("--headed needs --login browser".into());
    }
    if let Some(s) = &a.second_resource {
        crate::urls::parse_mcp_url(s).map_err(|e| format!("--second-resource: {e}"))?;
    }
    c.second_resource = a.second_resource.clone();
    c.call_tool = a.call_tool.clone();
    c.call_args = match &a.call_args {
        Some(j) => {
            Some(serde_json::from_str(j).map_err(|e| format!("--call-args is not JSON: {e}"))?)
        }
        None => None,
    };
    for p in a.only.iter().chain(&a.skip) {
        if !checks::CHECKS
            .iter()
            .any(|c| checks::matches_prefix(c.id, p))
        {
            return Err(format!("no check id matches the prefix {p:?} (see --list)"));
        }
    }
    c.only = a.only.clone();
    c.skip = a.skip.clone();
    c.strict = a.strict;
    c.allow_incomplete = a.allow_incomplete;
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("--header {h:?} is not K:V"))?;
        if k.trim().is_empty() {
            return Err(format!("--header {h:?} has an empty name"));
        }
        c.headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    c.access_token = a.access_token.clone();
    c.expiry_wait = Duration::from_secs(a.expiry_wait);
    c.replay_delay = Duration::from_secs(a.replay_delay);
    c.revocation_wait = Duration::from_secs(a.revocation_wait);
    c.timeout = Duration::from_secs(a.timeout);
    c.ca_certs = a.ca_certs.clone();
    c.fuzz_cases = a.fuzz_cases;
    if let Some(seed) = a.fuzz_seed {
        c.fuzz_seed = seed;
    }
    for r in &a.report {
        let (kind, _) = r
            .split_once('=')
            .ok_or_else(|| format!("--report {r:?} is not KIND=PATH"))?;
        if !["json", "junit", "sarif", "md", "markdown", "html"].contains(&kind) {
            return Err(format!(
                "unknown report kind {kind:?} (json, junit, sarif, md, html)"
            ));
        }
    }
    Ok(c)
}

/// `--registration` (and `--cimd-url`, `--client-id`) as a [`Registration`].
fn registration_from(a: &RunArgs) -> Result<Registration, String> {
    let r = match a.registration {
        RegistrationKind::Auto => Registration::Auto,
        RegistrationKind::Dcr => Registration::Dcr,
        RegistrationKind::Preregistered => Registration::Preregistered {
            client_id: a
                .client_id
                .clone()
                .ok_or("--registration preregistered needs --client-id")?,
            client_secret: a.client_secret.clone(),
        },
        RegistrationKind::Cimd => {
            if let Some(u) = &a.cimd_url {
                let parsed = url::Url::parse(u)
                    .map_err(|e| format!("--cimd-url {u:?} is not a URL: {e}"))?;
                if !matches!(parsed.scheme(), "https" | "http") || parsed.path() == "/" {
                    return Err(format!(
                        "--cimd-url {u:?} must be an https (or local http) URL with a path"
                    ));
                }
            }
            Registration::Cimd {
                url: a.cimd_url.clone(),
            }
        }
    };
    if a.cimd_url.is_some() && !matches!(a.registration, RegistrationKind::Cimd) {
        return Err("--cimd-url needs --registration cimd".into());
    }
    Ok(r)
}

fn browser_login(a: &RunArgs) -> Result<crate::flow::browser::BrowserLogin, String> {
    use crate::flow::browser::{BrowserLogin, Script};
    let script = match &a.login_script {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("--login-script {}: {e}", p.display()))?;
            let s =
                Script::parse(&text).map_err(|e| format!("--login-script {}: {e}", p.display()))?;
            s.check_env()?;
            Some(s)
        }
        None if a.headed => None,
        None => {
            return Err(
                "--login browser needs --login-script FILE (headless) or --headed (a person signs in)"
                    .into(),
            );
        }
    };
    if let Some(p) = &a.chromium
        && !p.is_file()
    {
        return Err(format!("--chromium {}: no such file", p.display()));
    }
    let wait = a.login_timeout.unwrap_or(if a.headed { 300 } else { 30 });
    Ok(BrowserLogin {
        script,
        headed: a.headed,
        chromium: a.chromium.clone(),
        step_timeout: Duration::from_secs(if a.headed { wait } else { 20 }),
        callback_timeout: Duration::from_secs(wait),
    })
}

/// The `explain CHECK_ID` text.
pub fn explain(id: &str) -> Result<String, String> {
    let c = checks::find(id).ok_or_else(|| {
        let near: Vec<&str> = checks::CHECKS
            .iter()
            .map(|c| c.id)
            .filter(|c| c.contains(id) || id.contains(c.rsplit('/').next().unwrap_or(c)))
            .take(5)
            .collect();
        if near.is_empty() {
            format!("no check {id:?} (see `gigamcp-conformance list`)")
        } else {
            format!("no check {id:?}; did you mean {}?", near.join(", "))
        }
    })?;
    let h = crate::hints::find(c.id).ok_or_else(|| format!("no hint for {}", c.id))?;
    Ok(format!(
        "{id}\n\nRequirement ({level}): {title}\nReferences: {refs}{side}\n\nHow it is tested:\n  {how}\n\nWhat a ChatGPT user sees when it fails:\n  {sees}\n\nHow to fix it:\n  {fix}\n",
        id = c.id,
        level = c.level,
        title = c.title,
        refs = c.refs.join("; "),
        side = if c.side_effect {
            "\nSide effect: registers clients or revokes tokens on the target"
        } else {
            ""
        },
        how = h.how,
        sees = h.user_sees,
        fix = h.fix
    ))
}

/// The `--list` output: selected checks, side effects marked.
pub fn list(cfg: Option<&Config>) -> String {
    let mut s = String::new();
    for c in checks::CHECKS {
        if cfg.is_none_or(|cfg| cfg.selected(c.id)) {
            s.push_str(&format!(
                "{:<48} {:<6} {}{}\n",
                c.id,
                c.level.to_string(),
                if c.side_effect { "[side effect] " } else { "" },
                c.refs.join("; ")
            ));
        }
    }
    s
}

/// Runs every subcommand but `matrix` (see [`crate::app::main_with`]); returns the process exit
/// code.
pub async fn main_with(cli: Cli) -> i32 {
    let a = match cli.command {
        Command::List => {
            print!("{}", list(None));
            return 0;
        }
        Command::Explain { check_id } => {
            return match explain(&check_id) {
                Ok(t) => {
                    print!("{t}");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            };
        }
        // The matrix builds on this module (it parses each deployment's `run` options here), so
        // it is dispatched one level up, in [`crate::app::main_with`].
        Command::Matrix(_) => {
            eprintln!("error: the matrix runs through gigamcp_conformance::app::main_with");
            return 2;
        }
        Command::Run(a) => a,
    };
    let cfg = match config_from(&a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if a.list {
        print!("{}", list(Some(&cfg)));
        return 0;
    }
    let baseline = match &a.baseline {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(report::Baseline::parse(&t)),
            Err(e) => {
                eprintln!("error: reading baseline {}: {e}", p.display());
                return 2;
            }
        },
        None => None,
    };
    let result = match crate::flow::run(cfg).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let diff = baseline.as_ref().map(|b| b.diff(&result));
    if let Some(dir) = &a.evidence
        && let Err(e) = report::write_evidence(dir, &result)
    {
        eprintln!("error: writing evidence: {e}");
        return 2;
    }
    for r in &a.report {
        let (kind, path) = r.split_once('=').expect("validated");
        if let Err(e) =
            report::write_report(kind, std::path::Path::new(path), &result, diff.as_ref())
        {
            eprintln!("error: {e}");
            return 2;
        }
    }
    print!("{}", report::terminal(&result, diff.as_ref()));
    report::exit_code(&result, diff.as_ref())
}
