//! Small process helpers (std only: xtask keeps its dependencies at zero).
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_env(args, &[], &[])
}

pub fn cargo_env(args: &[&str], set: &[(&str, &str)], unset: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    for (k, v) in set {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Builds the workspace's binaries (`gigamcp`, `gigamcp-conformance`). Every task builds them
/// with the same package selection, so cargo resolves one feature set and reuses artifacts
/// instead of building dependencies again for each `-p` combination.
pub fn build_bins(release: bool) -> Result<(), String> {
    let mut args = vec!["build", "--quiet", "--workspace", "--bins"];
    if release {
        args.push("--release");
    }
    cargo(&args)
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A `gigamcp serve --demo` child process on a fresh data directory; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub password: String,
}

impl Server {
    pub fn start(profile: &str, extra: &[&str]) -> Result<Self, String> {
        let port = free_port()?;
        let data_dir = target_dir().join("xtask-data").join(format!("{port}"));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
        let bin = target_dir().join(profile).join("gigamcp");
        let base = format!("http://127.0.0.1:{port}");
        let password = "xtask-demo-password".to_string();
        let log = std::fs::File::create(data_dir.join("server.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(extra)
            .env("GIGAMCP_DEMO_PASSWORD", &password)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut server = Server {
            child,
            base,
            data_dir,
            password,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = self.base.trim_start_matches("http://").to_string();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
                return Err(format!("gigamcp exited early ({status}):\n{log}"));
            }
            if std::net::TcpStream::connect(&addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("gigamcp did not start listening within 60 s".into())
    }

    /// Runs `gigamcp admin …` against this server's database (`fuzz` issues its token so).
    pub fn admin(&self, profile: &str, args: &[&str]) -> Result<String, String> {
        let bin = target_dir().join(profile).join("gigamcp");
        let out = Command::new(bin)
            .arg("admin")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gigamcp-conformance run MCP_URL --profile PROFILE`, signing in through the login form as
/// the demo's `alice` with `password`: the start of every harness run against a demo server.
pub fn harness_run(
    harness: &std::path::Path,
    mcp_url: &str,
    profile: &str,
    password: &str,
) -> Command {
    let mut cmd = Command::new(harness);
    cmd.args(["run", mcp_url, "--profile", profile]).args([
        "--login",
        "form",
        "--username",
        "alice",
        "--password",
        password,
    ]);
    cmd
}
