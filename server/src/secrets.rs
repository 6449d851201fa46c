//! Secrets: generation, hashing at rest (SHA-256) and constant-time comparison.
//!
//! Every bearer secret we mint (access and refresh tokens, authorization codes, client secrets,
//! CSRF and session ids) is random, prefixed by its kind so leaks are recognisable, and only its
//! SHA-256 is stored. Passwords are different: they are low-entropy and use argon2id (`password`).
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefixes make a leaked secret's kind obvious (and scannable) without revealing anything.
pub const ACCESS_TOKEN_PREFIX: &str = "gmcp_at_";
pub const REFRESH_TOKEN_PREFIX: &str = "gmcp_rt_";
pub const AUTH_CODE_PREFIX: &str = "gmcp_ac_";
pub const CLIENT_SECRET_PREFIX: &str = "gmcp_cs_";

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("operating system RNG unavailable");
    buf
}

/// A URL-safe random string carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// A prefixed secret with 256 bits of entropy.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", random_token(32))
}

/// A short random identifier (128 bits, hex) for rows that are not secrets.
pub fn new_id() -> String {
    hex::encode(random_bytes(16))
}

/// SHA-256 of a secret, lower-case hex: the only form in which secrets are stored.
pub fn hash_secret(secret: &str) -> String {
    SecretHash::of(secret).as_str().to_owned()
}

/// [`hash_secret`] on the stack: what the per-request lookups (bearer token, MCP session) key
/// their caches with, allocating only when a miss stores it.
#[derive(Clone, Copy)]
pub struct SecretHash([u8; 64]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        // Into a fixed buffer: `hex::encode` pushes char by char (a visible share of a cached
        // bearer check).
        let mut out = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut out)
            .expect("a SHA-256 digest is 32 bytes, 64 hex digits");
        SecretHash(out)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_unique_and_hash_stably() {
        let a = new_secret(ACCESS_TOKEN_PREFIX);
        let b = new_secret(ACCESS_TOKEN_PREFIX);
        assert!(a.starts_with("gmcp_at_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "gmcp_at_".len() + 43);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(ct_eq(&hash_secret(&a), &hash_secret(&a)));
        assert!(!ct_eq(&hash_secret(&a), &hash_secret(&b)));
        assert!(!ct_eq("abc", "abcd"));
    }
}
