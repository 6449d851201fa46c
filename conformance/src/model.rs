//! The vocabulary every other module speaks: requirement levels, verdicts, check definitions and
//! the outcome of running one check.
//!
//! Architecture invariant: a check's *logic* only ever says whether the requirement held
//! ([`Finding`]); turning that into a verdict depends on the check's level and `--strict`, and
//! happens in exactly one place ([`grade`]). So a SHOULD can never become a failure by accident,
//! and an untestable MUST can never become a pass.

use serde::Serialize;
use std::fmt;

/// RFC 2119 requirement level of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
    /// Client compatibility: the run's client (its profile) can connect. Not a requirement of
    /// any specification, graded apart from them: a failure fails the run (that client cannot
    /// connect) but never stands in for, or hides, a spec check's verdict.
    Compat,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Compat => "COMPAT",
        })
    }
}

/// Final verdict of one check in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// A SHOULD/MAY that does not hold (or a MUST that holds only in a degraded way).
    Warn,
    NotApplicable,
    /// The check could not be exercised; never counted as a pass.
    CouldNotRun,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::NotApplicable => "not-applicable",
            Verdict::CouldNotRun => "could-not-run",
        })
    }
}

/// Static description of one check. The registry lives in [`crate::checks`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CheckDef {
    /// Hierarchical id, e.g. `discovery/prm/path-inserted`; selectable by prefix.
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    /// At least one reference: MCP revision and section, or RFC and section.
    pub refs: &'static [&'static str],
    /// The check registers clients or revokes tokens on the target (never touches user data).
    pub side_effect: bool,
}

/// What a check's logic observed, before grading.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The requirement holds.
    Holds(String),
    /// The requirement is broken.
    Violated(String),
    /// Holds only in a degraded or ambiguous way: always a warning, never a pass or a fail.
    Advisory(String),
    NotApplicable(String),
    CouldNotRun(String),
}

/// One graded check.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    pub refs: &'static [&'static str],
    pub verdict: Verdict,
    /// Why: what was observed (always set, also for passes).
    pub detail: String,
    /// Indices into the run's exchange log that back this verdict.
    pub evidence: Vec<usize>,
}

/// The one place where a finding becomes a verdict.
pub fn grade(level: Level, finding: &Finding, strict: bool) -> (Verdict, String) {
    match finding {
        Finding::Holds(d) => (Verdict::Pass, d.clone()),
        Finding::Violated(d) => {
            let v = match (level, strict) {
                (Level::Must | Level::Compat, _) => Verdict::Fail,
                (Level::Should, true) => Verdict::Fail,
                _ => Verdict::Warn,
            };
            (v, d.clone())
        }
        Finding::Advisory(d) => {
            let v = if strict && level != Level::May {
                Verdict::Fail
            } else {
                Verdict::Warn
            };
            (v, d.clone())
        }
        Finding::NotApplicable(d) => (Verdict::NotApplicable, d.clone()),
        Finding::CouldNotRun(d) => (Verdict::CouldNotRun, d.clone()),
    }
}

/// Counts per verdict, in the order the terminal prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    pub not_applicable: usize,
    pub could_not_run: usize,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Warn => t.warnings += 1,
                Verdict::NotApplicable => t.not_applicable += 1,
                Verdict::CouldNotRun => t.could_not_run += 1,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_violation_is_a_warning_unless_strict() {
        let f = Finding::Violated("x".into());
        assert_eq!(grade(Level::Should, &f, false).0, Verdict::Warn);
        assert_eq!(grade(Level::Should, &f, true).0, Verdict::Fail);
        assert_eq!(grade(Level::Must, &f, false).0, Verdict::Fail);
        assert_eq!(grade(Level::May, &f, true).0, Verdict::Warn);
        assert_eq!(grade(Level::Compat, &f, false).0, Verdict::Fail);
    }

    #[test]
    fn untestable_must_is_never_a_pass() {
        let f = Finding::CouldNotRun("no login".into());
        assert_eq!(grade(Level::Must, &f, false).0, Verdict::CouldNotRun);
        let n = Finding::NotApplicable("no sessions".into());
        assert_eq!(grade(Level::Must, &n, true).0, Verdict::NotApplicable);
    }

    #[test]
    fn advisory_is_a_warning() {
        let f = Finding::Advisory("degraded".into());
        assert_eq!(grade(Level::Must, &f, false).0, Verdict::Warn);
        assert_eq!(grade(Level::Must, &f, true).0, Verdict::Fail);
    }
}
