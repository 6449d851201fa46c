//! Password hashing with argon2id, always off the async workers and with bounded concurrency:
//! a login storm must not starve token validation or MCP calls.
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(2))
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
