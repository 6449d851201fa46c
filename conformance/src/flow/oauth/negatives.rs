//! Authorization-server negatives (OAuth 2.1 §4.1, §7.5; RFC 7636; RFC 8707; RFC 9700
//! §4.2): PKCE missing or plain, unregistered redirect URI, foreign or malformed resource, and at
//! the token endpoint a wrong verifier, a different redirect URI, and code replay.

use crate::flow::common::Client;
use crate::flow::common::authz::{AuthzRequest, CallbackParams};
use crate::flow::common::json::grade_rejection;
use crate::flow::common::run::Endpoint;
use crate::flow::common::token::{Redeem, grant_from};
use crate::flow::common::{Run, describe, json_error};
use crate::flow::login::AuthzEnd;
use crate::model::Finding::{self, *};
use crate::pkce;
use serde_json::Value;

const IDS: [&str; 9] = [
    "authorize/pkce-required",
    "authorize/pkce-plain-rejected",
    "authorize/redirect-uri-mismatch",
    "authorize/resource-foreign",
    "authorize/resource-malformed",
    "token/pkce-wrong-verifier",
    "token/code-replay",
    "token/code-replay-revokes",
    "token/redirect-uri-mismatch",
];

impl Run {
    /// Can the negatives run (a second authorization without a human, after a main grant)? If
    /// not, records why for each of them.
    pub(crate) fn as_negatives_ready(&mut self) -> bool {
        if let Err(why) = self.can_reauthorize() {
            self.rec_all(&IDS, CouldNotRun(why));
            return false;
        }
        if self.grant.is_none() {
            self.rec_all(
                &IDS,
                CouldNotRun("the main authorization did not yield a token".into()),
            );
            return false;
        }
        true
    }

    /// The authorization endpoint's negatives: PKCE, redirect URI, resource.
    pub(crate) async fn authorize_negatives(&mut self) {
        for (id, method) in [
            ("authorize/pkce-required", None),
            ("authorize/pkce-plain-rejected", Some("plain")),
        ] {
            if self.on(id) {
                self.pkce_negative(id, method).await;
            }
        }
        if self.on("authorize/redirect-uri-mismatch") {
            self.redirect_uri_mismatch().await;
        }
        let foreign = "https://resource.invalid/mcp".to_string();
        let malformed = format!("{}#fragment", self.mcp_url);
        for (id, res, keep) in [
            ("authorize/resource-foreign", foreign, true),
            ("authorize/resource-malformed", malformed, false),
        ] {
            let wanted = self.on(id)
                || (keep
                    && self.on("rs/audience/cross-workspace")
                    && self.cfg.second_resource.is_none());
            if wanted {
                self.resource_negative(id, res, keep).await;
            }
        }
    }

    /// `authorize/pkce-required` (`method` = None) and `authorize/pkce-plain-rejected`.
    async fn pkce_negative(&mut self, id: &'static str, method: Option<&str>) {
        let resource = self.resource_param();
        let Some((mut a, verifier)) =
            self.standard_request(Some(resource.clone()), self.scope_param())
        else {
            return;
        };
        a.pkce = method.map(|m| (verifier.clone(), m.to_string()));
        let what = if method.is_some() {
            "code_challenge_method=plain"
        } else {
            "no code_challenge"
        };
        let f = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, evidence } => {
                let cb = CallbackParams::from(&location);
                match cb.code {
                    None => (
                        Holds(format!("refused with error={:?}", cb.error)),
                        evidence,
                    ),
                    Some(code) => {
                        let v = method.map(|_| verifier.as_str());
                        match self
                            .exchange(
                                "token: redeem code issued without S256",
                                Redeem {
                                    verifier: v,
                                    resource: Some(&resource),
                                    ..Redeem::new(&code, &a.redirect_uri)
                                },
                            )
                            .await
                        {
                            Some(r) if r.status == 200 => (
                                Violated(format!(
                                    "a code was issued for {what} and redeemed for tokens"
                                )),
                                vec![r.id],
                            ),
                            Some(r) => (
                                Advisory(format!(
                                    "a code was issued for {what}; the token endpoint then refused it ({})",
                                    describe(&r)
                                )),
                                vec![r.id],
                            ),
                            None => (CouldNotRun("token endpoint unreachable".into()), evidence),
                        }
                    }
                }
            }
            AuthzEnd::Page {
                status, evidence, ..
            } => (
                Holds(format!("refused with an HTTP {status} page")),
                evidence,
            ),
            AuthzEnd::Broken(e) => (CouldNotRun(e), vec![]),
        };
        self.rec(id, f.0, &f.1);
    }

    /// `authorize/redirect-uri-mismatch`: must not redirect to an unregistered URI.
    async fn redirect_uri_mismatch(&mut self) {
        let Some((mut a, _)) =
            self.standard_request(Some(self.resource_param()), self.scope_param())
        else {
            return;
        };
        let evil = "https://attacker.example/callback".to_string();
        a.redirect_uri = evil.clone();
        let f = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, evidence }
                if location.host_str() == Some("attacker.example") =>
            {
                (
                    Violated(format!(
                        "redirected to the unregistered URI: {}",
                        self.http.redactor.url(location.as_str())
                    )),
                    evidence,
                )
            }
            AuthzEnd::Callback { evidence, .. } => (
                Advisory(
                    "redirected to the registered callback instead of showing an error".into(),
                ),
                evidence,
            ),
            AuthzEnd::Page {
                status, evidence, ..
            } => (
                Holds(format!("error page (HTTP {status}), no redirect")),
                evidence,
            ),
            AuthzEnd::Broken(e) => (CouldNotRun(e), vec![]),
        };
        self.rec("authorize/redirect-uri-mismatch", f.0, &f.1);
    }

    /// `authorize/resource-foreign` (`keep`: its token serves `rs/audience/cross-workspace`)
    /// and `authorize/resource-malformed`: `invalid_target` (RFC 8707 §2).
    async fn resource_negative(&mut self, id: &'static str, res: String, keep: bool) {
        let Some((a, verifier)) = self.standard_request(Some(res.clone()), self.scope_param())
        else {
            return;
        };
        let f: (Finding, Vec<usize>) = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, evidence } => {
                let cb = CallbackParams::from(&location);
                match (cb.code, cb.error) {
                    (_, Some(e)) if e == "invalid_target" => {
                        (Holds("error=invalid_target".into()), evidence)
                    }
                    (_, Some(e)) => (
                        Advisory(format!(
                            "refused with error={e}; RFC 8707 says invalid_target"
                        )),
                        evidence,
                    ),
                    (Some(code), None) => match self
                        .exchange(
                            "token: redeem code for a foreign resource",
                            Redeem::new(&code, &a.redirect_uri).full(&verifier, &res),
                        )
                        .await
                    {
                        Some(r) if r.status == 200 => {
                            if keep {
                                self.foreign_token = r.json().and_then(|v| {
                                    v.get("access_token")
                                        .and_then(Value::as_str)
                                        .map(str::to_string)
                                });
                            }
                            (
                                Violated(format!("a token was minted for resource {res:?}")),
                                vec![r.id],
                            )
                        }
                        Some(r) if json_error(&r).as_deref() == Some("invalid_target") => (
                            Holds("refused at the token endpoint with invalid_target".into()),
                            vec![r.id],
                        ),
                        Some(r) => (
                            Advisory(format!(
                                "code issued, then token refused with {}; RFC 8707 says invalid_target",
                                describe(&r)
                            )),
                            vec![r.id],
                        ),
                        None => (CouldNotRun("token endpoint unreachable".into()), evidence),
                    },
                    (None, None) => (
                        Violated("callback with neither code nor error".into()),
                        evidence,
                    ),
                }
            }
            AuthzEnd::Page {
                status,
                body,
                evidence,
            } => {
                if body.contains("invalid_target") {
                    (
                        Holds(format!("HTTP {status} page naming invalid_target")),
                        evidence,
                    )
                } else {
                    (
                        Advisory(format!(
                            "refused with an HTTP {status} page that does not name invalid_target"
                        )),
                        evidence,
                    )
                }
            }
            AuthzEnd::Broken(e) => (CouldNotRun(e), vec![]),
        };
        if keep && matches!(f.0, Holds(_) | Advisory(_)) {
            self.foreign_refused = true;
        }
        self.rec(id, f.0, &f.1);
    }

    /// The token endpoint's negatives, each on a fresh code.
    pub(crate) async fn token_negatives(&mut self) {
        for id in [
            "token/pkce-wrong-verifier",
            "token/redirect-uri-mismatch",
            "token/code-replay",
        ] {
            let needed =
                self.on(id) || (id == "token/code-replay" && self.on("token/code-replay-revokes"));
            if !needed {
                continue;
            }
            let Some((a, verifier, code)) = self.fresh_code(id).await else {
                continue;
            };
            let resource = self.resource_param();
            let good = Redeem::new(&code, &a.redirect_uri).full(&verifier, &resource);
            match id {
                "token/pkce-wrong-verifier" => {
                    let wrong = pkce::verifier();
                    self.exchange_must_fail(
                        id,
                        "token: wrong code_verifier",
                        Redeem::new(&code, &a.redirect_uri).full(&wrong, &resource),
                        "tokens issued for a wrong code_verifier",
                    )
                    .await;
                }
                "token/redirect-uri-mismatch" => {
                    let other = format!("{}-other", a.redirect_uri.trim_end_matches('/'));
                    self.exchange_must_fail(
                        id,
                        "token: different redirect_uri",
                        Redeem {
                            redirect_uri: &other,
                            ..good
                        },
                        "tokens issued with a different redirect_uri",
                    )
                    .await;
                }
                _ => self.code_replay(good).await,
            }
        }
        self.token_error_probes().await;
    }

    /// Mistakes that need no authorization: an unknown grant type, wrong client credentials,
    /// and a malformed `resource` (with a code that was never issued). Graded by
    /// `token/errors/unsupported-grant-type`, `token/errors/invalid-client` and the
    /// `token/errors/*` aggregates.
    pub(crate) async fn token_error_probes(&mut self) {
        let on = |r: &Run, ids: &[&str]| r.any_on(ids) || r.any_on(AGGREGATES);
        const AGGREGATES: &[&str] = &[
            "token/errors/client-error-status",
            "token/errors/rfc-code",
            "errors/no-5xx-on-mistakes",
        ];
        let Some(client) = self.client.clone() else {
            return;
        };
        let bogus_code = format!("conformance-never-issued-{}", crate::pkce::verifier());
        if on(self, &["token/errors/unsupported-grant-type"]) {
            let step = "token: unknown grant_type";
            let form = vec![(
                "grant_type".to_string(),
                "urn:gigamcp:conformance:unknown-grant".to_string(),
            )];
            if let Some(r) = self.token_request(step, form, None).await {
                self.note_mistake(Endpoint::Token, step, &r);
                let f = match (r.status, json_error(&r).as_deref()) {
                    (400, Some("unsupported_grant_type")) => {
                        Holds("400 unsupported_grant_type".into())
                    }
                    (s, _) if (200..300).contains(&s) => Violated(format!(
                        "an unknown grant type was answered {}",
                        describe(&r)
                    )),
                    _ => Violated(format!(
                        "got {}; expected 400 unsupported_grant_type",
                        describe(&r)
                    )),
                };
                self.rec("token/errors/unsupported-grant-type", f, &[r.id]);
            }
        }
        if on(self, &["token/errors/invalid-client"]) {
            let (step, wrong) = match &client.client_secret {
                Some(_) => (
                    "token: wrong client secret",
                    Client {
                        client_secret: Some(format!("wrong-{}", crate::pkce::verifier())),
                        ..client.clone()
                    },
                ),
                None => (
                    "token: unknown client",
                    Client {
                        client_id: format!("conformance-unknown-client-{}", &bogus_code[25..33]),
                        ..client.clone()
                    },
                ),
            };
            let basic = wrong.auth_method == "client_secret_basic" && wrong.client_secret.is_some();
            let form = vec![
                ("grant_type".to_string(), "authorization_code".to_string()),
                ("code".into(), bogus_code.clone()),
                ("redirect_uri".into(), client.redirect_uri.clone()),
            ];
            if let Some(r) = self.token_request(step, form, Some(&wrong)).await {
                self.note_mistake(Endpoint::Token, step, &r);
                let f = match (r.status, json_error(&r).as_deref()) {
                    (401, Some("invalid_client")) => Holds("401 invalid_client".into()),
                    (400, Some("invalid_client")) if !basic => Holds("400 invalid_client".into()),
                    (400, Some("invalid_client")) => Violated(
                        "400 invalid_client for a client that used HTTP Basic; RFC 6749 §5.2 requires 401".into(),
                    ),
                    _ => Violated(format!(
                        "{} got {}; expected invalid_client",
                        if client.client_secret.is_some() { "a wrong client secret" } else { "an unknown client_id" },
                        describe(&r)
                    )),
                };
                self.rec("token/errors/invalid-client", f, &[r.id]);
            }
        }
        if self.any_on(AGGREGATES) {
            let step = "token: malformed resource";
            let form = vec![
                ("grant_type".to_string(), "authorization_code".to_string()),
                ("code".into(), bogus_code),
                ("redirect_uri".into(), client.redirect_uri.clone()),
                ("resource".into(), "not a URI#fragment".into()),
            ];
            if let Some(r) = self.token_request(step, form, None).await {
                self.note_mistake(Endpoint::Token, step, &r);
            }
        }
    }

    /// A fresh authorization code for check `id` (records "could not run" when none comes).
    async fn fresh_code(&mut self, id: &'static str) -> Option<(AuthzRequest, String, String)> {
        let (a, verifier) =
            self.standard_request(Some(self.resource_param()), self.scope_param())?;
        let code = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, .. } => match CallbackParams::from(&location).code {
                Some(c) => c,
                None => {
                    self.rec(
                        id,
                        CouldNotRun("authorization did not return a code".into()),
                        &[],
                    );
                    return None;
                }
            },
            AuthzEnd::Page { status, .. } => {
                self.rec(
                    id,
                    CouldNotRun(format!("authorization stopped on an HTTP {status} page")),
                    &[],
                );
                return None;
            }
            AuthzEnd::Broken(e) => {
                self.rec(id, CouldNotRun(e), &[]);
                return None;
            }
        };
        Some((a, verifier, code))
    }

    /// `token/code-replay` and `token/code-replay-revokes` (OAuth 2.1 §4.1.3; RFC 9700 §4.2.4).
    async fn code_replay(&mut self, good: Redeem<'_>) {
        let resource = good.resource.map(str::to_string);
        let Some(first) = self.exchange("token: first redemption", good).await else {
            return;
        };
        let Some(g) = grant_from(&first, resource) else {
            self.rec_all(
                &["token/code-replay", "token/code-replay-revokes"],
                CouldNotRun(format!("first redemption failed: {}", describe(&first))),
            );
            return;
        };
        tokio::time::sleep(self.cfg.replay_delay).await;
        let Some(second) = self.exchange("token: replay the same code", good).await else {
            return;
        };
        self.note_mistake(Endpoint::Token, "token: replay the same code", &second);
        self.rec(
            "token/code-replay",
            grade_rejection(&second, "invalid_grant", "the same code was redeemed twice"),
            &[first.id, second.id],
        );
        if second.status == 200 {
            self.rec(
                "token/code-replay-revokes",
                CouldNotRun("the replay was accepted (see token/code-replay)".into()),
                &[second.id],
            );
        } else if self.on("token/code-replay-revokes") {
            let (status, rid) = self
                .probe_token(&g.access_token, "rs: token from a replayed code")
                .await;
            let f = match status {
                Some(401) => Holds("the first token was revoked after the replay".into()),
                Some(s) if (200..300).contains(&s) => Violated(format!(
                    "tokens issued from the replayed code still work (replayed after {} s; \
                     a server that treats a prompt identical retry as benign revokes only \
                     after its window: see --replay-delay)",
                    self.cfg.replay_delay.as_secs()
                )),
                Some(s) => Advisory(format!("the first token now gets HTTP {s}")),
                None => CouldNotRun("MCP endpoint unreachable".into()),
            };
            self.rec("token/code-replay-revokes", f, &rid);
        }
    }
}
