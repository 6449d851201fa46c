//! The one place errors become HTTP responses.
//!
//! OAuth errors carry their RFC error code and render as RFC 6749 §5.2 JSON; bearer failures
//! render as RFC 6750 §3 challenges (status from the error code, §3.1); JSON-RPC transport
//! failures render as a JSON-RPC error body with the HTTP status the MCP transport prescribes;
//! a plain-text rejection from below the handlers (extractor, body limit) becomes an OAuth-shaped
//! JSON error with its status kept ([`OAuthError::from_rejection`]). Internal errors are logged
//! and hidden. HTML pages render their own error pages (`web::message`), with the status of a
//! [`PageError`] mapped here.
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

    /// The JSON error for an error response produced below the handlers as plain text (an
    /// extractor's rejection, the body limit's 413): the status is kept, the code named after it,
    /// the text (if any) kept as the description; a server error's text is never shown.
    pub fn from_rejection(status: StatusCode, text: &str) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::NOT_FOUND => "not_found",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request",
        };
        let text = text.trim();
        let description = if text.is_empty() || status.is_server_error() {
            status.canonical_reason().unwrap_or("error")
        } else {
            text
        };
        Self::new(code, description).with_status(status)
    }
}

/// An RFC 6750 §3 bearer challenge. Its status follows from its error code ([`Self::status`]).
#[derive(Debug, Clone)]
pub struct BearerChallenge {
    pub resource_metadata: String,
    /// `None` when the request carried no credentials (RFC 6750 §3.1: no error code then).
    pub error: Option<&'static str>,
    pub description: Option<String>,
    pub scope: String,
}

impl BearerChallenge {
    /// RFC 6750 §3.1: no credentials and `invalid_token` are 401, `invalid_request` 400,
    /// `insufficient_scope` 403.
    pub fn status(&self) -> StatusCode {
        match self.error {
            None | Some("invalid_token") => StatusCode::UNAUTHORIZED,
            Some("insufficient_scope") => StatusCode::FORBIDDEN,
            Some(_) => StatusCode::BAD_REQUEST,
        }
    }

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

/// `Cache-Control: no-store` (and `Pragma: no-cache` for HTTP/1.0 caches) on a response that
/// carries credentials or an OAuth error (RFC 6749 §5.1).
pub fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Why an HTML page refuses a request. The page itself is HTML (`web::message`, the sign-in
/// form); the status it answers with is mapped here, with every other error's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// A malformed request or an incomplete form: 400.
    BadRequest,
    /// Wrong username or password: 401.
    BadCredentials,
    /// An expired or forged form (CSRF), a workspace the user does not belong to: 403.
    Forbidden,
    /// No such page, or one the user may not know exists: 404.
    NotFound,
    /// Too many sign-in attempts: 429.
    Throttled,
}

impl PageError {
    pub fn status(self) -> StatusCode {
        match self {
            PageError::BadRequest => StatusCode::BAD_REQUEST,
            PageError::BadCredentials => StatusCode::UNAUTHORIZED,
            PageError::Forbidden => StatusCode::FORBIDDEN,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Throttled => StatusCode::TOO_MANY_REQUESTS,
        }
    }
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
                let mut resp = no_store((e.status, axum::Json(body)).into_response());
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
                let mut resp = (c.status(), axum::Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&c.header_value()) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                no_store(resp)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_keeps_its_status_and_hides_server_error_text() {
        let e = OAuthError::from_rejection(StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded");
        assert_eq!(
            (e.code, e.status, e.description.as_str()),
            (
                "request_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "length limit exceeded"
            )
        );
        let e = OAuthError::from_rejection(StatusCode::UNSUPPORTED_MEDIA_TYPE, "  \n");
        assert_eq!(
            (e.code, e.status, e.description.as_str()),
            (
                "invalid_request",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type"
            )
        );
        let e = OAuthError::from_rejection(StatusCode::BAD_GATEWAY, "upstream db at 10.0.0.7");
        assert_eq!(
            (e.code, e.status, e.description.as_str()),
            ("server_error", StatusCode::BAD_GATEWAY, "Bad Gateway")
        );
        let resp = AppError::from(e).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn bearer_status_follows_the_rfc_6750_error_code() {
        let c = |error| BearerChallenge {
            resource_metadata: "https://h/.well-known/oauth-protected-resource/t/a/mcp".into(),
            error,
            description: None,
            scope: "mcp:read".into(),
        };
        assert_eq!(c(None).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(c(Some("invalid_token")).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(c(Some("invalid_request")).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            c(Some("insufficient_scope")).status(),
            StatusCode::FORBIDDEN
        );
        let resp = AppError::Bearer(c(Some("insufficient_scope"))).into_response();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(
            resp.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("error=\"insufficient_scope\"")
        );
    }
}
