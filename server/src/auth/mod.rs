//! The resource-server half of OAuth (RFC 6750, RFC 9728, RFC 8707) and shared secret handling.
//!
//! `bearer` validates access tokens for the MCP endpoint (cache in front of the store, audience and
//! membership checks, challenges); `prm` serves Protected Resource Metadata; `password` hashes
//! passwords (argon2id). Secret generation and hashing live on the ground floor, in
//! [`crate::secrets`].
pub mod bearer;
pub mod password;
pub mod pat;
pub mod prm;
pub mod validator;

pub use bearer::authenticate;
pub use validator::{Principal, TokenValidator};
