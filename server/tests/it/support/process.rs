//! A child process the tests started (the real `gigamcp` binary, nginx, pebble …): killed and
//! reaped when dropped, so a failing test leaves nothing running; its log file is quoted when it
//! exits early or never listens.
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Proc {
    pub child: Child,
    pub name: &'static str,
    /// Where its stdout/stderr went, when they went to a file.
    pub log: Option<PathBuf>,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr in `log` (created or truncated).
    pub fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            child,
            name,
            log: Some(log),
        }
    }

    /// Wraps a child spawned with its own stdio settings.
    pub fn adopt(name: &'static str, child: Child) -> Proc {
        Proc {
            child,
            name,
            log: None,
        }
    }

    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}):\n{}", self.name, self.log());
        }
    }

    /// Waits until something listens on `127.0.0.1:port`, failing if the process exits first.
    pub fn wait_for_port(&mut self, port: u16, within: Duration) {
        let deadline = Instant::now() + within;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {port}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal (`-HUP`, `-KILL` …) with kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {}", self.child.id());
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
