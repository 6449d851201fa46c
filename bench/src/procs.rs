//! Child processes: `gigamcp serve`, `gigamcp admin …`, the echo baseline, the harness.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(mut cmd: Command, addr: String, log: PathBuf) -> anyhow::Result<Self> {
        let file = std::fs::File::create(&log)?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {:?}: {e}", cmd.get_program()))?;
        Ok(Proc { child, addr, log })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the port accepts connections.
    pub fn wait_listening(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                anyhow::bail!("process exited early ({status}):\n{log}");
            }
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!("{} did not start listening within {within:?}", self.addr)
    }

    /// `(VmRSS, VmHWM)` in MiB, from /proc (Linux).
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| -> Option<f64> {
            let line = s.lines().find(|l| l.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `gigamcp` binary and a data directory.
#[derive(Clone)]
pub struct Gigamcp {
    pub bin: PathBuf,
    /// The database its processes use (`GIGAMCP_DATABASE_URL`); `None`: the embedded SQLite
    /// of the data directory.
    pub database_url: Option<String>,
    /// `serve --worker-threads`; `None`: the server's default, one per core.
    pub worker_threads: Option<u16>,
}

impl Gigamcp {
    /// `gigamcp SUBCOMMAND --data-dir DIR` with the environment every bench process gets: quiet
    /// logs, no database or public URL inherited from the caller, this bench's database if any.
    fn command(&self, subcommand: &str, data_dir: &Path) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg(subcommand)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("GIGAMCP_DATABASE_URL")
            .env_remove("GIGAMCP_PUBLIC_URL");
        if let Some(url) = &self.database_url {
            cmd.env("GIGAMCP_DATABASE_URL", url);
        }
        cmd
    }

    pub fn serve(&self, data_dir: &Path, demo: bool, extra: &[&str]) -> anyhow::Result<Proc> {
        std::fs::create_dir_all(data_dir)?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = self.command("serve", data_dir);
        cmd.args(["--bind", &addr])
            .args(extra)
            .env("GIGAMCP_DEMO_PASSWORD", DEMO_PASSWORD);
        if demo {
            cmd.arg("--demo");
        }
        if let Some(n) = self.worker_threads {
            cmd.args(["--worker-threads", &n.to_string()]);
        }
        Proc::spawn(cmd, addr, data_dir.join(format!("server-{port}.log")))
    }

    /// Runs `gigamcp admin --data-dir DIR ARGS…`, feeding `stdin`; returns stdout.
    pub fn admin(
        &self,
        data_dir: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> anyhow::Result<String> {
        use std::io::Write;
        let mut child = self
            .command("admin", data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(input.as_bytes())?;
        }
        drop(child.stdin.take());
        let out = child.wait_with_output()?;
        if !out.status.success() {
            anyhow::bail!(
                "gigamcp admin {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

pub const DEMO_PASSWORD: &str = "bench-demo-password";

/// The baseline: this binary's `echo` subcommand, a bare axum JSON echo in its own process,
/// its runtime sized like the server's (`worker_threads`, `None`: one worker per core).
pub fn echo(log_dir: &Path, worker_threads: Option<u16>) -> anyhow::Result<Proc> {
    echo_at(&std::env::current_exe()?, log_dir, worker_threads)
}

/// [`echo`] with the `gigamcp-bench` binary at `exe` (tests run it from outside).
pub fn echo_at(exe: &Path, log_dir: &Path, worker_threads: Option<u16>) -> anyhow::Result<Proc> {
    bench_server(exe, "echo", log_dir, worker_threads, |_| {})
}

/// The floor probe (`crate::floor`): this binary's `floor` subcommand in its own process,
/// accepting `creds`, its runtime sized like the echo's.
pub fn floor(
    log_dir: &Path,
    worker_threads: Option<u16>,
    creds: &crate::floor::Credentials,
) -> anyhow::Result<Proc> {
    floor_at(&std::env::current_exe()?, log_dir, worker_threads, creds)
}

/// [`floor`] with the `gigamcp-bench` binary at `exe`.
pub fn floor_at(
    exe: &Path,
    log_dir: &Path,
    worker_threads: Option<u16>,
    creds: &crate::floor::Credentials,
) -> anyhow::Result<Proc> {
    use crate::floor::{SESSION_ENV, TOKEN_ENV, WORKSPACE_ENV};
    bench_server(exe, "floor", log_dir, worker_threads, |cmd| {
        cmd.env(TOKEN_ENV, &creds.token)
            .env(SESSION_ENV, &creds.session)
            .env(WORKSPACE_ENV, &creds.workspace);
    })
}

/// `exe SUBCOMMAND --bind 127.0.0.1:PORT [--worker-threads N]`, once it listens.
fn bench_server(
    exe: &Path,
    subcommand: &str,
    log_dir: &Path,
    worker_threads: Option<u16>,
    configure: impl FnOnce(&mut Command),
) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(exe);
    cmd.args([subcommand, "--bind", &addr]);
    if let Some(n) = worker_threads {
        cmd.args(["--worker-threads", &n.to_string()]);
    }
    configure(&mut cmd);
    std::fs::create_dir_all(log_dir)?;
    let mut p = Proc::spawn(cmd, addr, log_dir.join(format!("{subcommand}.log")))?;
    p.wait_listening(Duration::from_secs(20))?;
    Ok(p)
}

/// The echo server itself: `POST /echo` answers the JSON body it got, like a handler that
/// parses and serializes a JSON-RPC message and does nothing else.
pub async fn serve_echo(bind: &str) -> anyhow::Result<()> {
    use axum::routing::post;
    async fn echo(axum::Json(v): axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
        axum::Json(v)
    }
    serve_router(bind, axum::Router::new().route("/echo", post(echo))).await
}

/// Serves `app` at `bind` as the echo and the floor probe both are: plain `axum::serve`, no
/// Nagle delay.
pub(crate) async fn serve_router(bind: &str, app: axum::Router) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// The CPU time process `pid` has used so far, all its threads (exited ones included), user and
/// system, from `/proc/PID/stat` (Linux; `None` elsewhere or once the process is gone). Its
/// resolution is the kernel's clock tick, usually 10 ms.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_ticks(&stat).map(ticks)
}

/// `n` clock ticks (the unit of `/proc/PID/stat`'s times) as a duration.
fn ticks(n: u64) -> Duration {
    // SAFETY: sysconf reads a constant of the running system and has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Duration::from_secs_f64(n as f64 / per_second.max(1) as f64)
}

/// The CPU time this process (the load generator) has used so far, all threads, to the
/// microsecond (`getrusage`).
pub fn own_cpu_time() -> Duration {
    // SAFETY: `usage` is a valid rusage to write into; RUSAGE_SELF needs nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The CPU time used so far by every process named `comm` (e.g. `postgres`: the postmaster and
/// its backends), summed; `None` when there is none. A process that exits between two readings
/// takes its time with it, so a database whose connections stay open is measured best.
pub fn cpu_time_named(comm: &str) -> Option<Duration> {
    let mut sum = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if command_name(&stat) == Some(comm)
            && let Some(t) = cpu_ticks(&stat)
        {
            *sum.get_or_insert(0) += t;
        }
    }
    sum.map(ticks)
}

/// Field 2 of a `/proc/PID/stat` line: the command name, without its parentheses.
fn command_name(stat: &str) -> Option<&str> {
    stat.get(stat.find('(')? + 1..stat.rfind(')')?)
}

/// Whether a PostgreSQL URL names a server on this machine (loopback, `localhost`, or a Unix
/// socket), whose processes' CPU time the bench can read.
pub fn database_is_local(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    // A `postgres:` URL's host is opaque to `url` (not a special scheme), so an address is
    // read from its text; a bracketed IPv6 address is parsed either way.
    match url.host() {
        None => true,
        Some(url::Host::Domain(host)) => {
            host.is_empty()
                || host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

/// `utime + stime` of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may itself hold spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields 3, 4, …: state is index 0, utime (field 14) index 11, stime (field 15) index 12.
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `uptime`-style load averages, for the report.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_last_parenthesis_of_the_command_name() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 269 0 0 20 0 9 0 \
                    5000 100000 2000 18446744073709551615";
        assert_eq!(cpu_ticks(line), Some(731 + 269));
        assert_eq!(cpu_ticks("4242 (gigamcp) S 1"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
        assert_eq!(command_name(line), Some("a (b) c"));
    }

    #[test]
    fn processes_are_summed_by_name() {
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let name = command_name(&own).unwrap().to_owned();
        let mine = cpu_time(std::process::id()).unwrap();
        // This process is one of those named so (read second: CPU time only grows).
        assert!(cpu_time_named(&name).unwrap() >= mine);
        assert_eq!(cpu_time_named("no such process name"), None);
    }

    #[test]
    fn only_a_database_on_this_machine_is_measured() {
        for local in [
            "postgres://postgres:secret@127.0.0.1:5432/bench",
            "postgres://localhost/bench",
            "postgresql://u@[::1]:5432/bench",
            "postgres:///bench?host=/var/run/postgresql",
        ] {
            assert!(database_is_local(local), "{local}");
        }
        for remote in [
            "postgres://postgres:secret@db.internal:5432/bench",
            "postgres://u:p@10.0.0.7/bench",
            "postgres://127.0.0.1.evil.example/bench",
        ] {
            assert!(!database_is_local(remote), "{remote}");
        }
    }

    #[test]
    fn this_process_cpu_time_grows_while_it_computes() {
        let _alone = crate::cpu_tests::ALONE.blocking_lock();
        let before = cpu_time(std::process::id()).expect("/proc/self/stat");
        crate::cpu_tests::burn(Duration::from_millis(300));
        let after = cpu_time(std::process::id()).expect("/proc/self/stat");
        assert!(after > before, "{before:?} → {after:?}");
    }
}
