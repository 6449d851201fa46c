//! The plain pieces every phase shares, below the phases: one run's state and how checks are
//! recorded ([`run`]), the client, grant and session types ([`types`]), the JSON-RPC client
//! ([`rpc`]), the one SSE parser ([`sse`]), JSON and error-body helpers ([`json`]), the
//! authorization-code client and callback parsing ([`authz`]), the token endpoint client
//! ([`token`]), 2026-07-28 header encoding ([`headers`]), argument synthesis ([`args`]), and the
//! checks graded over the whole run ([`aggregates`]), client compatibility ([`compat`]).
//!
//! Nothing here imports a phase.

mod aggregates;
pub mod args;
pub mod authz;
mod compat;
pub mod headers;
pub mod json;
pub mod rpc;
pub mod run;
pub mod sse;
pub mod token;
pub mod types;

pub use json::{describe, json_error, strs};
pub use rpc::Rpc;
pub use run::{Run, RunResult};
pub use types::{Client, Grant, Session};
