//! Audience (RFC 8707; MCP authorization §Token Audience Binding): a token for another resource
//! (a second workspace, or one the AS minted for a foreign URI) is rejected here.

use super::token::expect_401;
use crate::flow::common::Run;
use crate::model::Finding::*;

impl Run {
    /// `rs/audience/cross-workspace` with `--second-resource`. Otherwise graded after the AS
    /// negatives (`authorize/resource-foreign`) by `cross_audience_fallback`.
    pub(crate) async fn rs_cross_workspace(&mut self, second: String) {
        match self
            .obtain(
                "authorize: token for the second resource",
                Some(second.clone()),
                self.scope_param(),
                None,
            )
            .await
        {
            Ok(g) => {
                let (own, _) = self
                    .probe_auth(
                        "rs: second token at its own resource",
                        &second,
                        Some(&format!("Bearer {}", g.access_token)),
                        true,
                    )
                    .await;
                let (s, ev) = self
                    .probe_token(&g.access_token, "rs: second workspace's token here")
                    .await;
                let f = match (own, s) {
                    (Some(o), _) if !(200..300).contains(&o) => {
                        CouldNotRun(format!("the second resource rejects its own token ({o})"))
                    }
                    _ => expect_401(s, &format!("a token for {second}")),
                };
                self.rec("rs/audience/cross-workspace", f, &ev);
            }
            Err(e) => self.rec("rs/audience/cross-workspace", CouldNotRun(e), &[]),
        }
    }

    /// Cross-audience on a single-resource deployment, after `authorize/resource-foreign`.
    pub(crate) async fn cross_audience_fallback(&mut self) {
        if self.recorded("rs/audience/cross-workspace") || !self.on("rs/audience/cross-workspace") {
            return;
        }
        match self.foreign_token.clone() {
            Some(t) => {
                let (s, ev) = self
                    .probe_token(&t, "rs: token minted for a foreign resource")
                    .await;
                self.rec(
                    "rs/audience/cross-workspace",
                    expect_401(s, "a token minted for https://resource.invalid/mcp"),
                    &ev,
                );
            }
            None => {
                let f = if self.foreign_refused {
                    NotApplicable("no --second-resource, and the AS refuses to mint tokens for a foreign resource".into())
                } else {
                    CouldNotRun(
                        "no --second-resource and no scripted login to mint a foreign token".into(),
                    )
                };
                self.rec("rs/audience/cross-workspace", f, &[]);
            }
        }
    }
}
