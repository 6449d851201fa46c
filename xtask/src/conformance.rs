//! `cargo xtask conformance`: the harness against a fresh `gigamcp serve --demo`, for every client
//! profile and protocol revision. Any failed MUST fails the task. Reports: target/conformance/.
use crate::util::{Server, build_bins, target_dir};
use std::process::Command;

const PROFILES: [&str; 3] = ["chatgpt", "claude", "strict"];
const SPECS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

pub fn run(args: &[String]) -> Result<(), String> {
    build_bins(false)?;
    // The matrix registers many clients from one IP: lift the per-IP registration limit. The
    // retry/grace windows for lost responses shrink to 1 s and the harness replays after 2 s, so
    // "a replay revokes the grant" is graded on what the server does after its window.
    let server = Server::start(
        "debug",
        &[
            "--registration-rate-limit",
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
    for profile in PROFILES {
        for spec in SPECS {
            let name = format!("{profile}-{spec}");
            eprintln!("\n=== conformance: profile {profile}, spec {spec} ===");
            let status = Command::new(&harness)
                .args(["run", &mcp, "--profile", profile, "--spec", spec])
                .args([
                    "--login",
                    "form",
                    "--username",
                    "alice",
                    "--password",
                    &server.password,
                ])
                .args(["--second-resource", &second, "--replay-delay", "2"])
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
    }
    // Client ID Metadata Documents (on by default): for this loopback run only, http documents on
    // 127.0.0.1 are allowed; the harness serves ChatGPT's document shape itself, with its own
    // JWKS, and authenticates with private_key_jwt (RS256) as ChatGPT does.
    eprintln!("\n=== conformance: CIMD registration (profile chatgpt) ===");
    let cimd = Server::start(
        "debug",
        &[
            "--cimd-allow-http-loopback",
            "--refresh-grace",
            "1",
            "--duplicate-code-window",
            "1",
        ],
    )?;
    let status = Command::new(&harness)
        .args([
            "run",
            &format!("{}/t/acme/mcp", cimd.base),
            "--profile",
            "chatgpt",
            "--registration",
            "cimd",
        ])
        .args([
            "--login",
            "form",
            "--username",
            "alice",
            "--password",
            &cimd.password,
        ])
        .args([
            "--second-resource",
            &format!("{}/t/globex/mcp", cimd.base),
            "--replay-delay",
            "2",
        ])
        .arg("--report")
        .arg(format!("json={}", out.join("cimd.json").display()))
        .status()
        .map_err(|e| format!("running {}: {e}", harness.display()))?;
    if !status.success() {
        failed.push("cimd".into());
    }
    drop(cimd);

    // Token expiry needs short-lived tokens: a second server issues 4-second access tokens and
    // the harness waits them out.
    eprintln!("\n=== conformance: token expiry (access tokens live 4 s) ===");
    let short = Server::start("debug", &["--access-token-ttl", "4"])?;
    let status = Command::new(&harness)
        .args([
            "run",
            &format!("{}/t/acme/mcp", short.base),
            "--profile",
            "strict",
        ])
        .args([
            "--login",
            "form",
            "--username",
            "alice",
            "--password",
            &short.password,
        ])
        .args(["--only", "rs/token/expired", "--expiry-wait", "10"])
        .arg("--report")
        .arg(format!("json={}", out.join("expiry.json").display()))
        .status()
        .map_err(|e| format!("running {}: {e}", harness.display()))?;
    if !status.success() {
        failed.push("expiry".into());
    }
    if failed.is_empty() {
        eprintln!(
            "\nconformance: every MUST holds for {} profile/revision runs",
            PROFILES.len() * SPECS.len()
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
