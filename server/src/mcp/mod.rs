//! MCP endpoint `/t/{slug}/mcp` over Streamable HTTP. (Being built; see ARCHITECTURE.md.)
use crate::{AppState, Config};
use axum::Router;

pub struct McpState {}

impl McpState {
    pub fn new(_config: &Config) -> Self {
        Self {}
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
