//! Password hashing with argon2id, always off the async workers and with bounded concurrency:
//! a login storm must not starve token validation or MCP calls.
//!
//! The hashes run on threads of their own ([`hashers`]: [`RUNNING`] shared and
//! [`TRUSTED_RUNNING`] for known browsers), started on first use and lowered to nice [`NICE`]
//! on Linux: when the machine is busy, the async workers (bearer validation, MCP calls, the
//! sign-in's own database steps) and the database threads get the CPU before a hash does, and a
//! hash never waits for a blocking-pool thread to start. Each thread keeps its argon2 memory
//! (19 MiB at the default parameters; the shared ones from their start) between hashes: a
//! verification does not allocate and first-touch it again, which cost the first sign-ins that
//! overlapped another 2–4× their idle time.
//!
//! At most [`RUNNING`] hashes run at once and at most [`WAITING`] sign-ins wait for a slot; a
//! sign-in that finds the queue full is answered at once ([`Busy`], HTTP 503 with `Retry-After`)
//! instead of joining an unbounded queue, so a correct password never waits behind more than
//! one round of other verifications.
//!
//! A browser that signed in as the account before (a live device cookie, `oauth::login`) has a
//! lane of its own on top: [`TRUSTED_RUNNING`] more slots and [`TRUSTED_WAITING`] places,
//! which strangers' attempts cannot fill. A distributed flood of wrong passwords that fills the
//! shared queue answers strangers 503, not the account's known browsers.
//!
//! Each client address has at most [`PER_ADDRESS`] sign-in in flight in this process
//! ([`VerifyQueue::enter`]): one address hammering the form occupies one verification slot, not
//! all of them, so a correct sign-in from anywhere else keeps its idle latency (measured by
//! `cargo xtask bench`, scenario "sign-in under attack").
use argon2::password_hash::{
    self, Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use tokio::sync::Semaphore;

/// Verifications running at once.
pub const RUNNING: usize = 2;
/// Verifications allowed to wait for a running slot.
pub const WAITING: usize = 2;
/// Sign-ins of one client address in flight at once (per process).
pub const PER_ADDRESS: usize = 1;
/// Known browsers' verifications running at once in their own lane, beyond [`RUNNING`].
pub const TRUSTED_RUNNING: usize = 1;
/// Known browsers' verifications allowed to wait for their lane.
pub const TRUSTED_WAITING: usize = 2;
/// The hashing threads' nice value (Linux; 0 is the async workers'). At 5 a hash gets about a
/// quarter of a core that a request-path thread also wants, and all of an idle one.
pub const NICE: i32 = 5;

/// A hashing thread's work, given the thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The known browsers' lane's running slots.
fn trusted_gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(TRUSTED_RUNNING))
}

/// The hashing threads' queue: one thread for each permit of [`gate`] and [`trusted_gate`],
/// taken before a job is sent, so a sent job always finds a thread free. The lane's thread
/// allocates its argon2 memory on first use.
fn hashers() -> &'static mpsc::Sender<Job> {
    static HASHERS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    HASHERS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..RUNNING + TRUSTED_RUNNING {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    let mut blocks = if i < RUNNING {
                        vec![Block::default(); Params::default().block_count()]
                    } else {
                        Vec::new()
                    };
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panic drops the job's reply sender (its caller sees a failure), not
                        // the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&mut blocks)
                        }));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        tx
    })
}

/// Lowers the calling thread (only it: on Linux a thread id names one thread) to [`NICE`].
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICE) {
        tracing::debug!(error = %e, "password hashing thread keeps the default priority");
    }
}

/// Runs `f` on a hashing thread; `None` if no thread could run it. Take a [`gate`] permit first.
async fn on_hasher<T: Send + 'static>(
    f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |blocks| {
        let _ = tx.send(f(blocks));
    });
    hashers().send(job).ok()?;
    rx.await.ok()
}

fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(RUNNING))
}

/// The verification queue is full; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Admission to sign-in verifications (one per server): at most `RUNNING + WAITING` admitted.
#[derive(Debug)]
pub struct VerifyQueue {
    admitted: AtomicUsize,
    max: usize,
    /// Admitted to the known browsers' lane, and its bound.
    trusted_admitted: AtomicUsize,
    trusted_max: usize,
    /// Client addresses with a sign-in in flight, and how many.
    in_flight: Mutex<HashMap<String, usize>>,
}

/// One client address's sign-in in flight; dropping it lets the address's next attempt in.
#[derive(Debug)]
pub struct InFlight<'a> {
    queue: &'a VerifyQueue,
    address: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut map = self
            .queue
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.address);
            }
        }
    }
}

impl Default for VerifyQueue {
    fn default() -> Self {
        Self::new(RUNNING + WAITING)
    }
}

struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl VerifyQueue {
    pub fn new(max: usize) -> Self {
        Self::with_lane(max, TRUSTED_RUNNING + TRUSTED_WAITING)
    }

    /// At most `max` admitted to the shared queue and `trusted_max` to the known browsers' lane.
    pub fn with_lane(max: usize, trusted_max: usize) -> Self {
        Self {
            admitted: AtomicUsize::new(0),
            max,
            trusted_admitted: AtomicUsize::new(0),
            trusted_max,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Enters a sign-in of `address`: `None` when the address already has [`PER_ADDRESS`] in
    /// flight (answer at once: the client retries after a second).
    pub fn enter(&self, address: &str) -> Option<InFlight<'_>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(address.to_string()).or_insert(0);
        if *n >= PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(InFlight {
            queue: self,
            address: address.to_string(),
        })
    }

    /// Whether a verification would be admitted now (`trusted`: to either queue). A hint for
    /// answering before any other work; [`verify`](Self::verify) admits for real.
    pub fn has_room(&self, trusted: bool) -> bool {
        self.admitted.load(Ordering::Acquire) < self.max
            || (trusted && self.trusted_admitted.load(Ordering::Acquire) < self.trusted_max)
    }

    /// Verifies a sign-in password: `Err(Busy)` at once when its queue is full. `trusted` (the
    /// request carries a live device cookie of this account) takes a free shared slot if one is
    /// free at once, and otherwise waits in the known browsers' lane.
    pub async fn verify(
        &self,
        password: String,
        stored: String,
        trusted: bool,
    ) -> Result<bool, Busy> {
        if trusted {
            if let Ok(_admitted) = admit(&self.admitted, self.max)
                && let Ok(permit) = gate().try_acquire()
            {
                return Ok(verify_holding(permit, password, stored).await);
            }
            let _admitted = admit(&self.trusted_admitted, self.trusted_max)?;
            let Ok(permit) = trusted_gate().acquire().await else {
                return Ok(false);
            };
            return Ok(verify_holding(permit, password, stored).await);
        }
        let _admitted = admit(&self.admitted, self.max)?;
        Ok(verify_password(password, stored).await)
    }
}

/// Admits one more to a queue of at most `max` (`counter`), or `Busy`.
fn admit(counter: &AtomicUsize, max: usize) -> Result<Admission<'_>, Busy> {
    let mut cur = counter.load(Ordering::Acquire);
    loop {
        if cur >= max {
            return Err(Busy);
        }
        match counter.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(Admission(counter)),
            Err(now) => cur = now,
        }
    }
}

/// Hash synchronously (CLI and seeding).
pub fn hash_password_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&crate::secrets::random_bytes(16))
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Verifies `password` against the PHC string `stored` as argon2's `verify_password` does (the
/// algorithm, version, parameters and salt the string names; a constant-time comparison of the
/// outputs), computing in `blocks`, which is resized to the parameters and kept by the caller.
/// A malformed stored hash verifies as false.
fn verify_in(password: &str, stored: &str, blocks: &mut Vec<Block>) -> bool {
    let mut check = || -> password_hash::Result<bool> {
        let parsed = PasswordHash::new(stored)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed)?;
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf)?;
        blocks.resize(params.block_count(), Block::default());
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            Ok(argon2.hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                out,
                &mut blocks[..],
            )?)
        })?;
        Ok(computed == expected)
    };
    check().unwrap_or(false)
}

/// Verify synchronously; a malformed stored hash verifies as false.
pub fn verify_password_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verify on a hashing thread, at most [`RUNNING`] at a time.
pub async fn verify_password(password: String, stored: String) -> bool {
    let Ok(permit) = gate().acquire().await else {
        return false;
    };
    verify_holding(permit, password, stored).await
}

/// Verify on a hashing thread, holding a running slot's `permit` until done.
async fn verify_holding(
    permit: tokio::sync::SemaphorePermit<'static>,
    password: String,
    stored: String,
) -> bool {
    let verified = on_hasher(move |blocks| verify_in(&password, &stored, blocks)).await;
    drop(permit);
    verified.unwrap_or(false)
}

/// Hash on a hashing thread, at most [`RUNNING`] at a time.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let _permit = gate().acquire().await?;
    on_hasher(move |_| hash_password_blocking(&password))
        .await
        .ok_or_else(|| anyhow::anyhow!("no password hashing thread"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = super::hash_password_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify_password_blocking("correct horse", &h));
        assert!(!super::verify_password_blocking("wrong", &h));
        assert!(!super::verify_password_blocking("x", "not a hash"));
    }

    fn phc(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        Argon2::new(algorithm, version, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    /// The hashing threads' verification (in memory they keep) answers as argon2's own does:
    /// for each algorithm, both versions, other parameters and output lengths, a wrong
    /// password, and stored strings that are damaged or not hashes at all; one memory reused
    /// throughout, grown and shrunk between parameter sets.
    #[test]
    fn the_hashing_threads_verify_as_argon2_does() {
        let mut stored = vec![hash_password_blocking("correct horse").unwrap()];
        for (algorithm, version, (m, t, p, len)) in [
            (Algorithm::Argon2id, Version::V0x13, (64, 1, 1, 32)),
            (Algorithm::Argon2i, Version::V0x13, (32, 2, 2, 16)),
            (Algorithm::Argon2d, Version::V0x10, (48, 3, 1, 64)),
            (Algorithm::Argon2id, Version::V0x13, (1024, 1, 4, 32)),
        ] {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            stored.push(phc(algorithm, version, params, "correct horse"));
        }
        let valid = stored.len();
        let first = stored[1].clone();
        stored.extend([
            first[..first.len() - 2].to_string(),
            first.replacen("$c2l4", "$c2l5", 1),
            first.replacen("m=64", "m=65", 1),
            first.replacen("argon2id", "argon2x", 1),
            first[..first.rfind('$').unwrap()].to_string(),
            "not a hash".to_string(),
            String::new(),
        ]);
        let mut blocks = vec![Block::default(); Params::default().block_count()];
        for (i, s) in stored.iter().enumerate() {
            for password in ["correct horse", "correct hors", "", "wrong"] {
                let ours = verify_in(password, s, &mut blocks);
                assert_eq!(
                    ours,
                    verify_password_blocking(password, s),
                    "{password:?} against {s:?}"
                );
                if i < valid && password == "correct horse" {
                    assert!(ours, "{s} must verify");
                }
            }
        }
    }

    /// A known browser verifies in its own lane when the shared queue is full, and that lane
    /// is bounded too.
    #[tokio::test]
    async fn a_known_browser_verifies_in_its_own_lane_when_the_queue_is_full() {
        let h = hash_password("correct horse".into()).await.unwrap();
        let full = VerifyQueue::with_lane(0, 1);
        assert_eq!(
            full.verify("correct horse".into(), h.clone(), false).await,
            Err(Busy)
        );
        assert_eq!(
            full.verify("correct horse".into(), h.clone(), true).await,
            Ok(true)
        );
        assert_eq!(
            full.verify("wrong".into(), h.clone(), true).await,
            Ok(false)
        );
        let both_full = VerifyQueue::with_lane(0, 0);
        assert_eq!(
            both_full.verify("correct horse".into(), h, true).await,
            Err(Busy)
        );
    }

    /// The hashes run on the hashing threads, and those run at nice [`NICE`] (or the process's
    /// own, where that is lower still).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_on_their_own_threads_below_the_workers_priority() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), h.clone()).await);
        assert!(!verify_password("wrong".into(), h).await);
        let nice = |stat: &str| -> i32 {
            let after = stat.rsplit(')').next().unwrap();
            after.split_whitespace().nth(16).unwrap().parse().unwrap()
        };
        let own = nice(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
        let mut seen = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.starts_with("argon2-") {
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
                assert_eq!(nice(&stat), NICE.max(own), "{}", comm.trim());
                seen += 1;
            }
        }
        assert_eq!(seen, RUNNING + TRUSTED_RUNNING, "the hashing threads");
    }
}
