//! The server's integration tests: one binary (one link), one module per part of the code map
//! (see ARCHITECTURE.md). Every test drives the real router or the real `gigamcp` binary on a
//! real database: SQLite in a temporary directory, or PostgreSQL when
//! `GIGAMCP_TEST_POSTGRES_URL` names a server (`cargo xtask test` runs this target on both).
//!
//! - `clients`: popular MCP clients' registrations, native-app redirects, consent wording.
//! - `mcp`: the MCP endpoint `/t/{slug}/mcp`, schema-checked per protocol revision.
//! - `mcp_properties`: proptest robustness of the MCP endpoint.
//! - `oauth`: the authorization server end to end over a real socket.
//! - `oauth_cimd`: Client ID Metadata Documents.
//! - `private_key_jwt`: RFC 7523 client assertions of metadata-document clients.
//! - `resource_server`: RFC 9728 metadata, RFC 6750 challenges, RFC 8707 audience binding.
//! - `knowledge`: ingestion, search, isolation and the GitHub connector.
//! - `cli`: the real binary (`serve --demo`, admin commands).
//! - `replicas`: several real binaries on one database, started at the same moment.
//! - `hardening`: issue 8 regressions (throttling, redirects, limits, introspection, CIMD, kill -9).
//! - `browser_pages`: our HTML pages in a real Chromium (sign-in, consent, picker, revoke).
//! - `shared_sessions`: two replicas on one database: sessions, DELETE, the per-user cap,
//!   revocation latency (issue 9).
//! - `scale`: a generated corpus: needles at rank 1, the index on disk, incremental updates.
//! - `ops`: the real binary behind nginx (trusted proxies), request ids and JSON logs,
//!   `/readyz` across a PostgreSQL restart, `/metrics` across a full OAuth flow.
//! - `support`: the shared test application, database and builders.

mod browser_pages;
mod cli;
mod clients;
mod deploy;
mod hardening;
mod knowledge;
mod mcp;
mod mcp_properties;
mod oauth;
mod oauth_cimd;
mod ops;
mod private_key_jwt;
mod replicas;
mod resource_server;
mod scale;
mod shared_sessions;
mod support;
