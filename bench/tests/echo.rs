//! The echo baseline's runtime is sized like the server's (`run --server-threads N` starts it
//! through `procs::echo` with N workers): the real binary, its worker threads counted in /proc.
use gigamcp_bench::procs;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp-bench");

/// Threads of `pid` named like tokio's workers: "tokio-rt-worker", or in older releases
/// "tokio-runtime-worker" cut to 15 bytes.
fn runtime_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| matches!(name.trim_end(), "tokio-rt-worker" | "tokio-runtime-w"))
        .count()
}

#[test]
fn the_echo_runs_on_as_many_workers_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    for n in [1, 3] {
        let echo = procs::echo_at(Path::new(BIN), dir.path(), Some(n)).unwrap();
        assert_eq!(runtime_threads(echo.pid()), usize::from(n), "{n} workers");
    }
    let out = Command::new(BIN)
        .args(["echo", "--bind", "127.0.0.1:0", "--worker-threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
