//! `cargo xtask bench`: builds the release binaries and runs `gigamcp-bench run` (crate
//! `bench/`), which starts the servers, drives them with concurrent keep-alive connections for a
//! fixed time per scenario and prints requests/s, p50, p99, errors and the ratio to a baseline (a
//! bare axum JSON echo) measured in the same run. Every option is passed through
//! (`--duration`, `--connections`, `--json FILE`, `--compare FILE`, `--scale-documents N`,
//! `--only NAME`, …; `--help` lists them).
//!
//! `--smoke` (what CI runs) uses the debug binaries CI already built: a fraction of a second per
//! scenario and a 300-document corpus, proving only that every scenario works.
//!
//! `cargo xtask corpus --documents N --seed S --out DIR` writes a synthetic workspace.
use crate::util::{build_bins, cargo, root, target_dir};
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let profile = if smoke { "debug" } else { "release" };
    build_bins(!smoke)?;
    let bins = target_dir().join(profile);
    let mut cmd = Command::new(bins.join("gigamcp-bench"));
    cmd.arg("run")
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--work-dir")
        .arg(target_dir().join("bench"))
        .args(args)
        .current_dir(root());
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("running gigamcp-bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("gigamcp-bench failed ({status})"))
    }
}

pub fn corpus(args: &[String]) -> Result<(), String> {
    cargo(&["build", "--quiet", "--workspace", "--bin", "gigamcp-bench"])?;
    let status = Command::new(target_dir().join("debug").join("gigamcp-bench"))
        .arg("corpus")
        .args(args)
        .status()
        .map_err(|e| format!("running gigamcp-bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("gigamcp-bench corpus failed ({status})"))
    }
}
