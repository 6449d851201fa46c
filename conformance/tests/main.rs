//! Integration tests: one binary (one link) with submodules.
//! - `suite::falsify`: every check against a fixture that breaks exactly it, and a conforming one.
//! - `suite::runs`: whole runs per profile and revision, CLI, reports, baseline, evidence.

mod fixture;
mod suite;
