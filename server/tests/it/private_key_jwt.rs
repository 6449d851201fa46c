//! `private_key_jwt` (RFC 7523 §2.2) for Client ID Metadata Document clients, end to end: keys
//! generated here (RSA 2048 and P-256 with aws-lc-rs), the JWKS and the metadata document served
//! by a loopback axum server, assertions built and signed by hand (the verifier's JWT library is
//! not used to make them), and every refusal: no assertion, replayed `jti`, wrong `aud`, `iss`,
//! `sub`, expired or far-future `exp`, missing `jti`, a foreign key, `alg: none`/HS256. Plus key
//! rotation (an unknown `kid` refetches once), the `max-age` cache and quirk Q14 (`none` stays
//! allowed when the document lists it).

use crate::support::oauth_client::*;
use crate::support::{ClockExt, TestApp};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gigamcp_server::config::CimdPolicy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const TOKEN_ENDPOINT: &str = "https://mcp.test/api/oauth/server/token";

/// A client signing key.
enum Key {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

impl Key {
    fn rs256() -> Self {
        Self::Rsa(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }
    fn es256() -> Self {
        Self::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }
    fn alg(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "RS256",
            Self::Ec(_) => "ES256",
        }
    }
    /// The public JWK (RFC 7517) with `kid`.
    fn jwk(&self, kid: &str) -> Value {
        match self {
            Self::Rsa(k) => {
                let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                       "n": B64.encode(&c.n), "e": B64.encode(&c.e)})
            }
            Self::Ec(k) => {
                let p = k.public_key().as_ref();
                assert_eq!(p.len(), 65, "uncompressed P-256 point");
                json!({"kty": "EC", "kid": kid, "crv": "P-256", "use": "sig",
                       "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])})
            }
        }
    }
    /// A compact JWS over `claims` with header `{alg, kid, typ}`.
    fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({"alg": self.alg(), "typ": "JWT"});
        if let Some(k) = kid {
            header["kid"] = json!(k);
        }
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Self::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
                sig
            }
            Self::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", B64.encode(sig))
    }
}

/// The loopback "client host": serves the metadata document and the JWKS, counting JWKS fetches.
#[derive(Clone)]
struct ClientHost {
    doc: Arc<Mutex<Value>>,
    jwks: Arc<Mutex<Value>>,
    jwks_cache_control: Arc<Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
    base: String,
}

impl ClientHost {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let host = Self {
            doc: Arc::new(Mutex::new(json!({}))),
            jwks: Arc::new(Mutex::new(json!({"keys": []}))),
            jwks_cache_control: Arc::new(Mutex::new("max-age=300".into())),
            jwks_fetches: Arc::new(AtomicUsize::new(0)),
            base,
        };
        async fn doc(State(h): State<ClientHost>) -> impl IntoResponse {
            let body = h.doc.lock().unwrap().to_string();
            ([(header::CONTENT_TYPE, "application/json")], body)
        }
        async fn jwks(State(h): State<ClientHost>) -> impl IntoResponse {
            h.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            let body = h.jwks.lock().unwrap().to_string();
            let cc = h.jwks_cache_control.lock().unwrap().clone();
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (header::CACHE_CONTROL, cc),
                ],
                body,
            )
        }
        let router = axum::Router::new()
            .route("/oauth/client.json", axum::routing::get(doc))
            .route("/oauth/jwks.json", axum::routing::get(jwks))
            .with_state(host.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        host
    }
    fn client_id(&self) -> String {
        format!("{}/oauth/client.json", self.base)
    }
    /// ChatGPT's document shape (spec step 4b) with `methods` and our loopback JWKS.
    fn publish(&self, methods: &[&str], keys: &[Value]) {
        *self.doc.lock().unwrap() = json!({
            "client_id": self.client_id(),
            "client_name": "ChatGPT",
            "client_uri": "https://chatgpt.com/",
            "redirect_uris": [CHATGPT_REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_methods_supported": methods,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "jwks_uri": format!("{}/oauth/jwks.json", self.base),
        });
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }
    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn setup() -> (TestApp, Browser, ClientHost) {
    let t = TestApp::with_config(|c| {
        c.cimd = CimdPolicy {
            enabled: true,
            allow_http_loopback: true,
        }
    })
    .await;
    t.seed_people().await;
    let base = t.serve().await;
    (t, Browser::new(&base), ClientHost::start().await)
}

fn claims(t: &TestApp, client_id: &str, aud: &str, jti: &str) -> Value {
    let now = t.clock.now_secs();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": jti})
}

fn with_assertion<'a>(form: &mut Vec<(&'a str, &'a str)>, assertion: &'a str) {
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    form.push(("client_assertion", assertion));
}

/// Introspection as a cheap authenticated call: 200 when the assertion authenticates the client.
async fn introspect_with(b: &Browser, client_id: &str, assertion: &str) -> Resp {
    let mut form = vec![("token", "gmcp_at_unknown"), ("client_id", client_id)];
    with_assertion(&mut form, assertion);
    b.post_form("/api/oauth/server/introspect", &form).await
}

async fn code(b: &Browser, c: &Client) -> (String, String) {
    code_for(b, c, "alice", ACME).await
}

#[tokio::test]
async fn rs256_assertions_complete_the_code_and_refresh_grants() {
    let (t, b, host) = setup().await;
    let key = Key::rs256();
    host.publish(&["private_key_jwt"], &[key.jwk("cimd-20260428030119")]);
    let id = host.client_id();
    let c = Client {
        id: id.clone(),
        secret: None,
        redirect: CHATGPT_REDIRECT.into(),
    };

    let asm = b
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(
        asm["token_endpoint_auth_methods_supported"],
        json!([
            "none",
            "client_secret_post",
            "client_secret_basic",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        asm["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );

    let (code, verifier) = code(&b, &c).await;
    // Without an assertion, a private_key_jwt-only client is refused.
    let bare = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CHATGPT_REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("resource", ACME),
        ("client_id", id.as_str()),
    ];
    let r = token(&b, &bare).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let e = error_body(&r);
    assert_eq!(e["error"], "invalid_client");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("private_key_jwt")
    );

    // ChatGPT's shape: aud = the token endpoint URL.
    let a = key.sign(
        Some("cimd-20260428030119"),
        &claims(&t, &id, TOKEN_ENDPOINT, "j-1"),
    );
    let mut form = bare.to_vec();
    with_assertion(&mut form, &a);
    let r = token(&b, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tok = r.json();
    let call = mcp_call(&b, "acme", tok["access_token"].as_str().unwrap()).await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.text);

    // Refresh with a fresh assertion whose aud is the issuer, and no client_id (RFC 7523 §3: the
    // assertion's iss names the client).
    let a2 = key.sign(
        Some("cimd-20260428030119"),
        &claims(&t, &id, "https://mcp.test", "j-2"),
    );
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", tok["refresh_token"].as_str().unwrap()),
    ];
    with_assertion(&mut form, &a2);
    let r = token(&b, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(host.fetches(), 1, "JWKS cached between the two grants");

    // The same assertion again: its jti was used.
    let r = introspect_with(&b, &id, &a2).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(
        error_body(&r)["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
}

#[tokio::test]
async fn bad_assertions_are_refused_with_the_reason() {
    let (t, b, host) = setup().await;
    let key = Key::es256();
    let other = Key::es256();
    host.publish(&["private_key_jwt"], &[key.jwk("k1")]);
    let id = host.client_id();
    // The client row exists once the document was fetched at the authorization endpoint.
    let c = Client {
        id: id.clone(),
        secret: None,
        redirect: CHATGPT_REDIRECT.into(),
    };
    code(&b, &c).await;
    let ok = introspect_with(
        &b,
        &id,
        &key.sign(Some("k1"), &claims(&t, &id, TOKEN_ENDPOINT, "fine")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json(), json!({"active": false}));

    let now = t.clock.now_secs();
    let base = claims(&t, &id, TOKEN_ENDPOINT, "x");
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let b64 = |v: &Value| B64.encode(v.to_string());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            key.sign(
                Some("k1"),
                &with("aud", json!("https://evil.example/token")),
            ),
            "aud",
        ),
        (
            "wrong iss",
            key.sign(
                Some("k1"),
                &with("iss", json!("https://evil.example/c.json")),
            ),
            "iss and sub",
        ),
        (
            "wrong sub",
            key.sign(Some("k1"), &with("sub", json!("someone"))),
            "iss and sub",
        ),
        (
            "expired",
            key.sign(Some("k1"), &with("exp", json!(now - 120))),
            "expired",
        ),
        (
            "far exp",
            key.sign(Some("k1"), &with("exp", json!(now + 3600))),
            "minutes ahead",
        ),
        (
            "future iat",
            key.sign(Some("k1"), &with("iat", json!(now + 600))),
            "not valid yet",
        ),
        ("no exp", key.sign(Some("k1"), &without("exp")), "no exp"),
        ("no jti", key.sign(Some("k1"), &without("jti")), "no jti"),
        (
            "foreign key",
            other.sign(Some("k1"), &with("jti", json!("f"))),
            "signature",
        ),
        (
            "unknown kid",
            key.sign(Some("k9"), &with("jti", json!("u"))),
            "kid \"k9\"",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none"})),
                b64(&with("jti", json!("n")))
            ),
            "",
        ),
        (
            "HS256",
            format!(
                "{}.{}.c2ln",
                b64(&json!({"alg": "HS256", "kid": "k1"})),
                b64(&with("jti", json!("h")))
            ),
            "HS256",
        ),
        ("not a JWT", "garbage".into(), "not a JWT"),
    ];
    for (name, assertion, why) in cases {
        let r = introspect_with(&b, &id, &assertion).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text);
        let e = error_body(&r);
        assert_eq!(e["error"], "invalid_client", "{name}");
        let d = e["error_description"].as_str().unwrap();
        assert!(d.contains(why), "{name}: {d}");
    }
    // A secret and an assertion at once is ambiguous.
    let a = key.sign(Some("k1"), &with("jti", json!("both")));
    let mut form = vec![
        ("token", "t"),
        ("client_id", id.as_str()),
        ("client_secret", "s"),
    ];
    with_assertion(&mut form, &a);
    let r = b.post_form("/api/oauth/server/introspect", &form).await;
    assert_eq!(error_body(&r)["error"], "invalid_request");
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_and_max_age_bounds_the_cache() {
    let (t, b, host) = setup().await;
    let old = Key::es256();
    let new = Key::rs256();
    *host.jwks_cache_control.lock().unwrap() = "public, max-age=60".into();
    host.publish(&["none", "private_key_jwt"], &[old.jwk("old")]);
    let id = host.client_id();
    let c = Client {
        id: id.clone(),
        secret: None,
        redirect: CHATGPT_REDIRECT.into(),
    };
    code(&b, &c).await;
    let auth = |k: &Key, kid: &str, jti: &str| {
        let a = k.sign(Some(kid), &claims(&t, &id, TOKEN_ENDPOINT, jti));
        let b = &b;
        let id = id.clone();
        async move { introspect_with(b, &id, &a).await.status }
    };
    assert_eq!(auth(&old, "old", "1").await, StatusCode::OK);
    assert_eq!(auth(&old, "old", "2").await, StatusCode::OK);
    assert_eq!(host.fetches(), 1, "cached");

    // The client rotates to a new key. Right after a fetch, an unknown kid does not refetch.
    host.publish(
        &["none", "private_key_jwt"],
        &[old.jwk("old"), new.jwk("new")],
    );
    assert_eq!(auth(&new, "new", "3").await, StatusCode::UNAUTHORIZED);
    assert_eq!(host.fetches(), 1, "no refetch within 10 s of the last");
    // Later (still within max-age), one refetch finds it.
    t.clock.advance(11);
    assert_eq!(auth(&new, "new", "4").await, StatusCode::OK);
    assert_eq!(host.fetches(), 2, "one refetch for the new kid");
    assert_eq!(auth(&new, "new", "5").await, StatusCode::OK);
    assert_eq!(host.fetches(), 2);
    // After max-age the set is fetched again.
    t.clock.advance(61);
    assert_eq!(auth(&old, "old", "6").await, StatusCode::OK);
    assert_eq!(host.fetches(), 3, "refetched after max-age");
}

#[tokio::test]
async fn a_document_listing_none_may_still_authenticate_as_public_client() {
    // Quirk Q14: ChatGPT's document lists ["none", "private_key_jwt"].
    let (t, b, host) = setup().await;
    let key = Key::rs256();
    host.publish(&["none", "private_key_jwt"], &[key.jwk("k")]);
    let id = host.client_id();
    let c = Client {
        id: id.clone(),
        secret: None,
        redirect: CHATGPT_REDIRECT.into(),
    };
    let (code1, verifier) = code(&b, &c).await;
    let r = exchange(&b, &c, &code1, &verifier, ACME).await;
    assert_eq!(r.status, StatusCode::OK, "public client: {}", r.text);
    assert_eq!(host.fetches(), 0, "no keys needed for none");

    // A presented assertion is still checked: a bad one fails even though none would pass.
    let (code2, verifier) = code(&b, &c).await;
    let bad = Key::rs256().sign(Some("k"), &claims(&t, &id, TOKEN_ENDPOINT, "z"));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code2.as_str()),
        ("redirect_uri", CHATGPT_REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("resource", ACME),
    ];
    with_assertion(&mut form, &bad);
    let r = token(&b, &form).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(error_body(&r)["error"], "invalid_client");
}
