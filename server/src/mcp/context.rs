//! What every MCP method handler receives: the caller, the workspace, the revision, the session.
use super::jsonrpc::RpcError;
use super::session::Session;
use super::state::Workspace;
use super::version::Version;
use crate::auth::validator::Principal;
use crate::state::AppState;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Everything a method needs: who asks, where, under which revision. Owned so a request can run
/// on its own task (SSE responses).
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    pub principal: Principal,
    pub workspace: Arc<Workspace>,
    pub version: Version,
    pub session: Option<Arc<Session>>,
}

/// Rejects a pagination cursor on lists that never hand one out.
pub fn reject_cursor(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(RpcError::invalid_params(
            "invalid cursor: this list has a single page",
        )),
    }
}
