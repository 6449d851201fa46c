//! Revocation (RFC 7009; MCP authorization §Token Handling): the advertised endpoint, unknown
//! tokens, access and refresh tokens, a public client, and the time until the MCP endpoint
//! rejects a revoked token.

use crate::flow::common::{Client, Grant, Run, describe};
use crate::http::{Req, Resp};
use crate::model::Finding::{self, *};
use serde_json::Value;
use std::time::{Duration, Instant};

impl Run {
    async fn revoke(
        &mut self,
        step: &str,
        token: &str,
        hint: Option<&str>,
        client: Option<&Client>,
    ) -> Option<Resp> {
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

    pub(crate) async fn revocation_checks(&mut self) {
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
        self.revoke_refresh_token(&g, client).await;
    }

    /// `revocation/refresh-token`: a revoked refresh token no longer refreshes.
    async fn revoke_refresh_token(&mut self, g: &Grant, client: Option<&Client>) {
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

    async fn public_client_revocation(&mut self, resource: &str) -> Result<(), Finding> {
        let client = match self.client.clone() {
            Some(c) if c.client_secret.is_none() => c,
            _ => self.register_public_client().await?,
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

    /// Registers a public client (DCR with `token_endpoint_auth_method: none`).
    async fn register_public_client(&mut self) -> Result<Client, Finding> {
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
            .ok_or_else(|| CouldNotRun(format!("public registration refused: {}", describe(&r))))?;
        Ok(Client {
            client_id: id,
            client_secret: None,
            redirect_uri: redirect,
            auth_method: "none".into(),
            signer: None,
            assertion_aud: None,
        })
    }
}
