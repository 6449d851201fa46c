//! The MCP endpoint `/t/{slug}/mcp`: Streamable HTTP for protocol revisions 2025-03-26,
//! 2025-06-18 and 2025-11-25 (negotiated by `initialize`, optional sessions) and 2026-07-28
//! (stateless, per-request `_meta`), all on one URL.
//!
//! # Layout
//! - [`transport`]: HTTP: origin, workspace and bearer admission, media types, body limit, era
//!   selection, sessions, SSE, batches. The only module that knows about axum requests.
//! - [`version`]: revisions, feature predicates, 2026-07-28 header validation.
//! - [`jsonrpc`]: message classification, error codes, response objects.
//! - [`session`]: in-memory legacy sessions bound to (workspace, user).
//! - [`dispatch`]: method → handler, revision-specific result envelopes.
//! - [`tools`]: one file per tool; [`resources`]: documents as resources.
//!
//! Invariants: the endpoint writes nothing to the database (only `auth::authenticate` may touch
//! a grant's last-used time); tools and resources pass the workspace slug to `knowledge`, which
//! filters by it; tool lists are computed once per revision.
pub mod context;
pub mod dispatch;
pub mod jsonrpc;
pub mod resources;
pub mod session;
pub mod state;
pub mod tools;
pub mod transport;
pub mod version;

use crate::state::AppState;
use axum::Router;
use axum::routing::{any, post};

pub use state::{McpState, Workspace};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/mcp",
            post(transport::post)
                .get(transport::get)
                .delete(transport::delete)
                .fallback(transport::other_method),
        )
        .route("/t/{slug}/mcp/", any(transport::trailing_slash))
}
