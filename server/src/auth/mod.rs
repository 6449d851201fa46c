//! The resource-server half of OAuth (RFC 6750, RFC 9728, RFC 8707) and shared secret handling.
//!
//! `bearer` validates access tokens for the MCP endpoint (cache in front of the store, audience and
//! membership checks, challenges); `prm` serves Protected Resource Metadata; `secrets` and
//! `password` are the only places secrets are generated, hashed or compared.
pub mod bearer;
pub mod password;
pub mod pat;
pub mod prm;
pub mod secrets;

pub use bearer::{Principal, TokenValidator, authenticate};
