//! Token lifecycle: refresh (rotation, race, replay, resource), revocation (RFC 7009) with the
//! time until the MCP endpoint rejects the token, and expiry.

use super::oauth::{grade_rejection, grant_from};
use super::{Client, Grant, Run, describe, json_error};
use crate::http::Req;
use crate::model::Finding::*;
use serde_json::Value;
use std::time::{Duration, Instant};

impl Run {
    async fn refresh(
        &mut self,
        step: &str,
        rt: &str,
        resource: Option<&str>,
        client: Option<&Client>,
    ) -> Option<crate::http::Resp> {
        let mut f = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".into(), rt.into()),
        ];
        if let Some(r) = resource {
            f.push(("resource".into(), r.into()));
        }
        self.token_request(step, f, client).await
    }

    pub(super) async fn refresh_checks(&mut self) {
        let ids = [
            "refresh/rotation",
            "refresh/concurrent",
            "refresh/replay-rejected",
            "refresh/replay-revokes-grant",
            "refresh/resource-consistent",
        ];
        if !self.any_on(&ids) {
            return;
        }
        let resource = self.resource_param();
        // A dedicated grant, so the main token stays usable for other checks.
        let g = match self
            .obtain(
                "authorize: grant for refresh checks",
                Some(resource.clone()),
                self.scope_param(),
                None,
            )
            .await
        {
            Ok(g) => g,
            Err(e) => match self.grant.clone() {
                Some(g) if self.can_reauthorize().is_err() => g,
                _ => {
                    self.rec_all(&ids, CouldNotRun(e));
                    return;
                }
            },
        };
        let Some(r0) = g.refresh_token.clone() else {
            self.rec_all(
                &ids,
                NotApplicable(
                    "no refresh_token issued (refresh tokens are at the AS's discretion)".into(),
                ),
            );
            return;
        };
        let confidential = self
            .client
            .as_ref()
            .is_some_and(|c| c.client_secret.is_some());
        let Some(r) = self
            .refresh("refresh: rotate", &r0, Some(&resource), None)
            .await
        else {
            return;
        };
        let Some(g1) = grant_from(&r, Some(resource.clone())) else {
            self.rec(
                "refresh/rotation",
                Violated(format!("refresh failed: {}", describe(&r))),
                &[r.id],
            );
            self.rec_all(&ids[1..], CouldNotRun("refresh failed".into()));
            return;
        };
        let r1 = match g1.refresh_token.clone() {
            Some(r1) if r1 != r0 => {
                self.rec(
                    "refresh/rotation",
                    Holds("new access and refresh tokens".into()),
                    &[r.id],
                );
                r1
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
                    &[
                        "refresh/concurrent",
                        "refresh/replay-rejected",
                        "refresh/replay-revokes-grant",
                    ],
                    NotApplicable("refresh tokens do not rotate".into()),
                );
                other.unwrap_or(r0.clone())
            }
        };
        let mut live = Some(r1.clone());

        // Concurrent race with r1.
        if self.on("refresh/concurrent") && !self.recorded("refresh/concurrent") {
            let n = self.cfg.race.max(2);
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
                    ("refresh_token".into(), r1.clone()),
                    ("resource".into(), resource.clone()),
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
                    if let Some(g) = grant_from(&r, Some(resource.clone())) {
                        if let Some(rt) = &g.refresh_token {
                            self.http.secret(rt);
                        }
                        self.http.secret(&g.access_token);
                        winners.push(g);
                    }
                }
            }
            // Winners that all received the very same pair are one rotation served idempotently
            // (a grace window for lost responses): still exactly one pair in use.
            let distinct = {
                let mut rts: Vec<_> = winners.iter().map(|g| g.refresh_token.clone()).collect();
                rts.sort();
                rts.dedup();
                rts.len()
            };
            let identical = winners.len() > 1
                && distinct == 1
                && winners[0].refresh_token.as_deref() != Some(r1.as_str());
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
                                Some(&resource),
                                None,
                            )
                            .await
                        {
                            Some(r) => match grant_from(&r, Some(resource.clone())) {
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
        }

        // Resource consistency.
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
                    .refresh("refresh: live token check", &rt, Some(&resource), None)
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

        // Replay of the rotated-out r0.
        let replay = self.any_on(&["refresh/replay-rejected", "refresh/replay-revokes-grant"])
            && !self.recorded("refresh/replay-rejected");
        if replay {
            tokio::time::sleep(self.cfg.replay_delay).await;
        }
        if replay
            && let Some(r) = self
                .refresh("refresh: replay rotated token", &r0, Some(&resource), None)
                .await
        {
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
                            .refresh("refresh: family after replay", &rt, Some(&resource), None)
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

    async fn revoke(
        &mut self,
        step: &str,
        token: &str,
        hint: Option<&str>,
        client: Option<&Client>,
    ) -> Option<crate::http::Resp> {
        let url = self
            .asm
            .as_ref()?
            .get("revocation_endpoint")?
            .as_str()?
            .to_string();
        let c = client.cloned().or_else(|| self.client.clone())?;
        let mut form = vec![("token".to_string(), token.to_string())];
        if let Some(h) = hint {
            form.push(("token_type_hint".into(), h.into()));
        }
        let req = c.authenticate(Req::post(step, url), &mut form);
        self.http.send(req.form(form)).await.ok()
    }

    /// Polls the MCP endpoint until it rejects `token`; returns the latency.
    async fn until_rejected(
        &mut self,
        token: &str,
        since: Instant,
    ) -> (Option<Duration>, Vec<usize>) {
        let mut ev = Vec::new();
        loop {
            let (s, e) = self.probe_token(token, "rs: revoked token").await;
            ev.extend(e);
            if s == Some(401) {
                return (Some(since.elapsed()), ev);
            }
            if since.elapsed() > self.cfg.revocation_wait {
                return (None, ev);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn revocation_checks(&mut self) {
        let ids = [
            "revocation/access-token",
            "rs/token/revoked",
            "revocation/refresh-token",
            "revocation/unknown-token",
            "revocation/public-client",
        ];
        let Some(endpoint) = self
            .asm
            .as_ref()
            .and_then(|a| a.get("revocation_endpoint"))
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            self.rec("revocation/advertised", Violated("no revocation_endpoint: RFC 7009 is optional, but users cannot cut a connector off".into()), &[]);
            self.rec_all(
                &ids,
                NotApplicable("no revocation_endpoint advertised".into()),
            );
            return;
        };
        self.rec(
            "revocation/advertised",
            Holds(format!("revocation_endpoint={endpoint}")),
            &[],
        );
        let resource = self.resource_param();

        if self.on("revocation/unknown-token")
            && let Some(r) = self
                .revoke(
                    "revoke: unknown token",
                    "conformance-unknown-token-0123456789",
                    None,
                    None,
                )
                .await
        {
            let f = if r.status == 200 {
                Holds("200".into())
            } else {
                Violated(format!(
                    "got {}; RFC 7009 answers 200 for unknown tokens",
                    describe(&r)
                ))
            };
            self.rec("revocation/unknown-token", f, &[r.id]);
        }

        if self.any_on(&[
            "revocation/access-token",
            "rs/token/revoked",
            "revocation/refresh-token",
        ]) {
            match self
                .obtain(
                    "authorize: grant to revoke",
                    Some(resource.clone()),
                    self.scope_param(),
                    None,
                )
                .await
            {
                Ok(g) => {
                    self.revoke_grant(g, None, "revocation/access-token", true)
                        .await
                }
                Err(e) => self.rec_all(
                    &[
                        "revocation/access-token",
                        "rs/token/revoked",
                        "revocation/refresh-token",
                    ],
                    CouldNotRun(e),
                ),
            }
        }

        if self.on("revocation/public-client") {
            let f = self.public_client_revocation(&resource).await;
            if let Err(why) = f {
                self.rec("revocation/public-client", why, &[]);
            }
        }
    }

    async fn revoke_grant(
        &mut self,
        g: Grant,
        client: Option<&Client>,
        id: &'static str,
        main: bool,
    ) {
        let (before, bev) = self
            .probe_token(&g.access_token, "rs: token before revocation")
            .await;
        if before.is_none_or(|s| !(200..300).contains(&s)) {
            self.rec(
                id,
                CouldNotRun(format!(
                    "the fresh token was not accepted before revocation ({before:?})"
                )),
                &bev,
            );
            if main {
                self.rec(
                    "rs/token/revoked",
                    CouldNotRun("the token was not accepted before revocation".into()),
                    &bev,
                );
            }
            return;
        }
        let Some(r) = self
            .revoke(
                "revoke: access token",
                &g.access_token,
                Some("access_token"),
                client,
            )
            .await
        else {
            return;
        };
        let since = Instant::now();
        if r.status != 200 {
            self.rec(
                id,
                Violated(format!("revocation answered {}", describe(&r))),
                &[r.id],
            );
            if main {
                self.rec(
                    "rs/token/revoked",
                    CouldNotRun("revocation failed".into()),
                    &[],
                );
            }
            return;
        }
        if !main {
            let (lat, ev) = self.until_rejected(&g.access_token, since).await;
            let f = match lat {
                Some(d) => Holds(format!(
                    "200, and the MCP endpoint rejected the token after {} ms",
                    d.as_millis()
                )),
                None => Violated(format!(
                    "200, but the MCP endpoint still accepted the token after {} ms",
                    self.cfg.revocation_wait.as_millis()
                )),
            };
            let mut all = vec![r.id];
            all.extend(ev);
            self.rec(id, f, &all);
            return;
        }
        self.rec(id, Holds("200".into()), &[r.id]);
        let (lat, ev) = self.until_rejected(&g.access_token, since).await;
        self.revocation_latency = lat;
        let f = match lat {
            Some(d) => Holds(format!("rejected {} ms after revocation", d.as_millis())),
            None => Violated(format!(
                "still accepted {} ms after revocation",
                self.cfg.revocation_wait.as_millis()
            )),
        };
        self.rec("rs/token/revoked", f, &ev);
        if let Some(rt) = g.refresh_token.clone() {
            if self.on("revocation/refresh-token")
                && let Some(r) = self
                    .revoke("revoke: refresh token", &rt, Some("refresh_token"), client)
                    .await
            {
                let f = if r.status != 200 {
                    Violated(format!("revocation answered {}", describe(&r)))
                } else {
                    match self
                        .refresh(
                            "refresh: with revoked refresh token",
                            &rt,
                            g.resource.as_deref(),
                            client,
                        )
                        .await
                    {
                        Some(rr) if rr.status == 200 => {
                            Violated("200, but the revoked refresh token still refreshes".into())
                        }
                        Some(rr) => Holds(format!("200, then refresh → {}", describe(&rr))),
                        None => CouldNotRun("token endpoint unreachable".into()),
                    }
                };
                self.rec("revocation/refresh-token", f, &[r.id]);
            }
        } else {
            self.rec(
                "revocation/refresh-token",
                NotApplicable("no refresh_token issued".into()),
                &[],
            );
        }
    }

    async fn public_client_revocation(
        &mut self,
        resource: &str,
    ) -> Result<(), crate::model::Finding> {
        let client = match self.client.clone() {
            Some(c) if c.client_secret.is_none() => c,
            _ => {
                let reg = self
                    .asm
                    .as_ref()
                    .and_then(|a| a.get("registration_endpoint"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let Some(reg) = reg else {
                    return Err(NotApplicable(
                        "confidential client and no DCR to register a public one".into(),
                    ));
                };
                let redirect = self
                    .client
                    .as_ref()
                    .map(|c| c.redirect_uri.clone())
                    .unwrap_or_default();
                let mut body = self.cfg.profile.dcr_body(std::slice::from_ref(&redirect));
                body["token_endpoint_auth_method"] = "none".into();
                let r = self
                    .http
                    .send(Req::post("register: public client for revocation", &reg).json(body))
                    .await
                    .map_err(|e| CouldNotRun(e.0))?;
                let id = r
                    .json()
                    .and_then(|v| {
                        v.get("client_id")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .ok_or_else(|| {
                        CouldNotRun(format!("public registration refused: {}", describe(&r)))
                    })?;
                Client {
                    client_id: id,
                    client_secret: None,
                    redirect_uri: redirect,
                    auth_method: "none".into(),
                }
            }
        };
        let g = self
            .obtain(
                "authorize: public client grant",
                Some(resource.to_string()),
                self.scope_param(),
                Some(&client),
            )
            .await
            .map_err(CouldNotRun)?;
        self.revoke_grant(g, Some(&client), "revocation/public-client", false)
            .await;
        Ok(())
    }

    pub(super) async fn expiry_check(&mut self) {
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
