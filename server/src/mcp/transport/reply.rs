//! Shapes of the transport's answers: JSON-RPC transport errors, JSON bodies, 202, 405, and the
//! headers every SSE response carries.
use crate::error::AppError;
use crate::mcp::jsonrpc::{INVALID_REQUEST, ResponseText};
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde_json::Value;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

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

/// A JSON-RPC response already serialized, as [`json_reply`] would send it.
pub(super) fn json_text_reply(status: StatusCode, body: String) -> Response {
    json_body_reply(status, Body::from(body))
}

/// A JSON-RPC response in pieces (`jsonrpc::result_response_text`): sent as they are, so a
/// shared result is never copied into the response.
pub(super) fn json_pieces_reply(status: StatusCode, text: ResponseText) -> Response {
    json_body_reply(status, Body::new(Pieces::new(text.into_bytes())))
}

/// Its header map is sized for every header the response will carry (these two, the edge's
/// security headers and request id, `Content-Length`), so it is allocated once and never grown.
fn json_body_reply(status: StatusCode, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.reserve(8);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A body of a few buffers, each a frame (hyper queues them for one vectored write), with its
/// exact length known, so it is sent with `Content-Length` like a single buffer.
struct Pieces {
    bufs: [Bytes; 3],
    next: usize,
    remaining: u64,
}

impl Pieces {
    fn new(bufs: [Bytes; 3]) -> Self {
        let remaining = bufs.iter().map(|b| b.len() as u64).sum();
        Self {
            bufs,
            next: 0,
            remaining,
        }
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        while let Some(buf) = this.bufs.get_mut(this.next) {
            this.next += 1;
            if !buf.is_empty() {
                let buf = std::mem::take(buf);
                this.remaining -= buf.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(buf))));
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc::{Payload, RequestId, result_response_text};
    use http_body::Body as _;

    /// A shared result goes out as three frames, its length known before the first, and reads
    /// back as the one string it renders to.
    #[tokio::test]
    async fn a_response_in_pieces_has_its_exact_length_and_bytes() {
        let result: std::sync::Arc<str> = r#"{"content":[],"isError":false}"#.into();
        let text = || result_response_text(&RequestId::Int(42), Payload::Json(result.clone()));
        let whole = text().into_string();
        let mut body = Pieces::new(text().into_bytes());
        assert_eq!(body.size_hint().exact(), Some(whole.len() as u64));
        let mut frames = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            frames.push(frame.into_data().expect("data"));
        }
        assert_eq!(frames.len(), 3);
        assert!(body.is_end_stream());
        assert_eq!(frames.concat(), whole.as_bytes());
        // The shared text itself is in the body, not a copy of it.
        assert_eq!(frames[1].as_ptr(), result.as_ptr());

        let resp = json_pieces_reply(StatusCode::OK, text());
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
        assert_eq!(bytes.unwrap(), whole.as_bytes());
    }

    /// Pieces with nothing in them (a whole error response) are skipped, never sent as empty
    /// frames.
    #[test]
    fn empty_pieces_are_skipped() {
        let mut body = Pieces::new([Bytes::from_static(b"{}"), Bytes::new(), Bytes::new()]);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let first = Pin::new(&mut body).poll_frame(&mut cx);
        assert!(matches!(first, Poll::Ready(Some(Ok(_)))));
        assert!(body.is_end_stream());
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }
}
