//! The expected-failures baseline and what a run's outcomes add up to: which MUSTs could not
//! run, and the exit code (a leaf: the terminal summary and [`super::html`] both use it).

use crate::flow::RunResult;
use crate::model::{Level, Outcome, Verdict};
use std::collections::BTreeSet;

/// Baseline of expected failures, one check id per line (`#` comments).
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    pub ids: BTreeSet<String>,
}

/// How the run compares to the baseline.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BaselineDiff {
    /// Baselined checks that failed, as expected.
    pub expected: Vec<String>,
    /// Baselined checks that now pass: the entry is stale and fails the run.
    pub stale: Vec<String>,
    /// Baselined ids that are not checks at all.
    pub unknown: Vec<String>,
}

impl Baseline {
    pub fn parse(text: &str) -> Baseline {
        Baseline {
            ids: text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    pub fn diff(&self, r: &RunResult) -> BaselineDiff {
        let mut d = BaselineDiff::default();
        for id in &self.ids {
            match r.outcomes.iter().find(|o| o.id == id) {
                Some(o)
                    if matches!(
                        o.verdict,
                        Verdict::Fail | Verdict::Warn | Verdict::CouldNotRun
                    ) =>
                {
                    d.expected.push(id.clone())
                }
                Some(o) if o.verdict == Verdict::Pass => d.stale.push(id.clone()),
                Some(_) => {}
                None if crate::checks::find(id).is_none() => d.unknown.push(id.clone()),
                None => {}
            }
        }
        d
    }
}

/// MUST checks that could not run and are not baselined: they make the run incomplete.
pub fn incomplete_musts<'a>(r: &'a RunResult, baseline: Option<&BaselineDiff>) -> Vec<&'a Outcome> {
    let expected: BTreeSet<&str> = baseline
        .map(|b| b.expected.iter().map(String::as_str).collect())
        .unwrap_or_default();
    r.outcomes
        .iter()
        .filter(|o| {
            o.level == Level::Must && o.verdict == Verdict::CouldNotRun && !expected.contains(o.id)
        })
        .collect()
}

/// Exit code: 0 every MUST ran and holds (SHOULDs too under `--strict`); 1 a failure (or a
/// stale baseline entry); 2 the run could not proceed, or could not complete: a MUST could not
/// run and is neither baselined nor allowed by `--allow-incomplete`.
pub fn exit_code(r: &RunResult, baseline: Option<&BaselineDiff>) -> i32 {
    if r.fatal.is_some() {
        return 2;
    }
    let expected: BTreeSet<&str> = baseline
        .map(|b| b.expected.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let failing = r
        .outcomes
        .iter()
        .any(|o| o.verdict == Verdict::Fail && !expected.contains(o.id));
    let stale = baseline.is_some_and(|b| !b.stale.is_empty());
    if failing || stale {
        1
    } else if !r.allow_incomplete && !incomplete_musts(r, baseline).is_empty() {
        2
    } else {
        0
    }
}
