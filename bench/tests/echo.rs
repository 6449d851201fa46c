//! The echo baseline's runtime is sized like the server's (`run --server-threads N` starts
//! `gigamcp-bench echo --worker-threads N`): the real binary, its worker threads counted in
//! /proc.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn echo_threads(extra: &[&str]) -> usize {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args(["echo", "--bind", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "the echo exited");
        assert!(Instant::now() < deadline, "the echo never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let n = runtime_threads(child.id());
    let _ = child.kill();
    let _ = child.wait();
    n
}

#[test]
fn the_echo_runs_on_as_many_workers_as_asked() {
    assert_eq!(echo_threads(&["--worker-threads", "1"]), 1);
    assert_eq!(echo_threads(&["--worker-threads", "3"]), 3);
    let out = Command::new(BIN)
        .args(["echo", "--bind", "127.0.0.1:0", "--worker-threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
