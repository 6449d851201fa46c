//! Project automation: `cargo xtask <command>`.
//!
//! - `ci`: exactly what CI runs: fmt check, clippy `-D warnings`, all tests, conformance,
//!   scaleout, the bench smoke run, interop.
//! - `scaleout`: two replicas on a fresh PostgreSQL database behind nginx (round robin): the
//!   ChatGPT-profile harness through the balancer, sessions served by both replicas, DELETE and
//!   revocation reaching the other replica (p50/p99 of 50 revocations, failing above 1 s).
//! - `interop`: the official TypeScript, Python and Rust (rmcp) MCP SDKs complete the OAuth flow.
//! - `conformance`: starts `gigamcp serve --demo` and runs the harness against it, every profile
//!   and protocol revision; reports land in `target/conformance/`.
//! - `bench`: throughput of the hot paths as ratios against a baseline measured in the same run
//!   (`bench/`, binary `gigamcp-bench`); `--smoke` is the short mode CI runs.
//! - `corpus`: a synthetic knowledge workspace (`--documents N --seed S --out DIR`).
//! - `fuzz`: generated requests against `gigamcp serve --demo` across every endpoint and form;
//!   fails on any 5xx, dropped request or panic (3000 cases by default, `--cases N`).
mod bench;
mod conformance;
mod fuzz;
mod interop;
mod scaleout;
mod tidy;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = passed_on(&args);
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(),
        Some("conformance") => conformance::run(rest),
        Some("scaleout") => scaleout::run(rest),
        Some("bench") => bench::run(rest),
        Some("fuzz") => fuzz::run(rest),
        Some("corpus") => bench::corpus(rest),
        Some("interop") => interop::run(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  ci           fmt check, clippy -D warnings, tests, conformance (what CI runs)\n  test         the workspace's tests only\n  conformance  run the harness against a fresh `gigamcp serve --demo`\n  scaleout     2 replicas on a fresh PostgreSQL database behind nginx: conformance, shared sessions, revocation latency\n  interop      the official TypeScript, Python and Rust (rmcp) MCP SDKs complete the OAuth flow (node >= 20, python3)\n  bench        load test (release build): req/s, p50, p99, errors, ratio to a baseline; --smoke, --json, --compare, --help\n  corpus       synthetic knowledge workspace: --documents N --seed S --out DIR\n  fuzz         generated requests against `serve --demo`: zero 5xx, zero panics (--cases N, default 3000)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The arguments after the command, without a `--` separator right after it: `cargo xtask bench
/// --json F` and `cargo xtask bench -- --json F` mean the same.
fn passed_on(args: &[String]) -> &[String] {
    let rest = args.get(1..).unwrap_or_default();
    match rest.first() {
        Some(sep) if sep == "--" => &rest[1..],
        _ => rest,
    }
}

fn ci() -> Result<(), String> {
    util::cargo(&["fmt", "--all", "--", "--check"])?;
    // The interop Rust client is its own workspace; `--all` does not reach it.
    util::cargo(&[
        "fmt",
        "--manifest-path",
        "interop/rust/Cargo.toml",
        "--",
        "--check",
    ])?;
    util::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    test()?;
    fuzz::run(&[])?;
    conformance::run(&[])?;
    scaleout::run(&[])?;
    // The load test in its short mode (debug binaries, well under a minute): proves every
    // scenario still runs and answers correctly; its figures are not graded.
    bench::run(&["--smoke".to_string()])?;
    interop::run(&[])
}

/// All tests on the embedded SQLite; then, when `GIGAMCP_CI_POSTGRES_URL` names a PostgreSQL
/// server (CI starts one), the server's integration suite again on fresh PostgreSQL databases.
///
/// The second pass selects the server's one test target (`it`) by name with `--workspace`, so cargo
/// resolves features exactly as in the first pass and reuses every artifact: `-p gigamcp-server`
/// would unify features differently and rebuild most dependencies a second time (minutes of CI
/// and gigabytes of disk).
fn test() -> Result<(), String> {
    util::cargo_env(
        &["test", "--workspace", "--no-fail-fast"],
        &[],
        &["GIGAMCP_TEST_POSTGRES_URL"],
    )?;
    if let Ok(pg) = std::env::var("GIGAMCP_CI_POSTGRES_URL") {
        eprintln!("\n=== server integration tests on PostgreSQL ===");
        // `server/tests/it/main.rs`: the server's one integration-test binary.
        let args = ["test", "--workspace", "--no-fail-fast", "--test", "it"];
        util::cargo_env(&args, &[("GIGAMCP_TEST_POSTGRES_URL", &pg)], &[])?;
    } else {
        eprintln!("(GIGAMCP_CI_POSTGRES_URL not set: PostgreSQL pass skipped; .ci/run sets it)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::passed_on;

    #[test]
    fn a_separator_after_the_command_is_dropped() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let expected = args(&["--json", "f.json"]);
        assert_eq!(passed_on(&args(&["bench", "--json", "f.json"])), expected);
        assert_eq!(
            passed_on(&args(&["bench", "--", "--json", "f.json"])),
            expected
        );
        // Only the first: a later `--` is the tool's own business.
        assert_eq!(
            passed_on(&args(&["bench", "--only", "x", "--", "y"])),
            args(&["--only", "x", "--", "y"])
        );
        assert!(passed_on(&args(&["bench"])).is_empty());
        assert!(passed_on(&args(&[])).is_empty());
    }
}
