//! OAuth 2.1 authorization server: discovery (RFC 8414), dynamic client registration (RFC 7591),
//! authorization code with PKCE and RFC 8707 resources, refresh-token rotation, revocation
//! (RFC 7009) and introspection (RFC 7662).
//!
//! One file per flow, fosite-style: `metadata`, `register`, `authorize`, `token` (authorization
//! code), `refresh`, `revoke`, `introspect`, with small helpers (`pkce`, `redirect`, `scopes`,
//! `client_auth`, `login`, `audit`).
//!
//! **Architecture invariant:** only `http.rs` imports axum. Every flow takes a [`Ctx`] (store,
//! config, token cache, the current time from the clock) and returns an outcome or an
//! [`OAuthError`](crate::error::OAuthError); `error.rs` alone turns those into HTTP.
pub mod audit;
pub mod authorize;
pub mod cimd;
pub mod client_assertion;
pub mod client_auth;
pub mod client_keys;
mod code;
pub mod context;
pub mod grant;
pub mod http;
pub mod introspect;
pub mod login;
pub mod metadata;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod register;
pub mod revoke;
pub mod scopes;
pub mod state;
pub mod token;
pub mod ttl_cache;

pub use context::{Ctx, Params};
pub use state::OAuthState;

/// Domain tests: authorize → consent → token → refresh without HTTP, time passed in by hand.
#[cfg(test)]
mod flow_tests {
    use super::authorize::{Decision, Prepared};
    use super::state::CimdCache;
    use super::*;
    use crate::auth::validator::TokenValidator;
    use crate::config::Config;
    use crate::store::Store;
    use crate::store::oauth::ClientRecord;

    struct World {
        store: Store,
        config: Config,
        tokens: TokenValidator,
        cimd: CimdCache,
        oauth: OAuthState,
        jwks: client_keys::JwksCache,
        _dir: tempfile::TempDir,
    }

    impl World {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::connect(&Store::sqlite_url_for(dir.path()))
                .await
                .unwrap();
            let config = Config::new("https://as.test", dir.path().to_path_buf()).unwrap();
            store.create_workspace("acme", "Acme", 0).await.unwrap();
            let u = store.create_user("alice", "x", 0).await.unwrap();
            store.add_member("acme", &u.id, "member", 0).await.unwrap();
            store
                .insert_client(&ClientRecord {
                    client_id: "c1".into(),
                    client_secret_hash: None,
                    client_name: "Test".into(),
                    kind: "dcr".into(),
                    redirect_uris: vec!["https://app.test/cb".into()],
                    token_endpoint_auth_method: "none".into(),
                    grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                    response_types: vec!["code".into()],
                    metadata: "{}".into(),
                    created_at: 0,
                    last_used_at: None,
                })
                .await
                .unwrap();
            let oauth = OAuthState::new(&config);
            Self {
                store,
                config,
                tokens: TokenValidator::new(30, 0),
                cimd: CimdCache::new(),
                oauth,
                jwks: client_keys::JwksCache::new(),
                _dir: dir,
            }
        }
        fn ctx(&self, now: i64) -> Ctx<'_> {
            Ctx {
                store: &self.store,
                config: &self.config,
                tokens: &self.tokens,
                now,
                ip: None,
                cimd: &self.cimd,
                oauth: &self.oauth,
                jwks: &self.jwks,
            }
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn authorize_consent_token_refresh_with_an_injected_clock() {
        let w = World::new().await;
        let verifier = "v".repeat(50);
        let challenge = pkce::s256(&verifier);
        let req_params = params(&[
            ("response_type", "code"),
            ("client_id", "c1"),
            ("redirect_uri", "https://app.test/cb"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", "https://as.test/t/acme/mcp"),
        ]);
        let user = w.store.user_by_username("alice").await.unwrap().unwrap();
        let issue_code = |now: i64| {
            let w = &w;
            let req_params = &req_params;
            let user = &user;
            async move {
                let ctx = w.ctx(now);
                let req = authorize::validate(&ctx, req_params).await.unwrap();
                assert!(matches!(
                    authorize::prepare(&ctx, &req, user).await.unwrap(),
                    Prepared::Consent(_) | Prepared::Redirect(_)
                ));
                let Prepared::Redirect(to) =
                    authorize::decide(&ctx, &req, user, Decision::Approve, None)
                        .await
                        .unwrap()
                else {
                    panic!("no redirect")
                };
                let url = url::Url::parse(&to).unwrap();
                let q: std::collections::HashMap<String, String> =
                    url.query_pairs().into_owned().collect();
                assert_eq!(q["iss"], "https://as.test");
                assert_eq!(q["state"], "xyz");
                q["code"].clone()
            }
        };
        let exchange = |code: String| {
            params(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("client_id", "c1"),
                ("redirect_uri", "https://app.test/cb"),
            ])
        };

        // A code expires after auth_code_ttl (60 s) on the injected clock.
        let code = issue_code(1000).await;
        let err = token::token(&w.ctx(1061), &exchange(code), None)
            .await
            .unwrap_err();
        assert_eq!(
            (err.code, err.description.as_str()),
            (
                "invalid_grant",
                "the authorization code expired; authorize again"
            )
        );

        // Within its lifetime it works once.
        let code = issue_code(2000).await;
        let t = token::token(&w.ctx(2059), &exchange(code.clone()), None)
            .await
            .unwrap();
        assert_eq!(t.expires_in, 3600);
        assert_eq!(
            token::token(&w.ctx(2060), &exchange(code), None)
                .await
                .unwrap_err()
                .code,
            "invalid_grant"
        );

        // Refresh: rotation, the grace window, then replay detection.
        let rt0 = t.refresh_token.unwrap();
        let refresh = |rt: &str| {
            params(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", "c1"),
            ])
        };
        let r1 = token::token(&w.ctx(3000), &refresh(&rt0), None)
            .await
            .unwrap();
        let retry = token::token(&w.ctx(3000 + w.config.refresh_grace), &refresh(&rt0), None)
            .await
            .unwrap();
        assert_eq!(retry.refresh_token, r1.refresh_token);
        assert_eq!(retry.access_token, r1.access_token);
        let late = token::token(&w.ctx(3001 + w.config.refresh_grace), &refresh(&rt0), None)
            .await
            .unwrap_err();
        assert_eq!(late.code, "invalid_grant");
        // The replay revoked the grant: the successor is dead too.
        let dead = token::token(
            &w.ctx(3100),
            &refresh(r1.refresh_token.as_deref().unwrap()),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(dead.code, "invalid_grant");
    }
}
