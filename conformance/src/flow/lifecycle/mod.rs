//! Token lifecycle: refresh (`refresh`: rotation, race, replay, resource), revocation
//! (`revocation`, RFC 7009, with the time until the MCP endpoint rejects the token), and expiry
//! (`expiry`).

mod expiry;
mod refresh;
mod revocation;
