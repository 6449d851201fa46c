//! Shapes of the transport's answers: JSON-RPC transport errors, JSON bodies, 202, 405, and the
//! headers every SSE response carries.
use crate::error::AppError;
use crate::mcp::jsonrpc::INVALID_REQUEST;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub(super) type Result<T, E = AppError> = std::result::Result<T, E>;

pub(super) fn rpc_error(status: StatusCode, code: i64, message: impl Into<String>) -> AppError {
    AppError::jsonrpc(status, code, message)
}

pub(super) fn with_header(mut resp: Response, name: HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// 405 with the methods that do work here.
pub(super) fn method_not_allowed(allow: &str, why: &str) -> Response {
    let resp = rpc_error(StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST, why).into_response();
    with_header(resp, header::ALLOW, allow)
}

/// A JSON-RPC response body with the given status.
pub(super) fn json_reply(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A JSON-RPC response already serialized (`jsonrpc::result_response_text`), as [`json_reply`]
/// would send it.
pub(super) fn json_text_reply(status: StatusCode, body: String) -> Response {
    let mut resp = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 202 Accepted, empty body (TRN-POST-02).
pub(super) fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub(super) fn sse_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    resp
}
