//! Client registration (MCP authorization §2.4): pre-registered clients, Dynamic Client
//! Registration (RFC 7591) with its redirect-URI negatives, and Client ID Metadata Documents.

use crate::config::Registration;
use crate::flow::common::{Client, Run, describe, json_error, strs};
use crate::http::{Req, Resp};
use crate::model::Finding::*;
use crate::profile::{ClientIdSource, DcrInput, Profile};
use serde_json::Value;

/// Every DCR check; the first is `advertised`, the rest need a registration endpoint.
pub(crate) const DCR_IDS: [&str; 7] = [
    "registration/dcr/advertised",
    "registration/dcr/accepted",
    "registration/dcr/secret-expiry",
    "registration/dcr/reject-http-redirect",
    "registration/dcr/reject-javascript-redirect",
    "registration/dcr/reject-fragment-redirect",
    "registration/errors/rfc-code",
];

/// In this order: advertised, accepted, then the two that need harness-served documents.
pub(crate) const CIMD_IDS: [&str; 4] = [
    "registration/cimd/advertised",
    "registration/cimd/accepted",
    "registration/cimd/client-id-mismatch-rejected",
    "registration/cimd/plural-auth-methods",
];

impl Run {
    /// Registers (or takes) the run's client in the configured mode.
    pub(crate) async fn registration(&mut self) {
        if self.asm.is_none() {
            return;
        }
        let redirect = self
            .cfg
            .redirect_uri
            .clone()
            .unwrap_or_else(|| self.cfg.profile.redirect_uri(self.iss_supported()));
        match self.cfg.registration.clone() {
            Registration::Cimd { url } => self.cimd_registration(url, redirect).await,
            Registration::Auto => match self.auto_chooses_cimd() {
                Ok(()) => self.cimd_registration(None, redirect).await,
                Err(why) => {
                    self.rec_all(&CIMD_IDS, NotApplicable(why));
                    self.dcr(redirect).await;
                }
            },
            Registration::Preregistered {
                client_id,
                client_secret,
            } => {
                self.rec_all(
                    &CIMD_IDS,
                    NotApplicable(
                        "--registration preregistered; CIMD checks run with --registration cimd"
                            .into(),
                    ),
                );
                self.rec_all(
                    &DCR_IDS,
                    NotApplicable("--registration preregistered".into()),
                );
                let auth_method = if client_secret.is_some() {
                    "client_secret_post"
                } else {
                    "none"
                }
                .to_string();
                self.client = Some(Client {
                    client_id,
                    client_secret,
                    redirect_uri: redirect,
                    auth_method,
                    signer: None,
                    assertion_aud: None,
                });
            }
            Registration::Dcr => {
                self.rec_all(
                    &CIMD_IDS,
                    NotApplicable(
                        "--registration dcr; CIMD checks run with --registration cimd".into(),
                    ),
                );
                self.dcr(redirect).await;
            }
        }
    }

    /// `--registration auto`: does the profile's client use its metadata document here? `Err`
    /// says why it registers with DCR instead.
    fn auto_chooses_cimd(&self) -> Result<(), String> {
        let p = self.cfg.profile;
        let ClientIdSource::CimdFirst { needs_none } = p.client_id_source else {
            return Err(format!("profile {} registers with DCR", p.name));
        };
        if let Some(s) = self.cfg.spec.as_deref().filter(|s| *s < "2025-11-25") {
            return Err(format!(
                "--spec {s}: Client ID Metadata Documents arrived in 2025-11-25; the client registers with DCR"
            ));
        }
        let asm = self.asm.as_ref();
        if asm
            .and_then(|a| a.get("client_id_metadata_document_supported"))
            .and_then(Value::as_bool)
            != Some(true)
        {
            return Err("the AS does not advertise client_id_metadata_document_supported: true, so the client registers with DCR".into());
        }
        let methods = asm.map(|a| strs(a, "token_endpoint_auth_methods_supported"));
        if needs_none && !methods.is_some_and(|m| m.iter().any(|x| x == "none")) {
            return Err(format!(
                "{} uses its metadata document only when the AS lists `none` in token_endpoint_auth_methods_supported; it registers with DCR",
                p.product
            ));
        }
        if !crate::urls::is_loopback(&self.mcp_url) {
            return Err(format!(
                "{} would use its metadata document, but the harness can serve one only to a target on this machine; registering with DCR (use --registration cimd --cimd-url URL to test a document you host)",
                p.product
            ));
        }
        Ok(())
    }

    /// Dynamic Client Registration with the profile's exact body, then the redirect-URI
    /// negatives. When the body is refused over a private-use redirect URI the profile's client
    /// cannot connect (`compat/connects`), and the harness registers the body without it so the
    /// spec checks still run.
    async fn dcr(&mut self, redirect: String) {
        let Some(reg) = self.asm_str("registration_endpoint") else {
            self.rec("registration/dcr/advertised", Violated("no registration_endpoint: ChatGPT reports \"Error fetching OAuth configuration\"".into()), &[]);
            let why = CouldNotRun(
                "no registration_endpoint; use --registration preregistered --client-id".into(),
            );
            self.rec_all(&DCR_IDS[1..], why);
            return;
        };
        self.rec(
            "registration/dcr/advertised",
            Holds(format!("registration_endpoint={reg}")),
            &[],
        );
        let uris = if self.cfg.redirect_uri.is_some() {
            vec![redirect.clone()]
        } else {
            self.cfg.profile.dcr_redirect_uris(&redirect)
        };
        let Some(mut r) = self.send_dcr(&reg, &uris, "").await else {
            return;
        };
        let mut redirect = redirect;
        if r.status == 400
            && let Some((refused, kept)) = self.private_use_refused(&r, &uris)
        {
            self.compat_blocker = Some(format!(
                "{} cannot register: the server refused its redirect URI {refused} ({}). Fix: accept the private-use URI scheme of this native public client (RFC 8252 §7.1; in gigamcp, --allow-redirect-scheme)",
                self.cfg.profile.product,
                describe(&r)
            ));
            if let Some(first) = kept.first() {
                if !kept.contains(&redirect) {
                    redirect = first.clone();
                }
                match self
                    .send_dcr(&reg, &kept, " without private-use URIs")
                    .await
                {
                    Some(again) => r = again,
                    None => return,
                }
            }
        }
        if r.status == 429 {
            let why = CouldNotRun(format!(
                "registration is rate-limited (429, Retry-After {:?}); retry later",
                r.header("retry-after")
            ));
            self.rec_all(&DCR_IDS[1..], why);
            return;
        }
        self.dcr_accepted(&r, redirect);
        self.dcr_rejects_bad_redirects(&reg).await;
    }

    /// Sends the profile's DCR body with `uris`; `None` (and `dcr/accepted` failed) when the
    /// endpoint is unreachable.
    async fn send_dcr(&mut self, reg: &str, uris: &[String], note: &str) -> Option<Resp> {
        let scope = self.scope_param();
        let as_grants = self.asm.as_ref().map(|a| strs(a, "grant_types_supported"));
        let body = self.cfg.profile.dcr_body_for(&DcrInput {
            redirect_uris: uris,
            scope: scope.as_deref(),
            as_grant_types: as_grants.as_deref().filter(|g| !g.is_empty()),
        });
        let step = format!("register: {} DCR body{note}", self.cfg.profile.name);
        match self.http.send(Req::post(step, reg).json(body)).await {
            Ok(r) => Some(r),
            Err(_) => {
                self.rec(
                    "registration/dcr/accepted",
                    Violated("registration endpoint unreachable".into()),
                    &[],
                );
                None
            }
        }
    }

    /// A refusal that names (or can only be about) a private-use redirect URI of the body:
    /// the refused URI and the body's other URIs.
    fn private_use_refused(&self, r: &Resp, uris: &[String]) -> Option<(String, Vec<String>)> {
        let private: Vec<&String> = uris.iter().filter(|u| Profile::is_private_use(u)).collect();
        if private.is_empty() {
            return None;
        }
        let said = r.body.clone();
        let refused = private
            .iter()
            .find(|u| said.contains(u.as_str()))
            .or_else(|| private.first())
            .map(|u| u.to_string())?;
        let kept = uris
            .iter()
            .filter(|u| !Profile::is_private_use(u))
            .cloned()
            .collect();
        Some((refused, kept))
    }

    /// `--registration auto` chose the harness-served metadata document, the main authorization
    /// failed, and the target never fetched the document: an SSRF guard that refuses loopback
    /// URLs (right for production; the real client's document is on a public https origin). The
    /// client's document is not what failed, so the run falls back to DCR: the outcomes the
    /// attempt recorded (those not in `before`) are dropped and the client registers again.
    /// Returns whether it did.
    pub(crate) async fn cimd_unfetched_fallback(&mut self, before: &[&'static str]) -> bool {
        let unfetched = self
            .cimd_docs
            .as_ref()
            .is_some_and(|d| !d.was_fetched(crate::cimd::MAIN_PATH));
        if !matches!(self.cfg.registration, Registration::Auto) || !self.via_cimd || !unfetched {
            return false;
        }
        let redirect = match self.client.take() {
            Some(c) => c.redirect_uri,
            None => return false,
        };
        self.outcomes.retain(|k, _| before.contains(k));
        for id in DCR_IDS.iter().chain(&CIMD_IDS[1..]) {
            self.outcomes.remove(id);
        }
        self.via_cimd = false;
        self.cimd_docs = None;
        self.cimd_key = None;
        self.rec_all(
            &CIMD_IDS[1..],
            NotApplicable(format!(
                "the target never fetched the harness's metadata document at its loopback URL (an SSRF guard refusing loopback URLs is right in production; {} publishes its document on a public https origin). Registered with DCR instead; to test CIMD against a local server, let it fetch loopback documents (gigamcp: --cimd-allow-http-loopback)",
                self.cfg.profile.product
            )),
        );
        self.dcr(redirect).await;
        self.client.is_some()
    }

    /// `registration/dcr/{accepted,secret-expiry}`; keeps the registered client.
    fn dcr_accepted(&mut self, r: &Resp, redirect: String) {
        let ev = [r.id];
        let doc = r.json().unwrap_or_default();
        let client_id = doc
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let echoed = strs(&doc, "redirect_uris");
        let f = match (&client_id, r.status) {
            (Some(_), 201) if echoed.contains(&redirect) => {
                Holds("201 with client_id and redirect_uris".into())
            }
            (Some(_), 201) => Violated(format!("redirect_uris not echoed: {echoed:?}")),
            (Some(_), s) => Violated(format!("HTTP {s} instead of 201 Created")),
            (None, _) => Violated(format!("registration refused: {}", describe(r))),
        };
        self.rec("registration/dcr/accepted", f, &ev);
        let secret = doc
            .get("client_secret")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(s) = &secret {
            self.http.secret(s);
            let f = if doc
                .get("client_secret_expires_at")
                .is_some_and(Value::is_u64)
            {
                Holds("client_secret_expires_at present".into())
            } else {
                Violated("client_secret issued without client_secret_expires_at".into())
            };
            self.rec("registration/dcr/secret-expiry", f, &ev);
        } else {
            self.rec(
                "registration/dcr/secret-expiry",
                NotApplicable("no client_secret issued (public client)".into()),
                &ev,
            );
        }
        if let Some(client_id) = client_id {
            let auth_method = doc
                .get("token_endpoint_auth_method")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if secret.is_some() {
                        "client_secret_basic".into()
                    } else {
                        "none".into()
                    }
                });
            self.client = Some(Client {
                client_id,
                client_secret: secret,
                redirect_uri: redirect,
                auth_method,
                signer: None,
                assertion_aud: None,
            });
        }
    }

    /// `registration/dcr/reject-{http,javascript,fragment}-redirect` (RFC 7591 §2, §3.2.2).
    async fn dcr_rejects_bad_redirects(&mut self, reg: &str) {
        for (id, bad) in [
            (
                "registration/dcr/reject-http-redirect",
                "http://attacker.example/callback",
            ),
            (
                "registration/dcr/reject-javascript-redirect",
                "javascript:alert(document.domain)//",
            ),
            (
                "registration/dcr/reject-fragment-redirect",
                "https://client.example/callback#frag",
            ),
        ] {
            if !self.on(id) {
                continue;
            }
            let body = self.cfg.profile.dcr_body(&[bad.to_string()]);
            if let Ok(r) = self
                .http
                .send(Req::post(format!("register: negative {bad}"), reg).json(body))
                .await
            {
                self.note_mistake(
                    crate::flow::common::run::Endpoint::Registration,
                    &format!("register: negative {bad}"),
                    &r,
                );
                let err = json_error(&r);
                let f = match (r.status, err.as_deref()) {
                    (429, _) => {
                        CouldNotRun("registration is rate-limited (429); retry later".into())
                    }
                    (400, Some("invalid_redirect_uri" | "invalid_client_metadata")) => {
                        Holds(format!("400 {}", err.unwrap_or_default()))
                    }
                    (s, _) if (200..300).contains(&s) => {
                        Violated(format!("registered a client with redirect URI {bad:?}"))
                    }
                    (400, e) => Advisory(format!(
                        "rejected with 400 but error={e:?}; RFC 7591 §3.2.2 says invalid_redirect_uri"
                    )),
                    (_, _) => Advisory(format!(
                        "rejected, but with {} instead of 400 invalid_redirect_uri",
                        describe(&r)
                    )),
                };
                self.rec(id, f, &[r.id]);
            }
        }
    }

    /// `--registration cimd`: grade the advertisement, then use a URL `client_id` (the user's
    /// document, or the harness's own served on loopback).
    async fn cimd_registration(&mut self, url: Option<String>, redirect: String) {
        let na = NotApplicable(match self.cfg.registration {
            Registration::Auto => format!(
                "{} uses its Client ID Metadata Document here",
                self.cfg.profile.product
            ),
            _ => "--registration cimd".into(),
        });
        self.rec_all(&DCR_IDS, na);
        self.via_cimd = true;
        let advertised = self
            .asm
            .as_ref()
            .and_then(|a| a.get("client_id_metadata_document_supported"))
            .and_then(Value::as_bool)
            == Some(true);
        let f = match self.cfg.spec.as_deref() {
            Some(s) if s < "2025-11-25" => NotApplicable(format!(
                "--spec {s}: Client ID Metadata Documents arrived in 2025-11-25"
            )),
            _ if advertised => Holds("client_id_metadata_document_supported: true".into()),
            _ => Violated(
                "AS metadata does not advertise client_id_metadata_document_supported: true".into(),
            ),
        };
        self.rec("registration/cimd/advertised", f, &[]);
        if !advertised {
            self.rec_all(
                &CIMD_IDS[1..],
                NotApplicable(
                    "the AS does not advertise client_id_metadata_document_supported: true".into(),
                ),
            );
            return;
        }
        // ChatGPT's document offers private_key_jwt (RS256, keys at its jwks_uri) and prefers it
        // whenever the AS advertises it (spec step 4b, OA-auth); the harness does the same with
        // its own key, published next to the document it serves.
        let advertised_methods: Vec<String> = self
            .asm
            .as_ref()
            .and_then(|a| a.get("token_endpoint_auth_methods_supported"))
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let signer = (url.is_none()
            && self.cfg.profile.cimd_private_key_jwt
            && advertised_methods.iter().any(|m| m == "private_key_jwt"))
        .then(crate::jwt::ClientKey::generate)
        .and_then(Result::ok)
        .map(std::sync::Arc::new);
        self.cimd_key = signer.clone();
        let Some(client_id) = self.cimd_client_id(url, &redirect).await else {
            return;
        };
        let token_endpoint = self.asm_str("token_endpoint");
        self.client = Some(match (signer, token_endpoint) {
            (Some(key), Some(aud)) => Client {
                client_id,
                client_secret: None,
                redirect_uri: redirect,
                auth_method: "private_key_jwt".into(),
                signer: Some(key),
                assertion_aud: Some(aud),
            },
            _ => Client {
                client_id,
                client_secret: None,
                redirect_uri: redirect,
                auth_method: "none".into(),
                signer: None,
                assertion_aud: None,
            },
        });
    }

    /// The URL `client_id`: `--cimd-url`, else the harness's own document served on loopback.
    async fn cimd_client_id(&mut self, url: Option<String>, redirect: &str) -> Option<String> {
        Some(match url {
            Some(u) => {
                self.rec_all(
                    &CIMD_IDS[2..],
                    NotApplicable(
                        "--cimd-url given: these checks need the harness-served documents (omit --cimd-url against a local target)"
                            .into(),
                    ),
                );
                u
            }
            None => {
                let profile = self.cfg.profile;
                let uris = [redirect.to_string()];
                let jwks = self.cimd_key.as_ref().map(|k| k.jwks());
                match crate::cimd::DocServer::start(|o| {
                    crate::cimd::documents(&profile, o, &uris, jwks.as_ref())
                })
                .await
                {
                    Ok(server) => {
                        let u = server.url(crate::cimd::MAIN_PATH);
                        self.cimd_docs = Some(server);
                        u
                    }
                    Err(e) => {
                        self.rec_all(
                            &CIMD_IDS[1..],
                            CouldNotRun(format!(
                                "could not serve the metadata documents on loopback: {e}"
                            )),
                        );
                        return None;
                    }
                }
            }
        })
    }
}
