//! `cargo xtask interop`: the official MCP TypeScript, Python and Rust (`rmcp`) SDKs complete the
//! OAuth flow against a fresh `gigamcp serve --demo` (login and consent automated by posting the
//! forms). The work is in `interop/run.sh`; this builds the server and runs it. Needs node >= 20
//! with npm and python3 >= 3.10; the first run installs the pinned SDKs (npm ci, a venv + pip) and
//! builds `interop/rust` (a standalone package with its own lock, so rmcp's dependencies never
//! touch the workspace build) into `target/interop-rust`.
use crate::util::{build_bins, root, target_dir};
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("interop takes no arguments (got `{a}`)"));
    }
    build_bins(false)?;
    let bin = target_dir().join("debug").join("gigamcp");
    eprintln!("$ bash interop/run.sh");
    let status = Command::new("bash")
        .arg("interop/run.sh")
        .env("GIGAMCP_BIN", &bin)
        .current_dir(root())
        .status()
        .map_err(|e| format!("running bash interop/run.sh: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("interop failed ({status})"))
    }
}
