//! gigamcp: a multi-workspace MCP server over Streamable HTTP with its own OAuth 2.1
//! authorization server.
//!
//! # Layout
//! - [`config`]: the public origin and every URL derived from it (issuer, MCP URLs, PRM URLs).
//! - [`clock`]: time as a dependency, so tests move it by hand.
//! - [`error`]: the one place errors become HTTP responses.
//! - [`edge`]: every request's way in: the [`edge::App`] service (the MCP lane and the router)
//!   and the edge every request passes (request id, span, metrics, log line, security headers).
//! - [`secrets`], [`names`]: ground floor: CSPRNG secrets and hashing; slug, username and scope
//!   syntax.
//! - [`store`]: persistence (SQLite by default, PostgreSQL), one module per aggregate.
//! - [`auth`]: the resource-server half of OAuth: bearer validation, PRM, passwords, PATs.
//! - [`oauth`]: the authorization server: metadata, registration, authorize, token, revoke.
//! - [`mcp`]: the MCP endpoint: transport, version negotiation, sessions, dispatch, tools.
//! - [`knowledge`]: connectors (wiki, GitHub), chunking, the search index.
//! - [`web`]: HTML pages: login, consent, connected apps, workspace dashboard, docs.
//! - [`limits`]: size limits on fields that are stored or logged.
//! - [`net`]: the client address behind trusted proxies, request ids, and which addresses
//!   outbound fetches may dial (`net::outbound`: CIMD, GitHub connector).
//! - [`ops`]: health, readiness, Prometheus metrics.
//! - [`changes`]: PostgreSQL `LISTEN`/`NOTIFY` between replicas (wakes the pollers).
//! - [`cli`]: the `gigamcp` command line (serve, admin).
//! - [`tls`]: HTTPS in the binary: certificate files reloaded in place, or ACME (TLS-ALPN-01).
//! - [`fsperm`]: the data directory and database files, readable by the service user only.
pub mod auth;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod edge;
pub mod error;
pub mod fsperm;
pub mod knowledge;
pub mod limits;
pub mod mcp;
pub mod names;
pub mod net;
pub mod oauth;
pub mod ops;
pub mod secrets;
pub mod state;
pub mod store;
pub mod tls;
pub mod web;

use std::sync::Arc;

pub use config::{Config, KnowledgeIndex};
pub use edge::router;
pub use state::AppState;
pub use store::Store;

impl AppState {
    /// Builds the state: loads the knowledge index from the store.
    pub async fn new(
        config: Config,
        store: Store,
        clock: clock::SharedClock,
    ) -> anyhow::Result<Self> {
        let epoch = store.auth_epoch().await?;
        let sessions =
            mcp::session::SessionStore::new(store.clone(), store.last_session_end().await?);
        let knowledge = knowledge::KnowledgeBase::open(&config, &store).await?;
        Ok(Self::from_parts(state::Parts {
            tokens: Arc::new(auth::validator::TokenValidator::new(
                config.token_cache_ttl,
                epoch,
            )),
            knowledge: Arc::new(knowledge),
            mcp: Arc::new(mcp::state::McpState::new(
                mcp::dispatch::tool_list_results(),
                sessions,
            )),
            oauth: Arc::new(oauth::state::OAuthState::new(&config)),
            ops: Arc::new(ops::state::OpsState::default()),
            config: Arc::new(config),
            store,
            clock,
        }))
    }

    /// Starts background tasks (revocation epoch poller, knowledge refresher, retention). Call
    /// once per process.
    pub fn spawn_background(&self) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.spawn_checkpointer().await {
                tracing::warn!(error = %e, "starting the WAL checkpointer; SQLite checkpoints on commit");
            }
        });
        auth::bearer::spawn_epoch_poller(self.clone());
        changes::spawn_listener(self);
        let clock = self.clock.clone();
        tokio::spawn(mcp::session::SessionStore::follow(
            Arc::downgrade(&self.mcp.sessions),
            std::time::Duration::from_millis(self.config.auth_epoch_poll_ms.max(50)),
            move || clock.now(),
        ));
        oauth::audit::spawn_pruner(self.clone());
        self.knowledge.spawn_refresher();
    }
}

/// The whole HTTP surface: the single seam tests and `serve` use (see [`edge`]).
pub fn app(state: AppState) -> edge::App {
    edge::App::new(state)
}
