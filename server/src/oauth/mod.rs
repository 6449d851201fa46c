//! OAuth 2.1 authorization server. (Being built; see ARCHITECTURE.md.)
use crate::{AppState, Config};
use axum::Router;

pub struct OAuthState {}

impl OAuthState {
    pub fn new(_config: &Config) -> Self {
        Self {}
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
