//! `cargo xtask conformance`: the harness against a fresh `gigamcp serve --demo`, for every client
//! profile (chatgpt, chatgpt-dcr, claude and strict at every protocol revision, the other
//! clients once), ChatGPT and ChatGPT-DCR against `serve --demo` with no flags and ChatGPT against the production SSRF guard, a sign-in through a real Chromium and
//! the GitHub Action's script. Any failed MUST fails the task. Reports: target/conformance/.
//!
//! `cargo xtask conformance --target URL [run options…]` runs the same profile × revision
//! matrix and the feature files (`features/*.feature`, through the cucumber runner) against that
//! deployment instead, with the given `run` options (login, `--second-resource`, …); scenarios
//! tagged `@fixture` need a deliberately broken deployment and are skipped there.
use crate::util::{Server, build_bins, cargo_env, harness_run, target_dir};
use std::process::Command;

/// Profiles run at every protocol revision.
const PROFILES: [&str; 4] = ["chatgpt", "chatgpt-dcr", "claude", "strict"];
const SPECS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];
/// The other clients' profiles, run once each at the revision they speak (`--spec auto`).
const CLIENTS: [&str; 5] = [
    "claude-dcr",
    "claude-code",
    "cursor",
    "vscode",
    "mcp-inspector",
];

/// `(name, profile, --spec)` of every run in the matrix.
fn matrix() -> Vec<(String, &'static str, &'static str)> {
    let mut runs = Vec::new();
    for profile in PROFILES {
        for spec in SPECS {
            runs.push((format!("{profile}-{spec}"), profile, spec));
        }
    }
    for profile in CLIENTS {
        runs.push((profile.to_string(), profile, "auto"));
    }
    runs
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut rest = Vec::new();
    let mut target = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--target" {
            target = Some(it.next().ok_or("--target needs a URL")?.clone());
        } else if let Some(u) = a.strip_prefix("--target=") {
            target = Some(u.to_string());
        } else {
            rest.push(a.clone());
        }
    }
    match target {
        Some(url) => against(&url, &rest),
        None => local(&rest),
    }
}

/// The profile × revision matrix and the feature files against a deployment given by URL.
fn against(url: &str, args: &[String]) -> Result<(), String> {
    build_bins(false)?;
    let out = target_dir().join("conformance").join("target");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let harness = target_dir().join("debug").join("gigamcp-conformance");
    let mut failed = Vec::new();
    for (name, profile, spec) in matrix() {
        eprintln!("\n=== conformance against {url}: profile {profile}, spec {spec} ===");
        let status = Command::new(&harness)
            .args(["run", url, "--profile", profile, "--spec", spec])
            .args(args)
            .arg("--report")
            .arg(format!(
                "json={}",
                out.join(format!("{name}.json")).display()
            ))
            .arg("--report")
            .arg(format!(
                "html={}",
                out.join(format!("{name}.html")).display()
            ))
            .status()
            .map_err(|e| format!("running {}: {e}", harness.display()))?;
        if !status.success() {
            failed.push(format!("{name} (exit {})", status.code().unwrap_or(-1)));
        }
    }
    eprintln!("\n=== features/*.feature against {url} ===");
    let joined = args.join("\u{1f}");
    if let Err(e) = cargo_env(
        &["test", "--workspace", "--test", "cucumber"],
        &[
            ("GIGAMCP_CONFORMANCE_TARGET", url),
            ("GIGAMCP_CONFORMANCE_RUN_ARGS", &joined),
        ],
        &[],
    ) {
        failed.push(format!("features ({e})"));
    }
    if failed.is_empty() {
        eprintln!(
            "\nconformance against {url}: every MUST holds for {} profile/revision runs and the features; reports in {}",
            matrix().len(),
            out.display()
        );
        Ok(())
    } else {
        Err(format!(
            "conformance against {url} failed for: {}",
            failed.join(", ")
        ))
    }
}

fn local(args: &[String]) -> Result<(), String> {
    build_bins(false)?;
    // The matrix registers many clients from one IP: lift the per-IP registration and CIMD fetch
    // limits. The retry/grace windows for lost responses shrink to 1 s and the harness replays
    // after 2 s, so "a replay revokes the grant" is graded on what the server does after its
    // window. ChatGPT, Claude and Claude Code use their Client ID Metadata Documents whenever
    // the server advertises CIMD (on by default); the harness serves those documents (and
    // ChatGPT's JWK Set, for private_key_jwt) on 127.0.0.1, which a production server refuses to
    // fetch (SSRF guard): this server is told to allow loopback documents.
    let server = Server::start(
        "debug",
        &[
            "--registration-rate-limit",
            "100000",
            "--cimd-fetch-rate-limit",
            "100000",
            "--refresh-grace",
            "1",
            "--duplicate-code-window",
            "1",
        ],
    )?;
    let out = target_dir().join("conformance");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let harness = target_dir().join("debug").join("gigamcp-conformance");
    let mcp = format!("{}/t/acme/mcp", server.base);
    let second = format!("{}/t/globex/mcp", server.base);
    let mut failed = Vec::new();
    for (name, profile, spec) in matrix() {
        eprintln!("\n=== conformance: profile {profile}, spec {spec} ===");
        let status = harness_run(&harness, &mcp, profile, &server.password)
            .args(["--spec", spec])
            .args(["--second-resource", &second, "--replay-delay", "2"])
            // Hour-long tokens: expiry is graded by its own run below, with 4-second tokens.
            .args(["--skip", "rs/token/expired"])
            .arg("--report")
            .arg(format!(
                "json={}",
                out.join(format!("{name}.json")).display()
            ))
            .arg("--report")
            .arg(format!(
                "junit={}",
                out.join(format!("{name}.xml")).display()
            ))
            .arg("--report")
            .arg(format!("md={}", out.join(format!("{name}.md")).display()))
            .args(args)
            .status()
            .map_err(|e| format!("running {}: {e}", harness.display()))?;
        if !status.success() {
            failed.push(name);
        }
    }
    failed.extend(default_policy_runs(&harness, &out)?);

    // Token expiry needs short-lived tokens: a second server issues 4-second access tokens and
    // the harness waits them out.
    eprintln!("\n=== conformance: token expiry (access tokens live 4 s) ===");
    let short = Server::start("debug", &["--access-token-ttl", "4"])?;
    let mcp = format!("{}/t/acme/mcp", short.base);
    let status = harness_run(&harness, &mcp, "strict", &short.password)
        .args(["--only", "rs/token/expired", "--expiry-wait", "10"])
        .arg("--report")
        .arg(format!("json={}", out.join("expiry.json").display()))
        .status()
        .map_err(|e| format!("running {}: {e}", harness.display()))?;
    if !status.success() {
        failed.push("expiry".into());
    }
    drop(short);

    // A registration limit the harness runs into: it must wait out Retry-After and complete
    // every MUST (exit 0), or stop honestly (exit 2, naming the cause); never exit 0 with a
    // MUST left unrun.
    eprintln!("\n=== conformance: registration rate limit 2 per minute (Retry-After) ===");
    if let Err(e) = rate_limited(&harness, &out) {
        failed.push(e);
    }

    // A real Chromium signs in through our login and consent pages (headless, login script).
    eprintln!("\n=== conformance: --login browser (Chromium, headless, login script) ===");
    match chromium() {
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            failed.push("browser (no Chromium on a CI machine: .ci/run installs it)".into());
        }
        None => {
            eprintln!("skipped: no Chromium found (install the `chromium` package); CI runs it")
        }
        Some(_) => {
            let b = Server::start(
                "debug",
                &["--refresh-grace", "1", "--duplicate-code-window", "1"],
            )?;
            let script = crate::util::root().join("conformance/login-scripts/gigamcp.txt");
            let status = Command::new(&harness)
                .args([
                    "run",
                    &format!("{}/t/acme/mcp", b.base),
                    "--profile",
                    "chatgpt",
                ])
                .arg("--login")
                .arg("browser")
                .arg("--login-script")
                .arg(&script)
                .args([
                    "--second-resource",
                    &format!("{}/t/globex/mcp", b.base),
                    "--replay-delay",
                    "2",
                ])
                .arg("--report")
                .arg(format!("json={}", out.join("browser.json").display()))
                .arg("--report")
                .arg(format!("html={}", out.join("browser.html").display()))
                .env("GIGAMCP_USERNAME", "alice")
                .env("GIGAMCP_PASSWORD", &b.password)
                .status()
                .map_err(|e| format!("running {}: {e}", harness.display()))?;
            if !status.success() {
                failed.push("browser".into());
            }
        }
    }

    // The GitHub Action's script, as the action runs it (not through GitHub).
    eprintln!("\n=== conformance: the GitHub Action's script (.github/actions/conformance.sh) ===");
    let a = Server::start(
        "debug",
        &["--refresh-grace", "1", "--duplicate-code-window", "1"],
    )?;
    let action_out = out.join("action");
    let status = Command::new("bash")
        .arg(crate::util::root().join(".github/actions/conformance.sh"))
        .env("HARNESS", &harness)
        .env("OUT_DIR", &action_out)
        .env("GIGAMCP_URL", format!("{}/t/acme/mcp", a.base))
        .env("INPUT_PROFILE", "chatgpt")
        .env("INPUT_LOGIN", "form")
        .env("INPUT_USERNAME", "alice")
        .env("GIGAMCP_PASSWORD", &a.password)
        .env("INPUT_SECOND_RESOURCE", format!("{}/t/globex/mcp", a.base))
        .env("INPUT_ARGS", "--replay-delay 2 --skip rs/token/expired")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .status()
        .map_err(|e| format!("running the action script: {e}"))?;
    let wrote_all = [
        "report.sarif",
        "junit.xml",
        "report.md",
        "report.html",
        "report.json",
        "exit-code",
    ]
    .iter()
    .all(|f| action_out.join(f).is_file());
    if !status.success() || !wrote_all {
        failed.push(format!(
            "action script (exit {}, reports {})",
            status.code().unwrap_or(-1),
            if wrote_all { "written" } else { "missing" }
        ));
    }

    if failed.is_empty() {
        eprintln!(
            "\nconformance: every MUST holds for {} profile/revision runs",
            matrix().len()
        );
        Ok(())
    } else {
        let log = std::fs::read_to_string(server.data_dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!(
            "server log (last lines):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        Err(format!("conformance failed for: {}", failed.join(", ")))
    }
}

/// The chatgpt profile against a server that allows two registrations a minute.
/// `serve --demo` without any registration or CIMD flag: ChatGPT connects through its Client ID
/// Metadata Document with `private_key_jwt` (a loopback demo fetches loopback documents), and
/// `chatgpt-dcr` through DCR. Then the same ChatGPT profile against the production SSRF guard
/// (`--cimd-allow-http-loopback=false`): the harness sees its document never fetched and
/// registers with DCR, and nothing fails. Each run is also checked for the path it took.
fn default_policy_runs(
    harness: &std::path::Path,
    out: &std::path::Path,
) -> Result<Vec<String>, String> {
    // (report name, profile, server flags, details the report must contain: the path taken)
    let runs: [(&str, &str, &[&str], &[&str]); 3] = [
        (
            "chatgpt-no-flags",
            "chatgpt",
            &[],
            &[
                "ChatGPT registered (metadata document http://127.0.0.1",
                ", private_key_jwt), authorized",
            ],
        ),
        (
            "chatgpt-dcr-no-flags",
            "chatgpt-dcr",
            &[],
            &["ChatGPT registered (DCR,"],
        ),
        (
            "chatgpt-loopback-refused",
            "chatgpt",
            &["--cimd-allow-http-loopback=false"],
            &[
                "ChatGPT registered (DCR,",
                "the target never fetched the harness's metadata document",
            ],
        ),
    ];
    // The three run at once: most of their time is the two 31-second replay waits.
    let mut started = Vec::new();
    for (name, profile, flags, expect) in runs {
        eprintln!(
            "\n=== conformance: profile {profile}, serve --demo {} ===",
            flags.join(" ")
        );
        let server = Server::start("debug", flags)?;
        let report = out.join(format!("{name}.json"));
        let mcp = format!("{}/t/acme/mcp", server.base);
        let child = harness_run(harness, &mcp, profile, &server.password)
            .args([
                "--second-resource",
                &format!("{}/t/globex/mcp", server.base),
            ])
            // The server's default grace windows (30 s refresh, 5 s code): replays wait them out.
            .args(["--replay-delay", "31", "--skip", "rs/token/expired"])
            .arg("--report")
            .arg(format!("json={}", report.display()))
            .spawn()
            .map_err(|e| format!("running {}: {e}", harness.display()))?;
        started.push((name, expect, server, report, child));
    }
    let mut failed = Vec::new();
    for (name, expect, _server, report, mut child) in started {
        let status = child.wait().map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if !status.success() {
            failed.push(name.to_string());
        } else if let Some(missing) = expect.iter().find(|e| !text.contains(**e)) {
            eprintln!(
                "conformance: {name} passed but took another path (report lacks {missing:?})"
            );
            failed.push(format!("{name} (wrong registration path)"));
        }
    }
    Ok(failed)
}

fn rate_limited(harness: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
    let server = Server::start(
        "debug",
        &[
            "--registration-rate-limit",
            "2",
            "--refresh-grace",
            "1",
            "--duplicate-code-window",
            "1",
        ],
    )?;
    let json = out.join("rate-limited.json");
    let mcp = format!("{}/t/acme/mcp", server.base);
    let output = harness_run(harness, &mcp, "chatgpt", &server.password)
        .args([
            "--second-resource",
            &format!("{}/t/globex/mcp", server.base),
            "--replay-delay",
            "2",
            "--skip",
            "rs/token/expired",
        ])
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .output()
        .map_err(|e| format!("running {}: {e}", harness.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprint!("{stdout}");
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let unrun_musts = unrun_musts(&report);
    match output.status.code() {
        Some(0) if unrun_musts.is_empty() && !report.is_empty() => {
            eprintln!("rate-limited run: every MUST completed (Retry-After waited out)");
            Ok(())
        }
        Some(0) => Err(format!(
            "rate-limited run: exit 0 with MUSTs that could not run: {unrun_musts:?}"
        )),
        Some(2) if stdout.contains("could not run; first cause: ") => {
            eprintln!("rate-limited run: stopped honestly (exit 2, cause named)");
            Ok(())
        }
        other => Err(format!("rate-limited run: exit {other:?}")),
    }
}

/// The installed Chromium the harness would use (it never downloads one).
/// The ids of the MUST checks a JSON report (pretty-printed or compact) marks could-not-run.
/// Outcome keys are serialized in sorted order, so an outcome's `level` and `verdict` follow its
/// `id` and come before the next outcome's `id`.
fn unrun_musts(report: &str) -> Vec<String> {
    let compact = report.replace("\": ", "\":");
    compact
        .split("\"id\":\"")
        .skip(1)
        .filter(|o| o.contains("\"level\":\"MUST\"") && o.contains("\"verdict\":\"could-not-run\""))
        .map(|o| o.split('"').next().unwrap_or("?").to_string())
        .collect()
}

fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("GIGAMCP_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::unrun_musts;

    #[test]
    fn unrun_musts_are_found_in_the_harness_report_format() {
        // The shape `gigamcp-conformance --report json=` writes (pretty-printed, keys sorted).
        let report = r#"{
  "exit_code": 0,
  "outcomes": [
    {
      "detail": "401 without credentials",
      "id": "discovery/challenge/status-401",
      "level": "MUST",
      "verdict": "pass"
    },
    {
      "detail": "registration refused: 429",
      "id": "authorize/code-issued",
      "level": "MUST",
      "verdict": "could-not-run"
    },
    {
      "detail": "not advertised",
      "id": "token/expires-in",
      "level": "SHOULD",
      "verdict": "could-not-run"
    }
  ]
}"#;
        assert_eq!(
            unrun_musts(report),
            vec!["authorize/code-issued".to_string()]
        );
        let compact: String = report.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            unrun_musts(&compact),
            vec!["authorize/code-issued".to_string()]
        );
        assert!(unrun_musts(&report.replace("could-not-run", "pass")).is_empty());
    }
}
