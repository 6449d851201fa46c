//! `compat/connects`: can the run's client, exactly as its profile replays it, register,
//! authorize and call a tool? Graded at the end from what the phases observed, at its own level
//! (COMPAT): the spec checks keep their own verdicts.

use super::run::Run;
use crate::model::{Finding, Verdict};

const ID: &str = "compat/connects";

impl Run {
    pub(crate) fn grade_compat(&mut self) {
        if !self.on(ID) || self.recorded(ID) {
            return;
        }
        let product = self.cfg.profile.product;
        let f = if self.cfg.access_token.is_some() {
            Finding::NotApplicable("--access-token given: the client did not register".into())
        } else if let Some(b) = self.compat_blocker.clone() {
            Finding::Violated(b)
        } else if self.client.is_none() {
            self.first_problem(
                &[
                    "discovery/asm/found",
                    "registration/dcr/accepted",
                    "registration/cimd/accepted",
                ],
                &format!("{product} could not get a client id"),
            )
        } else if self.grant.is_none() {
            self.first_problem(
                &[
                    "authorize/code-issued",
                    "registration/cimd/accepted",
                    "token/response-json",
                ],
                &format!("{product} registered, but the authorization did not complete"),
            )
        } else {
            match self
                .outcome("mcp/tools/call")
                .map(|o| (o.verdict, o.detail.clone()))
            {
                Some((Verdict::Pass, d)) => Finding::Holds(format!(
                    "{product} registered ({}), authorized and called a tool: {d}",
                    self.client_summary()
                )),
                Some((Verdict::Fail, d)) => Finding::Violated(format!(
                    "{product} authorized, but its tool call failed: {d}"
                )),
                Some((_, d)) => Finding::CouldNotRun(format!("no tool call: {d}")),
                None => Finding::CouldNotRun("no tool call was made".into()),
            }
        };
        self.rec(ID, f, &[]);
    }

    /// How the client got its id, for the detail.
    fn client_summary(&self) -> String {
        match &self.client {
            Some(c) if self.via_cimd => {
                format!("metadata document {}, {}", c.client_id, c.auth_method)
            }
            Some(c) => format!("DCR, {}, callback {}", c.auth_method, c.redirect_uri),
            None => String::new(),
        }
    }

    /// The first of `ids` that did not pass, as the reason `what` happened.
    fn first_problem(&self, ids: &[&str], what: &str) -> Finding {
        let bad = ids
            .iter()
            .filter_map(|id| self.outcome(id).map(|o| (*id, o.verdict, o.detail.clone())))
            .find(|(_, v, _)| matches!(v, Verdict::Fail | Verdict::CouldNotRun));
        match bad {
            Some((id, Verdict::CouldNotRun, d)) => {
                Finding::CouldNotRun(format!("{what}: {id} could not run: {d}"))
            }
            Some((id, _, d)) => Finding::Violated(format!("{what}: {id}: {d}")),
            None => Finding::CouldNotRun(format!("{what} (see the checks above)")),
        }
    }
}
