//! OAuth: client registration (`registration`: pre-registered, RFC 7591 DCR, CIMD documents;
//! `cimd`: the document checks), the main authorization-code flow with PKCE and `resource`
//! (`authorize`), and the authorization-server negative matrix (`negatives`).
//!
//! The authorization and token clients themselves are shared plumbing in `flow::common`.

mod authorize;
mod cimd;
mod negatives;
mod registration;
