//! Refresh tokens (OAuth 2.1 §4.3, §6.1; RFC 9700 §4.14; RFC 8707 §2.2): rotation, a concurrent
//! race, the resource a refresh may ask for, and replay of a rotated-out token.

use crate::flow::common::json::grade_rejection;
use crate::flow::common::token::grant_from;
use crate::flow::common::{Grant, Run, describe, json_error};
use crate::http::Req;
use crate::model::Finding::*;
use serde_json::Value;

const IDS: [&str; 5] = [
    "refresh/rotation",
    "refresh/concurrent",
    "refresh/replay-rejected",
    "refresh/replay-revokes-grant",
    "refresh/resource-consistent",
];

impl Run {
    /// The refresh checks on a dedicated grant, in order; `live` follows the refresh token
    /// still in use after each step.
    pub(crate) async fn refresh_checks(&mut self) {
        if !self.any_on(&IDS) {
            return;
        }
        let resource = self.resource_param();
        let Some(g) = self.refresh_grant(&resource).await else {
            return;
        };
        let Some(r0) = g.refresh_token.clone() else {
            self.rec_all(
                &IDS,
                NotApplicable(
                    "no refresh_token issued (refresh tokens are at the AS's discretion)".into(),
                ),
            );
            return;
        };
        let Some(r1) = self.refresh_rotation(&r0, &resource).await else {
            return;
        };
        let mut live = Some(r1.clone());
        if self.on("refresh/concurrent") && !self.recorded("refresh/concurrent") {
            live = self.refresh_concurrent(&r1, &resource, live).await;
        }
        live = self.refresh_resource_consistent(live, &resource).await;
        self.refresh_replay(&r0, live, &resource).await;
    }

    /// A dedicated grant, so the main token stays usable for other checks (the main grant when
    /// no second authorization is possible).
    async fn refresh_grant(&mut self, resource: &str) -> Option<Grant> {
        match self
            .obtain(
                "authorize: grant for refresh checks",
                Some(resource.to_string()),
                self.scope_param(),
                None,
            )
            .await
        {
            Ok(g) => Some(g),
            Err(e) => match self.grant.clone() {
                Some(g) if self.can_reauthorize().is_err() => Some(g),
                _ => {
                    self.rec_all(&IDS, CouldNotRun(e));
                    None
                }
            },
        }
    }

    /// `refresh/rotation`: returns the refresh token now in use.
    async fn refresh_rotation(&mut self, r0: &str, resource: &str) -> Option<String> {
        let confidential = self
            .client
            .as_ref()
            .is_some_and(|c| c.client_secret.is_some());
        let r = self
            .refresh("refresh: rotate", r0, Some(resource), None)
            .await?;
        let Some(g1) = grant_from(&r, Some(resource.to_string())) else {
            self.rec(
                "refresh/rotation",
                Violated(format!("refresh failed: {}", describe(&r))),
                &[r.id],
            );
            self.rec_all(&IDS[1..], CouldNotRun("refresh failed".into()));
            return None;
        };
        match g1.refresh_token.clone() {
            Some(r1) if r1 != r0 => {
                self.rec(
                    "refresh/rotation",
                    Holds("new access and refresh tokens".into()),
                    &[r.id],
                );
                Some(r1)
            }
            other => {
                let why = if other.is_none() {
                    "no new refresh_token returned"
                } else {
                    "the same refresh_token was returned"
                };
                let f = if confidential {
                    Advisory(format!(
                        "{why}; rotation is required for public clients, this client is confidential"
                    ))
                } else {
                    Violated(format!(
                        "{why}: refresh tokens of public clients must rotate"
                    ))
                };
                self.rec("refresh/rotation", f, &[r.id]);
                self.rec_all(
                    &IDS[1..4],
                    NotApplicable("refresh tokens do not rotate".into()),
                );
                Some(other.unwrap_or(r0.to_string()))
            }
        }
    }

    /// `refresh/concurrent`: `--race` simultaneous refreshes with `r1`; exactly one may win
    /// (or all receive one and the same pair) and the grant must survive.
    async fn refresh_concurrent(
        &mut self,
        r1: &str,
        resource: &str,
        mut live: Option<String>,
    ) -> Option<String> {
        let n = self.cfg.race.max(2);
        let (mut winners, ev) = self.refresh_race(r1, resource, n).await;
        // Winners that all received the very same pair are one rotation served idempotently
        // (a grace window for lost responses): still exactly one pair in use.
        let distinct = {
            let mut rts: Vec<_> = winners.iter().map(|g| g.refresh_token.clone()).collect();
            rts.sort();
            rts.dedup();
            rts.len()
        };
        let identical =
            winners.len() > 1 && distinct == 1 && winners[0].refresh_token.as_deref() != Some(r1);
        if identical {
            winners.truncate(1);
        }
        let f = match winners.len() {
            1 => {
                let w = winners[0].refresh_token.clone();
                match w {
                    Some(w) => match self
                        .refresh(
                            "refresh: winner's token still works",
                            &w,
                            Some(resource),
                            None,
                        )
                        .await
                    {
                        Some(r) => match grant_from(&r, Some(resource.to_string())) {
                            Some(g) => {
                                live = g.refresh_token.clone().or(Some(w));
                                Holds(if identical {
                                    format!(
                                        "all {n} received one and the same pair, and the grant survived"
                                    )
                                } else {
                                    format!("exactly one of {n} won and the grant survived")
                                })
                            }
                            None => {
                                live = None;
                                Violated(format!(
                                    "exactly one of {n} won, but the grant was then dead: {}",
                                    describe(&r)
                                ))
                            }
                        },
                        None => CouldNotRun("token endpoint unreachable".into()),
                    },
                    None => Holds(format!("exactly one of {n} won")),
                }
            }
            0 => {
                live = None;
                Violated(format!("none of {n} concurrent refreshes succeeded"))
            }
            k => {
                live = winners.last().and_then(|g| g.refresh_token.clone());
                Violated(format!(
                    "{k} of {n} concurrent refreshes with the same token succeeded"
                ))
            }
        };
        self.rec("refresh/concurrent", f, &ev);
        live
    }

    /// Sends `n` refreshes with `r1` at once; returns the grants won and the evidence.
    async fn refresh_race(
        &mut self,
        r1: &str,
        resource: &str,
        n: usize,
    ) -> (Vec<Grant>, Vec<usize>) {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let http = self.http.clone();
            let url = self
                .asm
                .as_ref()
                .and_then(|a| a.get("token_endpoint"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let mut form = vec![
                ("grant_type".to_string(), "refresh_token".to_string()),
                ("refresh_token".into(), r1.to_string()),
                ("resource".into(), resource.to_string()),
            ];
            let c = self.client.clone().expect("client");
            let req = c.authenticate(
                Req::post(format!("refresh: concurrent #{i}"), url),
                &mut form,
            );
            let req = req.form(form);
            set.spawn(async move { http.send(req).await });
        }
        let mut winners = Vec::new();
        let mut ev = Vec::new();
        while let Some(res) = set.join_next().await {
            if let Ok(Ok(r)) = res {
                ev.push(r.id);
                self.note_token_error(&r);
                if let Some(g) = grant_from(&r, Some(resource.to_string())) {
                    if let Some(rt) = &g.refresh_token {
                        self.http.secret(rt);
                    }
                    self.http.secret(&g.access_token);
                    winners.push(g);
                }
            }
        }
        (winners, ev)
    }

    /// `refresh/resource-consistent`: a refresh for a foreign resource is refused with
    /// `invalid_target`; returns the refresh token still live afterwards.
    async fn refresh_resource_consistent(
        &mut self,
        mut live: Option<String>,
        resource: &str,
    ) -> Option<String> {
        if let (true, Some(rt)) = (self.on("refresh/resource-consistent"), live.clone()) {
            if let Some(r) = self
                .refresh(
                    "refresh: foreign resource",
                    &rt,
                    Some("https://resource.invalid/mcp"),
                    None,
                )
                .await
            {
                self.note_mistake(
                    crate::flow::common::run::Endpoint::Token,
                    "refresh: foreign resource",
                    &r,
                );
                let f = if r.status == 200 {
                    if let Some(g) = grant_from(&r, None) {
                        live = g.refresh_token.or(Some(rt.clone()));
                    }
                    Violated("a refresh for https://resource.invalid/mcp was granted".into())
                } else if json_error(&r).as_deref() == Some("invalid_target") {
                    Holds("400 invalid_target".into())
                } else {
                    Advisory(format!(
                        "refused with {}; RFC 8707 says invalid_target",
                        describe(&r)
                    ))
                };
                self.rec("refresh/resource-consistent", f, &[r.id]);
            }
            // Was the live token consumed by the refused request? Refresh once more to know.
            if let Some(rt) = live.clone() {
                live = match self
                    .refresh("refresh: live token check", &rt, Some(resource), None)
                    .await
                    .and_then(|r| grant_from(&r, None))
                {
                    Some(g) => g.refresh_token.or(Some(rt)),
                    None => None,
                };
            }
        } else if live.is_none() {
            self.rec(
                "refresh/resource-consistent",
                CouldNotRun("no live refresh token".into()),
                &[],
            );
        }
        live
    }

    /// `refresh/replay-rejected` and `refresh/replay-revokes-grant`: replaying the rotated-out
    /// `r0` is refused and revokes the family (`live`).
    async fn refresh_replay(&mut self, r0: &str, live: Option<String>, resource: &str) {
        let replay = self.any_on(&["refresh/replay-rejected", "refresh/replay-revokes-grant"])
            && !self.recorded("refresh/replay-rejected");
        if replay {
            tokio::time::sleep(self.cfg.replay_delay).await;
        }
        if replay
            && let Some(r) = self
                .refresh("refresh: replay rotated token", r0, Some(resource), None)
                .await
        {
            self.note_mistake(
                crate::flow::common::run::Endpoint::Token,
                "refresh: replay rotated token",
                &r,
            );
            self.rec(
                "refresh/replay-rejected",
                grade_rejection(
                    &r,
                    "invalid_grant",
                    "a rotated-out refresh token still refreshes",
                ),
                &[r.id],
            );
            if r.status == 200 {
                self.rec(
                    "refresh/replay-revokes-grant",
                    CouldNotRun("the replay was accepted".into()),
                    &[],
                );
            } else {
                match live {
                    Some(rt) => {
                        if let Some(r2) = self
                            .refresh("refresh: family after replay", &rt, Some(resource), None)
                            .await
                        {
                            let f = if r2.status == 200 {
                                Violated(format!(
                                    "the grant survived a refresh-token replay (replayed after {} s; a \
                                     server with a refresh grace window revokes only after it: see \
                                     --replay-delay)",
                                    self.cfg.replay_delay.as_secs()
                                ))
                            } else {
                                Holds(format!("grant revoked: {}", describe(&r2)))
                            };
                            self.rec("refresh/replay-revokes-grant", f, &[r.id, r2.id]);
                        }
                    }
                    None => self.rec(
                        "refresh/replay-revokes-grant",
                        CouldNotRun("no live refresh token to test the family with".into()),
                        &[],
                    ),
                }
            }
        }
    }
}
