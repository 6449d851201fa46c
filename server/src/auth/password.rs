//! Password hashing with argon2id, always off the async workers and with bounded concurrency:
//! a login storm must not starve token validation or MCP calls.
//!
//! At most [`RUNNING`] hashes run at once and at most [`WAITING`] sign-ins wait for a slot; a
//! sign-in that finds the queue full is answered at once ([`Busy`], HTTP 503 with `Retry-After`)
//! instead of joining an unbounded queue, so a correct password never waits behind more than
//! one round of other verifications.
//!
//! Each client address has at most [`PER_ADDRESS`] sign-in in flight in this process
//! ([`VerifyQueue::enter`]): one address hammering the form occupies one verification slot, not
//! all of them, so a correct sign-in from anywhere else keeps its idle latency (measured by
//! `cargo xtask bench`, scenario "sign-in under attack").
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::Semaphore;

/// Verifications running at once.
pub const RUNNING: usize = 2;
/// Verifications allowed to wait for a running slot.
pub const WAITING: usize = 2;
/// Sign-ins of one client address in flight at once (per process).
pub const PER_ADDRESS: usize = 1;

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
        Self {
            admitted: AtomicUsize::new(0),
            max,
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

    fn admit(&self) -> Result<Admission<'_>, Busy> {
        let mut cur = self.admitted.load(Ordering::Acquire);
        loop {
            if cur >= self.max {
                return Err(Busy);
            }
            match self.admitted.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Admission(&self.admitted)),
                Err(now) => cur = now,
            }
        }
    }

    /// Verifies a sign-in password: `Err(Busy)` at once when the queue is full.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Busy> {
        let _admitted = self.admit()?;
        Ok(verify_password(password, stored).await)
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

/// Verify synchronously; a malformed stored hash verifies as false.
pub fn verify_password_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verify on the blocking pool, at most two at a time.
pub async fn verify_password(password: String, stored: String) -> bool {
    let Ok(_permit) = gate().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password_blocking(&password, &stored))
        .await
        .unwrap_or(false)
}

/// Hash on the blocking pool.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let _permit = gate().acquire().await?;
    tokio::task::spawn_blocking(move || hash_password_blocking(&password)).await?
}

#[cfg(test)]
mod tests {
    #[test]
    fn argon2id_round_trip() {
        let h = super::hash_password_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify_password_blocking("correct horse", &h));
        assert!(!super::verify_password_blocking("wrong", &h));
        assert!(!super::verify_password_blocking("x", "not a hash"));
    }
}
