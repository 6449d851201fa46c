//! `private_key_jwt` client authentication (RFC 7523 §2.2) as ChatGPT uses it for its Client ID
//! Metadata Document: the harness holds an RSA key (RS256, ChatGPT's `token_endpoint_auth_signing_alg`),
//! publishes its public half as a JWK Set next to the documents it serves, and signs a fresh
//! assertion for every token, revocation and introspection request: `iss` = `sub` = the client
//! id, `aud` = the token endpoint URL (what ChatGPT sends), `iat`, `exp` = +60 s, random `jti`.
//!
//! Signing is done here with aws-lc-rs directly, not with the JWT library the reference server
//! verifies with: the harness must not share the server's code (or its bugs).
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The harness's client signing key.
pub struct ClientKey {
    key: KeyPair,
    pub kid: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey").field("kid", &self.kid).finish()
    }
}

impl ClientKey {
    /// A fresh RSA 2048 key with a `kid` in ChatGPT's shape (`cimd-<timestamp>`).
    pub fn generate() -> Result<Self, String> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "could not generate an RSA key".to_string())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Self {
            key,
            kid: format!("gigamcp-conformance-{now}"),
        })
    }

    /// The public JWK Set (RFC 7517 §5) to serve at the document's `jwks_uri`.
    pub fn jwks(&self) -> Value {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.key.public_key());
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": B64.encode(&c.n), "e": B64.encode(&c.e)
        }]})
    }

    /// A client assertion for `client_id` with audience `aud` (RFC 7523 §3).
    pub fn assertion(&self, client_id: &str, aud: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": aud,
            "iat": now, "exp": now + 60, "jti": crate::pkce::opaque(16)
        });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        // Signing with a valid in-memory key cannot fail short of memory exhaustion.
        let _ = self.key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        );
        format!("{input}.{}", B64.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_verify_with_the_published_key() {
        let k = ClientKey::generate().unwrap();
        let jwks = k.jwks();
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kid"], k.kid);
        let a = k.assertion("https://c.example/client.json", "https://as.example/token");
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "https://c.example/client.json");
        assert_eq!(claims["sub"], claims["iss"]);
        assert_eq!(claims["aud"], "https://as.example/token");
        let n = B64.decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = B64.decode(jwk["e"].as_str().unwrap()).unwrap();
        let public = aws_lc_rs::signature::RsaPublicKeyComponents { n, e };
        let sig = B64.decode(parts[2]).unwrap();
        public
            .verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &sig,
            )
            .unwrap();
        assert_ne!(
            claims["jti"],
            serde_json::from_slice::<Value>(
                &B64.decode(k.assertion("x", "y").split('.').nth(1).unwrap())
                    .unwrap()
            )
            .unwrap()["jti"]
        );
    }
}
