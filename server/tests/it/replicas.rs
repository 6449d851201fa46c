//! Several `gigamcp serve` processes (the real binary) on one database, started at the same
//! moment: every one comes up (migrations under a lock, idempotent seeding and settings).
use crate::support::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp");

struct Replica {
    child: Child,
    port: u16,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data_dir: &Path, database_url: Option<&str>) -> Replica {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env("GIGAMCP_DEMO_PASSWORD", "replica-test-password")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match database_url {
        Some(url) => cmd.env("GIGAMCP_DATABASE_URL", url),
        None => cmd.env_remove("GIGAMCP_DATABASE_URL"),
    };
    Replica {
        child: cmd.spawn().unwrap(),
        port,
    }
}

/// Waits until every replica accepts connections; panics naming the first that exited.
fn all_up(replicas: &mut [Replica], trial: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut up = vec![false; replicas.len()];
    while up.iter().any(|u| !u) {
        for (i, r) in replicas.iter_mut().enumerate() {
            if up[i] {
                continue;
            }
            if let Some(status) = r.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = r.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("trial {trial}: replica {i} exited ({status}): {err}");
            }
            up[i] = std::net::TcpStream::connect(("127.0.0.1", r.port)).is_ok();
        }
        assert!(
            Instant::now() < deadline,
            "trial {trial}: replicas did not start"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

const TRIALS: usize = 10;

#[test]
fn two_processes_start_together_on_a_fresh_sqlite_directory() {
    for trial in 0..TRIALS {
        let dir = tempfile::tempdir().unwrap();
        let mut replicas: Vec<Replica> = (0..2).map(|_| spawn(dir.path(), None)).collect();
        all_up(&mut replicas, trial);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn four_replicas_start_together_on_a_fresh_postgresql_database() {
    if std::env::var("GIGAMCP_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: GIGAMCP_TEST_POSTGRES_URL is not set");
        return;
    }
    for trial in 0..TRIALS {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::support::test_database_url(dir.path()).await;
        let mut replicas: Vec<Replica> = (0..4).map(|_| spawn(dir.path(), Some(&url))).collect();
        tokio::task::block_in_place(|| all_up(&mut replicas, trial));
    }
}
