//! PKCE (RFC 7636) and the random values a client mints: verifiers, `state`, callback ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("OS randomness");
    b
}

/// A 43-character code verifier (32 random bytes, base64url) — RFC 7636 §4.1.
pub fn verifier() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// `BASE64URL(SHA256(verifier))` — RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `oauth_s_` + 32 hex, the shape ChatGPT uses.
pub fn chatgpt_state() -> String {
    format!("oauth_s_{}", hex::encode(random_bytes(16)))
}

/// An opaque base64url id of `n` bytes.
pub fn opaque(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn shapes() {
        let v = verifier();
        assert_eq!(v.len(), 43);
        let s = chatgpt_state();
        assert!(
            s.starts_with("oauth_s_")
                && s.len() == 40
                && s[8..].chars().all(|c| c.is_ascii_hexdigit())
        );
        assert_ne!(verifier(), verifier());
    }
}
