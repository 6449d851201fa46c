//! OAuth: registration (RFC 7591), the authorization-code flow with PKCE and `resource`, the
//! token endpoint, and the authorization-server negative matrix.

use super::login::{AuthzEnd, drive};
use super::{Client, Grant, Run, describe, json_error};
use crate::config::Registration;
use crate::http::{Req, Resp};
use crate::model::Finding::{self, *};
use crate::pkce;
use crate::urls;
use serde_json::Value;
use std::time::Instant;
use url::Url;

const DCR_IDS: [&str; 6] = [
    "registration/dcr/advertised",
    "registration/dcr/accepted",
    "registration/dcr/secret-expiry",
    "registration/dcr/reject-http-redirect",
    "registration/dcr/reject-javascript-redirect",
    "registration/dcr/reject-fragment-redirect",
];

/// In this order: advertised, accepted, then the two that need harness-served documents.
const CIMD_IDS: [&str; 4] = [
    "registration/cimd/advertised",
    "registration/cimd/accepted",
    "registration/cimd/client-id-mismatch-rejected",
    "registration/cimd/plural-auth-methods",
];

/// Parameters of one authorization request.
#[derive(Clone, Debug)]
pub struct AuthzRequest {
    pub redirect_uri: String,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub state: String,
    /// `(challenge, method)`; `None` omits PKCE entirely.
    pub pkce: Option<(String, String)>,
    pub client_id: String,
}

/// A callback's parameters.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
}

impl CallbackParams {
    fn from(u: &Url) -> CallbackParams {
        let one = |k: &str| urls::single_param(u, k).ok().flatten();
        CallbackParams {
            code: one("code"),
            state: one("state"),
            iss: one("iss"),
            error: one("error"),
        }
    }
}

impl Run {
    fn asm_str(&self, k: &str) -> Option<String> {
        self.asm
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn iss_supported(&self) -> bool {
        self.asm
            .as_ref()
            .and_then(|a| a.get("authorization_response_iss_parameter_supported"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The `resource` this profile sends: ChatGPT sends the PRM value verbatim; others the URL.
    pub(super) fn resource_param(&self) -> String {
        let prm = self
            .prm
            .as_ref()
            .and_then(|p| p.get("resource"))
            .and_then(Value::as_str);
        match (self.cfg.profile.name, prm) {
            ("chatgpt", Some(r)) => r.to_string(),
            _ => self.mcp_url.to_string(),
        }
    }

    /// Scope selection per MCP: the challenge's `scope`, else PRM `scopes_supported`, else none.
    pub(super) fn scope_param(&self) -> Option<String> {
        self.challenge_scope.clone().or_else(|| {
            let s = super::discovery::strs(self.prm.as_ref()?, "scopes_supported");
            if s.is_empty() {
                None
            } else {
                Some(s.join(" "))
            }
        })
    }

    pub(super) async fn registration(&mut self) {
        if self.asm.is_none() {
            return;
        }
        let redirect = self
            .cfg
            .redirect_uri
            .clone()
            .unwrap_or_else(|| self.cfg.profile.redirect_uri(self.iss_supported()));
        if !matches!(self.cfg.registration, Registration::Cimd { .. }) {
            let mode = match self.cfg.registration {
                Registration::Preregistered { .. } => "preregistered",
                _ => "dcr",
            };
            self.rec_all(
                &CIMD_IDS,
                NotApplicable(format!(
                    "--registration {mode}; CIMD checks run with --registration cimd"
                )),
            );
        }
        if let Registration::Cimd { url } = self.cfg.registration.clone() {
            self.cimd_registration(url, redirect).await;
            return;
        }
        if let Registration::Preregistered {
            client_id,
            client_secret,
        } = self.cfg.registration.clone()
        {
            let na = NotApplicable("--registration preregistered".into());
            self.rec_all(&DCR_IDS, na);
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
            });
            return;
        }
        let Some(reg) = self.asm_str("registration_endpoint") else {
            self.rec("registration/dcr/advertised", Violated("no registration_endpoint: ChatGPT reports \"Error fetching OAuth configuration\"".into()), &[]);
            let why = CouldNotRun(
                "no registration_endpoint; use --registration preregistered --client-id".into(),
            );
            self.rec_all(
                &[
                    "registration/dcr/accepted",
                    "registration/dcr/secret-expiry",
                    "registration/dcr/reject-http-redirect",
                    "registration/dcr/reject-javascript-redirect",
                    "registration/dcr/reject-fragment-redirect",
                ],
                why,
            );
            return;
        };
        self.rec(
            "registration/dcr/advertised",
            Holds(format!("registration_endpoint={reg}")),
            &[],
        );
        let body = self.cfg.profile.dcr_body(std::slice::from_ref(&redirect));
        let Ok(r) = self
            .http
            .send(
                Req::post(
                    format!("register: {} DCR body", self.cfg.profile.name),
                    &reg,
                )
                .json(body),
            )
            .await
        else {
            self.rec(
                "registration/dcr/accepted",
                Violated("registration endpoint unreachable".into()),
                &[],
            );
            return;
        };
        let ev = [r.id];
        if r.status == 429 {
            let why = CouldNotRun(format!(
                "registration is rate-limited (429, Retry-After {:?}); retry later",
                r.header("retry-after")
            ));
            self.rec_all(
                &[
                    "registration/dcr/accepted",
                    "registration/dcr/secret-expiry",
                    "registration/dcr/reject-http-redirect",
                    "registration/dcr/reject-javascript-redirect",
                    "registration/dcr/reject-fragment-redirect",
                ],
                why,
            );
            return;
        }
        let doc = r.json().unwrap_or_default();
        let client_id = doc
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let echoed = super::discovery::strs(&doc, "redirect_uris");
        let f = match (&client_id, r.status) {
            (Some(_), 201) if echoed.contains(&redirect) => {
                Holds("201 with client_id and redirect_uris".into())
            }
            (Some(_), 201) => Violated(format!("redirect_uris not echoed: {echoed:?}")),
            (Some(_), s) => Violated(format!("HTTP {s} instead of 201 Created")),
            (None, _) => Violated(format!("registration refused: {}", describe(&r))),
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
            });
        }
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
                .send(Req::post(format!("register: negative {bad}"), &reg).json(body))
                .await
            {
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
        let na = NotApplicable("--registration cimd".into());
        for id in DCR_IDS {
            self.rec(id, na.clone(), &[]);
        }
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
        let client_id = match url {
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
                let uris = [redirect.clone()];
                match crate::cimd::DocServer::start(|o| crate::cimd::documents(&profile, o, &uris))
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
                        return;
                    }
                }
            }
        };
        self.client = Some(Client {
            client_id,
            client_secret: None,
            redirect_uri: redirect,
            auth_method: "none".into(),
        });
    }

    /// `registration/cimd/accepted`, from how the main authorization went.
    pub(super) fn grade_cimd_accepted(&mut self, authorized: bool) {
        const ID: &str = "registration/cimd/accepted";
        if !matches!(self.cfg.registration, Registration::Cimd { .. }) || self.recorded(ID) {
            return;
        }
        let client_id = self
            .client
            .as_ref()
            .map(|c| c.client_id.clone())
            .unwrap_or_default();
        let f = if authorized {
            Holds(format!(
                "authorized and exchanged a code with client_id={client_id}"
            ))
        } else {
            let why = ["authorize/code-issued", "token/response-json"]
                .iter()
                .filter_map(|k| self.outcome(k))
                .find(|o| o.verdict != crate::model::Verdict::Pass)
                .map(|o| (o.verdict, o.detail.clone()));
            match why {
                Some((crate::model::Verdict::CouldNotRun, d)) => CouldNotRun(d),
                Some((_, d)) => Violated(format!(
                    "the flow with client_id={client_id} did not complete: {d}"
                )),
                None => CouldNotRun("the main authorization did not complete".into()),
            }
        };
        self.rec(ID, f, &[]);
    }

    /// The documents only the harness can serve: a mismatched `client_id` must be refused, and
    /// ChatGPT's plural-list shape (quirk Q14) must be accepted as a public client.
    pub(super) async fn cimd_checks(&mut self) {
        const MISMATCH: &str = "registration/cimd/client-id-mismatch-rejected";
        const PLURAL: &str = "registration/cimd/plural-auth-methods";
        if !matches!(self.cfg.registration, Registration::Cimd { .. })
            || !self.any_on(&[MISMATCH, PLURAL])
            || (self.recorded(MISMATCH) && self.recorded(PLURAL))
        {
            return;
        }
        let Some(docs) = self.cimd_docs.as_ref() else {
            return;
        };
        let (mismatch_id, plural_id) = (
            docs.url(crate::cimd::MISMATCH_PATH),
            docs.url(crate::cimd::PLURAL_PATH),
        );
        if let Err(why) = self.can_reauthorize() {
            self.rec_all(&[MISMATCH, PLURAL], CouldNotRun(why));
            return;
        }
        let Some(main) = self.client.clone() else {
            return;
        };
        if self.on(MISMATCH) {
            let resource = self.resource_param();
            if let Some((mut a, _)) = self.standard_request(Some(resource), self.scope_param()) {
                a.client_id = mismatch_id.clone();
                let f = match self.attempt(&a, &[]).await {
                    AuthzEnd::Page {
                        status, evidence, ..
                    } => (Holds(format!("refused on an HTTP {status} page")), evidence),
                    AuthzEnd::Callback { location, evidence } => {
                        let cb = CallbackParams::from(&location);
                        match (cb.code, cb.error) {
                            (Some(_), _) => (
                                Violated(format!(
                                    "a code was issued to {mismatch_id} although its document's client_id is {}",
                                    main.client_id
                                )),
                                evidence,
                            ),
                            (None, e) => (
                                Holds(format!("refused with a redirect carrying error={e:?}")),
                                evidence,
                            ),
                        }
                    }
                    AuthzEnd::Broken(e) => (CouldNotRun(e), vec![]),
                };
                self.rec(MISMATCH, f.0, &f.1);
            }
        }
        if self.on(PLURAL) {
            let client = Client {
                client_id: plural_id.clone(),
                ..main
            };
            let f = match self
                .obtain(
                    "authorize: CIMD document with singular private_key_jwt",
                    Some(self.resource_param()),
                    self.scope_param(),
                    Some(&client),
                )
                .await
            {
                Ok(_) => Holds(format!(
                    "{plural_id} (token_endpoint_auth_method private_key_jwt, methods_supported [none, private_key_jwt]) authorized as a public client"
                )),
                Err(e) => Violated(format!(
                    "the Q14 document was not accepted as a public client (ChatGPT gets invalid_client): {e}"
                )),
            };
            self.rec(PLURAL, f, &[]);
        }
    }

    /// Builds the authorization URL.
    pub(super) fn authorization_url(&self, a: &AuthzRequest) -> Option<Url> {
        let mut u = Url::parse(&self.asm_str("authorization_endpoint")?).ok()?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &a.client_id)
                .append_pair("redirect_uri", &a.redirect_uri)
                .append_pair("state", &a.state);
            if let Some(s) = &a.scope {
                q.append_pair("scope", s);
            }
            if let Some((c, m)) = &a.pkce {
                q.append_pair("code_challenge", c)
                    .append_pair("code_challenge_method", m);
            }
            if let Some(r) = &a.resource {
                q.append_pair("resource", r);
            }
        }
        Some(u)
    }

    /// A standard request for the run's client with fresh state and PKCE; returns the verifier.
    pub(super) fn standard_request(
        &self,
        resource: Option<String>,
        scope: Option<String>,
    ) -> Option<(AuthzRequest, String)> {
        let c = self.client.as_ref()?;
        let verifier = pkce::verifier();
        Some((
            AuthzRequest {
                redirect_uri: c.redirect_uri.clone(),
                resource,
                scope,
                state: self.cfg.profile.new_state(),
                pkce: Some((pkce::s256(&verifier), "S256".into())),
                client_id: c.client_id.clone(),
            },
            verifier,
        ))
    }

    /// Runs one authorization request through the login driver, stopping at `stops`.
    pub(super) async fn attempt(&mut self, a: &AuthzRequest, extra_stops: &[&str]) -> AuthzEnd {
        let Some(url) = self.authorization_url(a) else {
            return AuthzEnd::Broken("no authorization_endpoint".into());
        };
        let mut stops: Vec<Url> = vec![];
        for s in std::iter::once(a.redirect_uri.as_str()).chain(extra_stops.iter().copied()) {
            if let Ok(u) = Url::parse(s) {
                stops.push(u);
            }
        }
        if let Some(c) = &self.client
            && let Ok(u) = Url::parse(&c.redirect_uri)
        {
            stops.push(u);
        }
        drive(&self.http, &self.cfg.login, &url, &stops).await
    }

    /// Is a second authorization possible without a human?
    pub(super) fn can_reauthorize(&self) -> Result<(), String> {
        match self.cfg.login {
            crate::config::Login::Manual => Err("--login manual: only the main authorization is played; use --login form or command for negative checks".into()),
            crate::config::Login::None => Err("no login driver".into()),
            _ => Ok(()),
        }
    }

    /// Redeems `code` with one parameter wrong and grades check `id`: the exchange must be
    /// refused with `invalid_grant` (`violation` names what a success would mean).
    #[allow(clippy::too_many_arguments)]
    async fn exchange_must_fail(
        &mut self,
        id: &'static str,
        step: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        resource: &str,
        violation: &str,
    ) {
        if let Some(r) = self
            .exchange(
                step,
                code,
                redirect_uri,
                Some(verifier),
                Some(resource),
                None,
            )
            .await
        {
            self.rec(id, grade_rejection(&r, "invalid_grant", violation), &[r.id]);
        }
    }

    /// POSTs to the token endpoint with the client's authentication.
    pub(super) async fn token_request(
        &mut self,
        step: &str,
        mut form: Vec<(String, String)>,
        client: Option<&Client>,
    ) -> Option<Resp> {
        let url = self.asm_str("token_endpoint")?;
        let c = client.cloned().or_else(|| self.client.clone())?;
        let req = c.authenticate(Req::post(step, &url), &mut form);
        let r = self
            .http
            .send(req.header("accept", "application/json").form(form))
            .await
            .ok()?;
        self.note_token_error(&r);
        if r.status == 200
            && let Some(v) = r.json()
        {
            for k in ["access_token", "refresh_token", "id_token"] {
                if let Some(t) = v.get(k).and_then(Value::as_str) {
                    self.http.secret(t);
                }
            }
        }
        Some(r)
    }

    /// Exchanges a code.
    pub(super) async fn exchange(
        &mut self,
        step: &str,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        resource: Option<&str>,
        client: Option<&Client>,
    ) -> Option<Resp> {
        let mut f = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), code.into()),
            ("redirect_uri".into(), redirect_uri.into()),
        ];
        if let Some(v) = verifier {
            f.push(("code_verifier".into(), v.into()));
        }
        if let Some(r) = resource {
            f.push(("resource".into(), r.into()));
        }
        self.token_request(step, f, client).await
    }

    /// Full authorization + exchange for a fresh grant.
    pub(super) async fn obtain(
        &mut self,
        step: &str,
        resource: Option<String>,
        scope: Option<String>,
        client: Option<&Client>,
    ) -> Result<Grant, String> {
        self.can_reauthorize()?;
        let (mut a, verifier) = self
            .standard_request(resource.clone(), scope)
            .ok_or("no client")?;
        if let Some(c) = client {
            a.client_id = c.client_id.clone();
            a.redirect_uri = c.redirect_uri.clone();
        }
        let cb = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, .. } => CallbackParams::from(&location),
            AuthzEnd::Page { status, .. } => {
                return Err(format!(
                    "{step}: authorization stopped on an HTTP {status} page"
                ));
            }
            AuthzEnd::Broken(e) => return Err(format!("{step}: {e}")),
        };
        let code = cb.code.ok_or_else(|| {
            format!(
                "{step}: callback without code ({})",
                cb.error.unwrap_or_default()
            )
        })?;
        let r = self
            .exchange(
                step,
                &code,
                &a.redirect_uri,
                Some(&verifier),
                resource.as_deref(),
                client,
            )
            .await
            .ok_or("token endpoint unreachable")?;
        grant_from(&r, resource)
            .ok_or_else(|| format!("{step}: token request failed: {}", describe(&r)))
    }

    /// The main authorization: the one a real host performs.
    pub(super) async fn authorize_main(&mut self) -> bool {
        if self.client.is_none() || self.asm.is_none() {
            return false;
        }
        let resource = self.resource_param();
        let Some((a, verifier)) = self.standard_request(Some(resource.clone()), self.scope_param())
        else {
            return false;
        };
        let end = self.attempt(&a, &[]).await;
        let (cb, ev) = match end {
            AuthzEnd::Callback { location, evidence } => {
                (CallbackParams::from(&location), evidence)
            }
            AuthzEnd::Page {
                status,
                body,
                evidence,
            } => {
                let snippet: String = body.chars().take(200).collect();
                self.rec(
                    "authorize/code-issued",
                    Violated(format!(
                        "authorization stopped on an HTTP {status} page: {snippet}"
                    )),
                    &evidence,
                );
                return false;
            }
            AuthzEnd::Broken(e) => {
                self.rec("authorize/code-issued", CouldNotRun(e), &[]);
                return false;
            }
        };
        let Some(code) = cb.code.clone() else {
            self.rec(
                "authorize/code-issued",
                Violated(format!("callback without code: error={:?}", cb.error)),
                &ev,
            );
            return false;
        };
        self.rec(
            "authorize/code-issued",
            Holds("callback carries a code".into()),
            &ev,
        );
        self.rec(
            "authorize/state-echoed",
            if cb.state.as_deref() == Some(a.state.as_str()) {
                Holds("state echoed".into())
            } else {
                Violated(format!("state came back as {:?}", cb.state))
            },
            &ev,
        );
        let issuer = self.issuer.clone().unwrap_or_default();
        let advertised = self.iss_supported();
        let f = match (&cb.iss, advertised) {
            (Some(i), _) if *i == issuer => Holds(format!("iss={i}")),
            (Some(i), _) => Violated(format!("iss={i:?} but the issuer is {issuer:?}")),
            (None, true) => Violated("authorization_response_iss_parameter_supported is true but the callback has no iss".into()),
            (None, false) => NotApplicable("RFC 9207 not advertised and no iss sent".into()),
        };
        self.rec("authorize/iss-exact", f, &ev);
        self.rec(
            "authorize/iss-advertised",
            if advertised && cb.iss.is_some() {
                Holds("advertised and sent".into())
            } else {
                Violated(format!(
                    "advertised={advertised}, iss sent={}",
                    cb.iss.is_some()
                ))
            },
            &ev,
        );
        let Some(r) = self
            .exchange(
                "token: exchange code",
                &code,
                &a.redirect_uri,
                Some(&verifier),
                Some(&resource),
                None,
            )
            .await
        else {
            self.rec(
                "token/response-json",
                CouldNotRun("token endpoint unreachable".into()),
                &[],
            );
            return false;
        };
        let tev = [r.id];
        let doc = r.json().unwrap_or_default();
        let ok = r.status == 200
            && r.is_json_type()
            && doc.get("access_token").and_then(Value::as_str).is_some();
        self.rec(
            "token/response-json",
            if ok {
                Holds("200 application/json with access_token".into())
            } else {
                Violated(describe(&r))
            },
            &tev,
        );
        if !ok {
            return false;
        }
        let cc = r.header("cache-control").unwrap_or("").to_ascii_lowercase();
        self.rec(
            "token/no-store",
            if cc.contains("no-store") {
                Holds(format!("Cache-Control: {cc}"))
            } else {
                Violated(format!("Cache-Control: {cc:?}"))
            },
            &tev,
        );
        let tt = doc.get("token_type").and_then(Value::as_str).unwrap_or("");
        self.rec(
            "token/token-type",
            if tt.eq_ignore_ascii_case("bearer") {
                Holds(format!("token_type={tt}"))
            } else {
                Violated(format!("token_type={tt:?}"))
            },
            &tev,
        );
        self.rec(
            "token/expires-in",
            if doc.get("expires_in").is_some_and(Value::is_u64) {
                Holds(format!("expires_in={}", doc["expires_in"]))
            } else {
                Violated("no numeric expires_in".into())
            },
            &tev,
        );
        self.grant = grant_from(&r, Some(resource));
        self.grant.is_some()
    }

    /// Authorization-server negatives: PKCE, redirect URI, resource, code replay.
    pub(super) async fn as_negatives(&mut self) {
        let ids = [
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
        if let Err(why) = self.can_reauthorize() {
            self.rec_all(&ids, CouldNotRun(why));
            return;
        }
        if self.grant.is_none() {
            self.rec_all(
                &ids,
                CouldNotRun("the main authorization did not yield a token".into()),
            );
            return;
        }
        let resource = self.resource_param();
        let scope = self.scope_param();

        // PKCE missing / plain.
        for (id, method) in [
            ("authorize/pkce-required", None),
            ("authorize/pkce-plain-rejected", Some("plain")),
        ] {
            if !self.on(id) {
                continue;
            }
            let Some((mut a, verifier)) =
                self.standard_request(Some(resource.clone()), scope.clone())
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
                                    &code,
                                    &a.redirect_uri,
                                    v,
                                    Some(&resource),
                                    None,
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
                                None => {
                                    (CouldNotRun("token endpoint unreachable".into()), evidence)
                                }
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

        // Redirect URI mismatch at authorize: must not redirect to the unregistered URI.
        if self.on("authorize/redirect-uri-mismatch")
            && let Some((mut a, _)) = self.standard_request(Some(resource.clone()), scope.clone())
        {
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

        // Foreign and malformed resource.
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
            if !wanted {
                continue;
            }
            let Some((a, verifier)) = self.standard_request(Some(res.clone()), scope.clone())
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
                                &code,
                                &a.redirect_uri,
                                Some(&verifier),
                                Some(&res),
                                None,
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
        self.cross_audience_fallback().await;

        // Token endpoint: wrong verifier, redirect mismatch, code replay.
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
            let Some((a, verifier)) = self.standard_request(Some(resource.clone()), scope.clone())
            else {
                return;
            };
            let code = match self.attempt(&a, &[]).await {
                AuthzEnd::Callback { location, .. } => match CallbackParams::from(&location).code {
                    Some(c) => c,
                    None => {
                        self.rec(
                            id,
                            CouldNotRun("authorization did not return a code".into()),
                            &[],
                        );
                        continue;
                    }
                },
                AuthzEnd::Page { status, .. } => {
                    self.rec(
                        id,
                        CouldNotRun(format!("authorization stopped on an HTTP {status} page")),
                        &[],
                    );
                    continue;
                }
                AuthzEnd::Broken(e) => {
                    self.rec(id, CouldNotRun(e), &[]);
                    continue;
                }
            };
            match id {
                "token/pkce-wrong-verifier" => {
                    let wrong = pkce::verifier();
                    self.exchange_must_fail(
                        id,
                        "token: wrong code_verifier",
                        &code,
                        &a.redirect_uri,
                        &wrong,
                        &resource,
                        "tokens issued for a wrong code_verifier",
                    )
                    .await;
                }
                "token/redirect-uri-mismatch" => {
                    let other = format!("{}-other", a.redirect_uri.trim_end_matches('/'));
                    self.exchange_must_fail(
                        id,
                        "token: different redirect_uri",
                        &code,
                        &other,
                        &verifier,
                        &resource,
                        "tokens issued with a different redirect_uri",
                    )
                    .await;
                }
                _ => {
                    let Some(first) = self
                        .exchange(
                            "token: first redemption",
                            &code,
                            &a.redirect_uri,
                            Some(&verifier),
                            Some(&resource),
                            None,
                        )
                        .await
                    else {
                        continue;
                    };
                    let Some(g) = grant_from(&first, Some(resource.clone())) else {
                        self.rec_all(
                            &["token/code-replay", "token/code-replay-revokes"],
                            CouldNotRun(format!("first redemption failed: {}", describe(&first))),
                        );
                        continue;
                    };
                    tokio::time::sleep(self.cfg.replay_delay).await;
                    let Some(second) = self
                        .exchange(
                            "token: replay the same code",
                            &code,
                            &a.redirect_uri,
                            Some(&verifier),
                            Some(&resource),
                            None,
                        )
                        .await
                    else {
                        continue;
                    };
                    self.rec(
                        "token/code-replay",
                        grade_rejection(
                            &second,
                            "invalid_grant",
                            "the same code was redeemed twice",
                        ),
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
                            Some(401) => {
                                Holds("the first token was revoked after the replay".into())
                            }
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
        }
    }
}

/// Grades a token-endpoint response that must be a rejection with `code`.
pub(super) fn grade_rejection(r: &Resp, code: &str, accepted: &str) -> Finding {
    match (r.status, json_error(r)) {
        (200..=299, _) => Violated(accepted.to_string()),
        (400, Some(e)) if e == code => Holds(format!("400 {e}")),
        (s, e) => Advisory(format!(
            "rejected with HTTP {s} error={e:?}; expected 400 {code}"
        )),
    }
}

/// A grant from a successful token response.
pub(super) fn grant_from(r: &Resp, resource: Option<String>) -> Option<Grant> {
    if r.status != 200 {
        return None;
    }
    let v = r.json()?;
    Some(Grant {
        access_token: v.get("access_token")?.as_str()?.to_string(),
        refresh_token: v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_in: v.get("expires_in").and_then(Value::as_u64),
        obtained: Instant::now(),
        resource,
    })
}
