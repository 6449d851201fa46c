//! The one place errors become HTTP responses.
//!
//! OAuth errors carry their RFC error code and render as RFC 6749 §5.2 JSON; bearer failures
//! render as RFC 6750 §3 challenges; JSON-RPC transport failures render as a JSON-RPC error body
//! with the HTTP status the MCP transport prescribes. Internal errors are logged and hidden.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An RFC 6749 / 7591 / 7009 / 8707 error: `error` code plus description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub status: StatusCode,
    /// `invalid_client` for a client that tried HTTP Basic gets a Basic challenge (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// Seconds a rate-limited client should wait: a `Retry-After` header (RFC 9110 §10.2.3).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = match code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "access_denied" => StatusCode::FORBIDDEN,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" | "slow_down" => StatusCode::SERVICE_UNAVAILABLE,
            "not_found" => StatusCode::NOT_FOUND,
            "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
            "too_many_requests" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            code,
            description: description.into(),
            status,
            basic_challenge: false,
            retry_after: None,
        }
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    pub fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new("not_found", d)
    }
}

/// An RFC 6750 §3 bearer challenge.
#[derive(Debug, Clone)]
pub struct BearerChallenge {
    pub status: StatusCode,
    pub resource_metadata: String,
    /// `None` when the request carried no credentials (RFC 6750 §3.1: no error code then).
    pub error: Option<&'static str>,
    pub description: Option<String>,
    pub scope: String,
}

impl BearerChallenge {
    pub fn header_value(&self) -> String {
        let mut v = format!("Bearer resource_metadata=\"{}\"", self.resource_metadata);
        if let Some(e) = self.error {
            v.push_str(&format!(", error=\"{e}\""));
        }
        if let Some(d) = &self.description {
            v.push_str(&format!(
                ", error_description=\"{}\"",
                d.replace(['"', '\\'], "'")
            ));
        }
        v.push_str(&format!(", scope=\"{}\"", self.scope));
        v
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("oauth error {}: {}", .0.code, .0.description)]
    OAuth(OAuthError),
    #[error("bearer challenge")]
    Bearer(BearerChallenge),
    /// A transport-level JSON-RPC failure: HTTP status plus a JSON-RPC error object (id null).
    #[error("json-rpc transport error {code}: {message}")]
    JsonRpc {
        status: StatusCode,
        code: i64,
        message: String,
        data: Option<serde_json::Value>,
        /// The request's id when it could be read; omitted from the body otherwise.
        id: Option<serde_json::Value>,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<OAuthError> for AppError {
    fn from(e: OAuthError) -> Self {
        AppError::OAuth(e)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn jsonrpc(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        AppError::JsonRpc {
            status,
            code,
            message: message.into(),
            data: None,
            id: None,
        }
    }
}

fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl AppError {
    /// Attaches the id of the JSON-RPC request a transport error answers, once it is known.
    pub fn with_request_id(self, request_id: Option<serde_json::Value>) -> Self {
        match self {
            AppError::JsonRpc {
                status,
                code,
                message,
                data,
                ..
            } => AppError::JsonRpc {
                status,
                code,
                message,
                data,
                id: request_id,
            },
            other => other,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::OAuth(e) => {
                let mut body = json!({ "error": e.code });
                if !e.description.is_empty() {
                    body["error_description"] = json!(e.description);
                }
                let mut resp = (e.status, axum::Json(body)).into_response();
                no_store(&mut resp);
                if e.basic_challenge {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"gigamcp\""),
                    );
                }
                if let Some(secs) = e.retry_after {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                resp
            }
            AppError::Bearer(c) => {
                let body = json!({
                    "error": c.error.unwrap_or("invalid_token"),
                    "error_description": c.description.clone().unwrap_or_else(|| "authentication required".into()),
                });
                let mut resp = (c.status, axum::Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&c.header_value()) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                no_store(&mut resp);
                resp
            }
            AppError::JsonRpc {
                status,
                code,
                message,
                data,
                id,
            } => {
                let mut error = json!({ "code": code, "message": message });
                if let Some(d) = data {
                    error["data"] = d;
                }
                // Without a readable request id, `id` is omitted: JSON-RPC 2.0 would send null, but
                // no MCP schema accepts a null id and ≥ 2025-11-25 makes `id` optional.
                let mut body = json!({ "jsonrpc": "2.0", "error": error });
                if let Some(id) = id {
                    body["id"] = id;
                }
                (status, axum::Json(body)).into_response()
            }
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                let body =
                    json!({ "error": "server_error", "error_description": "internal error" });
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
