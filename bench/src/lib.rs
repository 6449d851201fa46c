//! `gigamcp-bench`: the load generator behind `cargo xtask bench` and the synthetic corpus
//! behind `cargo xtask corpus`. Like the conformance harness it treats the server as a black
//! box: it starts `gigamcp` processes and talks HTTP, and never links the server crate.
pub mod corpus;
pub mod load;
pub mod procs;
pub mod run;
