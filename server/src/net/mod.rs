//! Who is asking, and which request this is: the client address behind trusted proxies
//! ([`client_addr`]) and request ids ([`request_id`]).
//!
//! The edge (`edge.rs`) calls [`begin`] first: it decides both once per request and stores the
//! address as a request extension ([`ClientAddr`]); on the MCP lane, whose handler needs no
//! address, only the id ([`request_id_for`]). The request then runs inside a
//! `request` tracing span carrying the id (so every log line of the request has it), and
//! [`finish`] sets `X-Request-Id` on the response. Handlers read the address with the
//! [`ClientIp`] extractor.
pub mod client_addr;
pub mod outbound;
pub mod request_id;

pub use client_addr::{ProxyHeader, TrustedProxies};

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The client's address as decided by [`begin`] (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The caller's address for throttling and the audit log: the client behind trusted proxies,
/// else the TCP peer; `None` when the server runs without connect info (in-process tests).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let addr = parts
            .extensions
            .get::<ClientAddr>()
            .map(|c| c.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip().to_canonical())
            });
        Ok(ClientIp(addr.map(|a| a.to_string())))
    }
}

/// Client address and request id, decided once per request: the address stored as a request
/// extension, the id returned for the `request` span and [`finish`]. Called by the edge
/// middleware of the router (`edge::layer`), outermost.
pub fn begin(state: &AppState, req: &mut Request) -> HeaderValue {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let id = request_id_for(state, peer, req.headers());
    if let Some(peer) = peer {
        let client = state
            .config
            .trusted_proxies
            .client_addr(peer, req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    id
}

/// The request's id: the one a trusted proxy sent (when acceptable), else a new one.
pub fn request_id_for(state: &AppState, peer: Option<IpAddr>, headers: &HeaderMap) -> HeaderValue {
    let from_proxy = peer.is_some_and(|p| state.config.trusted_proxies.contains(p));
    from_proxy
        .then(|| {
            headers
                .get(&request_id::HEADER)
                .filter(|v| v.to_str().is_ok_and(request_id::acceptable))
                .cloned()
        })
        .flatten()
        .unwrap_or_else(request_id::generate)
}

/// `X-Request-Id` on the response.
pub fn finish(resp: &mut Response, id: HeaderValue) {
    resp.headers_mut().insert(request_id::HEADER, id);
}
