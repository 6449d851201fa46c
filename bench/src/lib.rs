//! `gigamcp-bench`: the load generator behind `cargo xtask bench` and the synthetic corpus
//! behind `cargo xtask corpus`. Like the conformance harness it treats the server as a black
//! box: it starts `gigamcp` processes and talks HTTP, and never links the server crate.
pub mod corpus;
pub mod guards;
pub mod load;
pub mod procs;
pub mod run;

/// Held by the tests that measure this process's CPU time, so they do not count each other's.
#[cfg(test)]
pub(crate) static CPU_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
