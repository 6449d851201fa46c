//! Expiry (OAuth 2.1 §5.2; RFC 6750 §3.1): a token past its `expires_in` is rejected.

use crate::flow::common::Run;
use crate::model::Finding::*;
use std::time::Duration;

impl Run {
    /// `rs/token/expired`, when the lifetime fits in `--expiry-wait`.
    pub(crate) async fn expiry_check(&mut self) {
        if !self.on("rs/token/expired") {
            return;
        }
        let lifetime = self.grant.as_ref().and_then(|g| g.expires_in);
        let Some(secs) = lifetime else {
            self.rec(
                "rs/token/expired",
                NotApplicable("no expires_in: the token lifetime is unknown".into()),
                &[],
            );
            return;
        };
        if Duration::from_secs(secs) > self.cfg.expiry_wait {
            self.rec(
                "rs/token/expired",
                NotApplicable(format!(
                    "expires_in={secs} s exceeds --expiry-wait {} s",
                    self.cfg.expiry_wait.as_secs()
                )),
                &[],
            );
            return;
        }
        let g = match self
            .obtain(
                "authorize: short-lived token",
                Some(self.resource_param()),
                self.scope_param(),
                None,
            )
            .await
        {
            Ok(g) => g,
            Err(e) => {
                self.rec("rs/token/expired", CouldNotRun(e), &[]);
                return;
            }
        };
        let wait = Duration::from_secs(g.expires_in.unwrap_or(secs) + 1);
        tokio::time::sleep(wait.saturating_sub(g.obtained.elapsed())).await;
        let (s, ev) = self.probe_token(&g.access_token, "rs: expired token").await;
        let f = match s {
            Some(401) => Holds(format!(
                "401 after expires_in={}",
                g.expires_in.unwrap_or(secs)
            )),
            Some(s) if (200..300).contains(&s) => {
                Violated(format!("still accepted ({s}) 1 s after it expired"))
            }
            Some(s) => Violated(format!("got {s}; expected 401")),
            None => CouldNotRun("MCP endpoint unreachable".into()),
        };
        self.rec("rs/token/expired", f, &ev);
    }
}
