//! The connector flow, step by step, grading checks as it goes.
//!
//! One [`Run`] holds what was discovered so far (metadata, client, tokens, negotiated
//! revision). Phases run in the order a real host runs them; a phase whose prerequisite failed
//! records "could not run" with the reason for each of its checks, never a pass.
//!
//! Layers (a module imports only modules below it; phases never import each other):
//! - this file: the order of the phases ([`run`]);
//! - phases: `discovery` (401 challenge, PRM, AS metadata), `oauth` (registration,
//!   authorization, authorization-server negatives), `mcp` (MCP checks after authorization,
//!   JSON-RPC batches, 2026-07-28 transport rules), `rs` (resource-server negative matrix),
//!   `lifecycle` (refresh, revocation, expiry), `robustness` (proptest fuzzing of the authorized
//!   endpoint, run last);
//! - `common`: the run state and the plain pieces every phase shares (client, grant and session
//!   types, JSON-RPC client, SSE parser, token and authorization clients, header encoding);
//! - `login`: the login drivers that carry an authorization request to its callback;
//!   `browser`: the real-Chromium driver (login scripts, headed sign-in).

mod authz;
pub mod browser;
pub mod common;
mod discovery;
mod lifecycle;
pub mod login;
mod mcp;
mod oauth;
mod robustness;
mod rs;

use crate::checks;
use crate::config::Config;
use crate::model::{Finding, Outcome};
use std::time::Instant;

pub use common::{Client, Grant, Rpc, Run, RunResult, Session};

impl Run {
    /// Runs the whole flow and grades everything.
    pub async fn execute(mut self) -> RunResult {
        let fatal = self.flow().await.err();
        self.finish_aggregates();
        let reason = fatal
            .clone()
            .unwrap_or_else(|| "a prerequisite step did not complete".into());
        for def in checks::CHECKS {
            if self.on(def.id) && !self.outcomes.contains_key(def.id) {
                self.rec(def.id, Finding::CouldNotRun(reason.clone()), &[]);
            }
        }
        let mut outcomes: Vec<Outcome> = Vec::new();
        for def in checks::CHECKS {
            if let Some(o) = self.outcomes.remove(def.id) {
                outcomes.push(o);
            }
        }
        RunResult {
            target: self.cfg.mcp_url.clone(),
            profile: self.cfg.profile.name,
            spec: self.cfg.spec.clone().unwrap_or_else(|| "auto".into()),
            negotiated: self.session.as_ref().map(|s| s.revision.clone()),
            strict: self.cfg.strict,
            outcomes,
            exchanges: self.http.exchanges(),
            revocation_latency_ms: self.revocation_latency.map(|d| d.as_millis()),
            fatal,
            allow_incomplete: self.cfg.allow_incomplete,
            rate_limit_waits: self.http.rate_limit_waits(),
        }
    }

    /// `Err` = the run could not proceed (unreachable target, unusable input).
    async fn flow(&mut self) -> Result<(), String> {
        self.discovery().await?;
        let authorized = if let Some(t) = self.cfg.access_token.clone() {
            let why =
                Finding::NotApplicable("--access-token given: resource-server checks only".into());
            for def in checks::CHECKS {
                if [
                    "registration/",
                    "authorize/",
                    "token/",
                    "refresh/",
                    "revocation/",
                ]
                .iter()
                .any(|p| def.id.starts_with(p))
                {
                    self.rec(def.id, why.clone(), &[]);
                }
            }
            for id in [
                "rs/audience/cross-workspace",
                "rs/token/revoked",
                "rs/token/expired",
                "rs/scope/insufficient-403",
                "rs/scope/insufficient-error",
            ] {
                self.rec(
                    id,
                    Finding::NotApplicable(
                        "needs tokens minted by the harness; --access-token given".into(),
                    ),
                    &[],
                );
            }
            self.grant = Some(Grant {
                access_token: t,
                refresh_token: None,
                expires_in: None,
                obtained: Instant::now(),
                resource: None,
            });
            true
        } else {
            self.registration().await;
            let before: Vec<&'static str> = self.outcomes.keys().copied().collect();
            let mut ok = self.authorize_main().await;
            if !ok && self.cimd_unfetched_fallback(&before).await {
                ok = self.authorize_main().await;
            }
            self.grade_cimd_accepted(ok);
            ok
        };
        if authorized {
            self.mcp_after_auth().await;
            self.rs_matrix().await;
        }
        if self.cfg.access_token.is_none() && self.client.is_some() {
            self.cimd_checks().await;
            if self.as_negatives_ready() {
                self.authorize_negatives().await;
                // Needs the foreign-resource token `authorize_negatives` may have minted.
                self.cross_audience_fallback().await;
                self.token_negatives().await;
            }
            self.refresh_checks().await;
            self.revocation_checks().await;
            self.expiry_check().await;
        }
        // Last, so a target that a malformed request wedges cannot spoil the other checks.
        if authorized {
            self.robustness().await;
        }
        Ok(())
    }
}

/// Convenience: run a configuration to completion.
pub async fn run(cfg: Config) -> anyhow::Result<RunResult> {
    Ok(Run::new(cfg)?.execute().await)
}
