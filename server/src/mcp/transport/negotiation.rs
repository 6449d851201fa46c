//! Header and body rules shared by POST, GET and DELETE: single-valued headers, the
//! `MCP-Protocol-Version` header, Accept negotiation, the JSON content type and the body limit.
use super::reply::{Result, rpc_error};
use crate::error::AppError;
use crate::mcp::jsonrpc::{INVALID_REQUEST, RpcError, UNSUPPORTED_PROTOCOL_VERSION};
use crate::mcp::version::Version;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use futures::StreamExt;
use serde_json::json;

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// The same names, parsed once: a `HeaderMap` lookup by `&str` parses the name every time.
pub(super) static SESSION_NAME: HeaderName = HeaderName::from_static(SESSION_HEADER);
pub(super) static VERSION_NAME: HeaderName = HeaderName::from_static(VERSION_HEADER);

pub(super) fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>> {
    let mut it = headers.get_all(name).iter();
    let Some(v) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!("more than one {name} header"),
        ));
    }
    v.to_str().map(|s| Some(s.trim())).map_err(|_| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!("invalid {name} header"),
        )
    })
}

pub(super) fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .with_data(json!({ "supported": Version::supported_strings(), "requested": requested }))
}

/// TRN-VER-02: a header naming no supported revision is a 400.
pub(super) fn header_version(headers: &HeaderMap) -> Result<Option<Version>> {
    match single_header(headers, &VERSION_NAME)? {
        None => Ok(None),
        Some(v) => match Version::parse(v) {
            Some(ver) => Ok(Some(ver)),
            None => {
                let e = unsupported_version(v);
                Err(AppError::JsonRpc {
                    status: StatusCode::BAD_REQUEST,
                    code: e.code,
                    message: e.message,
                    data: e.data,
                    id: None,
                })
            }
        },
    }
}

/// Accept negotiation: which response media types the client takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Accepts {
    pub(super) json: bool,
    pub(super) sse: bool,
}

pub(super) fn accepts(headers: &HeaderMap) -> Accepts {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    let mut a = Accepts {
        json: false,
        sse: false,
    };
    for v in values {
        let Ok(v) = v.to_str() else { continue };
        for range in v.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            if q_zero {
                continue;
            }
            // Compared without case and without a lower-cased copy.
            let is = |m: &str| media.eq_ignore_ascii_case(m);
            if media == "*/*" {
                a.json = true;
                a.sse = true;
            } else if is("application/*") || is("application/json") {
                a.json = true;
            } else if is("text/*") || is("text/event-stream") {
                a.sse = true;
            }
        }
    }
    a
}

pub(super) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            !k.trim().eq_ignore_ascii_case("charset")
                || val.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
}

pub(super) async fn read_body(body: Body, limit: usize, headers: &HeaderMap) -> Result<Bytes> {
    let too_large = || {
        rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            format!("request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "could not read the request body",
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn accept_negotiation() {
        // (Accept header, or none; JSON acceptable; SSE acceptable)
        let cases = [
            (None, true, true),
            (Some("application/json, text/event-stream"), true, true),
            (Some("text/event-stream"), false, true),
            (Some("application/json;q=0.9"), true, false),
            (Some("application/json;q=0, text/html"), false, false),
            (Some("*/*"), true, true),
            (Some("text/html"), false, false),
            // Media types are matched without regard to case (RFC 9110 §8.3.1).
            (Some("Application/JSON, TEXT/Event-Stream;q=0"), true, false),
            (Some("Text/*"), false, true),
        ];
        for (accept, json, sse) in cases {
            let headers = h(&accept
                .map(|a| ("accept", a))
                .into_iter()
                .collect::<Vec<_>>());
            assert_eq!(accepts(&headers), Accepts { json, sse }, "{accept:?}");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type(&h(&[(
            "content-type",
            "application/json"
        )])));
        assert!(is_json_content_type(&h(&[(
            "content-type",
            "Application/JSON; charset=UTF-8"
        )])));
        assert!(!is_json_content_type(&h(&[(
            "content-type",
            "application/json; charset=latin1"
        )])));
        assert!(!is_json_content_type(&h(&[("content-type", "text/plain")])));
        assert!(!is_json_content_type(&h(&[(
            "content-type",
            "application/jsonx"
        )])));
        assert!(!is_json_content_type(&h(&[])));
    }
}
