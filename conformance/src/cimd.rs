//! Client ID Metadata Documents served by the harness itself (`--registration cimd` without
//! `--cimd-url`): a tiny HTTP/1.1 listener on 127.0.0.1 that answers `GET <path>` with a fixed
//! JSON document. Only a target on the same machine can fetch it, and only if it allows loopback
//! metadata URLs (production servers refuse them as SSRF).

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Paths of the documents the harness serves.
pub const MAIN_PATH: &str = "/oauth/client.json";
/// A document whose `client_id` is [`MAIN_PATH`]'s URL, not its own.
pub const MISMATCH_PATH: &str = "/mismatch/client.json";
/// Singular `private_key_jwt`, plural list with `none` (quirk Q14).
pub const PLURAL_PATH: &str = "/plural/client.json";
/// The harness's JWK Set (`private_key_jwt`), the documents' `jwks_uri`.
pub const JWKS_PATH: &str = "/oauth/jwks.json";

/// A running document server; stops when dropped.
pub struct DocServer {
    pub origin: String,
    /// The paths requested so far (to tell "the target refused the document" from "the target
    /// never fetched it").
    fetched: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DocServer {
    /// Binds 127.0.0.1 on a free port; `docs(origin)` builds the path → document map.
    pub async fn start(
        docs: impl FnOnce(&str) -> HashMap<String, Value>,
    ) -> std::io::Result<DocServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let docs = Arc::new(docs(&origin));
        let fetched = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = fetched.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let docs = docs.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16_384 {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    let mut parts = head.split_whitespace();
                    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let path = target.split('?').next().unwrap_or("");
                    if let Ok(mut s) = seen.lock() {
                        s.push(path.to_string());
                    }
                    let (status, body) = match docs.get(path) {
                        Some(d) if method == "GET" || method == "HEAD" => ("200 OK", d.to_string()),
                        _ => ("404 Not Found", r#"{"error":"not_found"}"#.to_string()),
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nCache-Control: max-age=60\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        body.len(),
                        if method == "HEAD" { "" } else { body.as_str() }
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Ok(DocServer {
            origin,
            fetched,
            task,
        })
    }

    /// Has anyone requested `path`?
    pub fn was_fetched(&self, path: &str) -> bool {
        self.fetched
            .lock()
            .map(|s| s.iter().any(|p| p == path))
            .unwrap_or(false)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

/// The three documents for `profile`: its own (main), a mismatched one, and the Q14 shape; with
/// `jwks` (the harness's public keys) also the JWK Set, which every document's `jwks_uri` names.
pub fn documents(
    profile: &crate::profile::Profile,
    origin: &str,
    redirect_uris: &[String],
    jwks: Option<&Value>,
) -> HashMap<String, Value> {
    let main = format!("{origin}{MAIN_PATH}");
    let doc = |id: &str| {
        let mut d = profile.cimd_document(id, redirect_uris);
        if jwks.is_some() && d.get("jwks_uri").is_some() {
            d["jwks_uri"] = Value::String(format!("{origin}{JWKS_PATH}"));
        }
        d
    };
    let mut mismatch = doc(&main);
    mismatch["client_id"] = Value::String(main.clone());
    let mut plural = doc(&format!("{origin}{PLURAL_PATH}"));
    plural["token_endpoint_auth_method"] = "private_key_jwt".into();
    plural["token_endpoint_auth_methods_supported"] =
        serde_json::json!(["none", "private_key_jwt"]);
    let mut docs = HashMap::from([
        (MAIN_PATH.to_string(), doc(&main)),
        (MISMATCH_PATH.to_string(), mismatch),
        (PLURAL_PATH.to_string(), plural),
    ]);
    if let Some(j) = jwks {
        docs.insert(JWKS_PATH.to_string(), j.clone());
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_documents_over_loopback() {
        let s = DocServer::start(|o| {
            documents(
                &crate::profile::CHATGPT,
                o,
                &["https://chatgpt.com/cb".into()],
                Some(&serde_json::json!({"keys": []})),
            )
        })
        .await
        .unwrap();
        let c = reqwest::Client::new();
        let get = |path: &str| {
            let req = c.get(s.url(path));
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        assert!(!s.was_fetched(MAIN_PATH));
        let main = get(MAIN_PATH).await;
        assert!(s.was_fetched(MAIN_PATH));
        assert_eq!(main["client_id"], s.url(MAIN_PATH));
        let mm = get(MISMATCH_PATH).await;
        assert_eq!(mm["client_id"], s.url(MAIN_PATH));
        let p = get(PLURAL_PATH).await;
        assert_eq!(p["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(p["client_id"], s.url(PLURAL_PATH));
        assert_eq!(main["jwks_uri"], s.url(JWKS_PATH));
        assert_eq!(get(JWKS_PATH).await, serde_json::json!({"keys": []}));
        let r = c.get(s.url("/nope")).send().await.unwrap();
        assert_eq!(r.status(), 404);
    }
}
