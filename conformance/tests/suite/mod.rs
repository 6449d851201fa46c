pub mod browser;
pub mod falsify;
pub mod profiles;
pub mod runs;

use crate::fixture::{Fixture, PASSWORD, USER};
use gigamcp_conformance::config::{Config, Login};
use gigamcp_conformance::flow::RunResult;
use gigamcp_conformance::model::Verdict;
use gigamcp_conformance::profile::Profile;
use std::time::Duration;

/// A configuration that drives the fixture fully automatically.
pub fn cfg(fx: &Fixture, profile: Profile) -> Config {
    let mut c = Config::new(fx.mcp_url("acme"), profile);
    c.login = Login::Form {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    c.second_resource = Some(fx.mcp_url("globex"));
    c.revocation_wait = Duration::from_millis(800);
    c.expiry_wait = Duration::from_secs(3);
    c.timeout = Duration::from_secs(10);
    c
}

pub fn verdict(r: &RunResult, id: &str) -> Verdict {
    r.outcomes
        .iter()
        .find(|o| o.id == id)
        .map(|o| o.verdict)
        .unwrap_or_else(|| panic!("{id} has no outcome"))
}

pub fn detail(r: &RunResult, id: &str) -> String {
    r.outcomes
        .iter()
        .find(|o| o.id == id)
        .map(|o| format!("{} — {}", o.verdict, o.detail))
        .unwrap_or_default()
}

/// Outcomes that are neither pass nor not-applicable, for assertion messages.
pub fn problems(r: &RunResult) -> Vec<String> {
    r.outcomes
        .iter()
        .filter(|o| !matches!(o.verdict, Verdict::Pass | Verdict::NotApplicable))
        .map(|o| format!("{} {} — {}", o.verdict, o.id, o.detail))
        .collect()
}
