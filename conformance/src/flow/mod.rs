//! The connector flow, step by step, grading checks as it goes.
//!
//! One [`Run`] holds what was discovered so far (metadata, client, tokens, negotiated
//! revision). Phases run in the order a real host runs them; a phase whose prerequisite failed
//! records "could not run" with the reason for each of its checks, never a pass.
//!
//! Layout: `discovery` (401 challenge, PRM, AS metadata), `oauth` (registration, authorization
//! with login drivers, token, authorization-server negatives), `mcp` (JSON-RPC client, MCP
//! checks after authorization), `batch` (JSON-RPC batches per revision), `modern` (2026-07-28
//! transport rules), `rs` (resource-server negative matrix), `lifecycle` (refresh, revocation,
//! expiry), `robustness` (proptest fuzzing of the authorized endpoint, run last).

mod batch;
pub mod browser;
mod discovery;
mod lifecycle;
pub mod login;
mod mcp;
mod modern;
mod oauth;
mod robustness;
mod rs;

use crate::checks;
use crate::config::Config;
use crate::http::{Http, Resp};
use crate::model::{Finding, Outcome, grade};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use url::Url;

pub use mcp::Rpc;

/// A registered (or pre-registered) client.
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub auth_method: String,
}

impl Client {
    /// Adds this client's authentication to a token-endpoint-style request: HTTP Basic with
    /// form-urlencoded credentials (RFC 6749 §2.3.1), secret in the form, or `client_id` alone
    /// for a public client.
    pub fn authenticate(
        &self,
        req: crate::http::Req,
        form: &mut Vec<(String, String)>,
    ) -> crate::http::Req {
        match (self.auth_method.as_str(), &self.client_secret) {
            ("client_secret_basic", Some(s)) => {
                use base64::Engine;
                let enc = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                let cred = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&self.client_id),
                    enc(s)
                ));
                req.header("authorization", format!("Basic {cred}"))
            }
            (_, Some(s)) => {
                form.push(("client_id".into(), self.client_id.clone()));
                form.push(("client_secret".into(), s.clone()));
                req
            }
            (_, None) => {
                form.push(("client_id".into(), self.client_id.clone()));
                req
            }
        }
    }
}

/// Tokens from one grant.
#[derive(Clone, Debug)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub obtained: Instant,
    pub resource: Option<String>,
}

/// Negotiated MCP session state.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub revision: String,
    pub session_id: Option<String>,
}

/// What a run produced.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunResult {
    pub target: String,
    pub profile: &'static str,
    pub spec: String,
    pub negotiated: Option<String>,
    pub strict: bool,
    pub outcomes: Vec<Outcome>,
    pub exchanges: Vec<crate::http::Exchange>,
    /// Time from revocation to the MCP endpoint rejecting the token.
    pub revocation_latency_ms: Option<u128>,
    /// Set when the run could not proceed at all (exit code 2).
    pub fatal: Option<String>,
    /// `--allow-incomplete`: MUSTs that could not run do not make the exit code 2.
    pub allow_incomplete: bool,
    /// 429 responses the client waited out (`Retry-After`) before retrying.
    pub rate_limit_waits: Vec<crate::http::RateLimitWait>,
}

/// Mutable state of one run.
pub struct Run {
    pub cfg: Config,
    pub http: Http,
    pub mcp_url: Url,
    outcomes: HashMap<&'static str, Outcome>,
    // Discovery
    pub prm: Option<Value>,
    pub issuer: Option<String>,
    pub asm: Option<Value>,
    pub challenge_scope: Option<String>,
    // OAuth
    pub client: Option<Client>,
    pub grant: Option<Grant>,
    /// A token the AS minted for a resource that is not the target (from `authorize/resource-foreign`).
    pub foreign_token: Option<String>,
    /// The AS refused to authorize a foreign resource.
    pub foreign_refused: bool,
    // MCP
    pub session: Option<Session>,
    pub tools: Vec<Value>,
    /// The tools of a 2026-07-28 `tools/list` (they may carry `x-mcp-header` annotations).
    pub modern_tools: Option<Vec<Value>>,
    /// The first URI `resources/list` returned, if any.
    pub first_resource: Option<String>,
    pub server_capabilities: Value,
    /// Outcome of the `server/discover` probe: `None` = not tried yet.
    pub discover: Option<Result<Value, String>>,
    // Aggregates graded at the end
    token_errors: Vec<(usize, Option<String>)>,
    rs_401s: Vec<(usize, bool, Option<String>)>,
    envelope_problems: Vec<(usize, String)>,
    envelope_count: usize,
    content_type_problems: Vec<(usize, String)>,
    rpc_count: usize,
    /// 2026-07-28 results seen, and those lacking `resultType`.
    modern_results: usize,
    result_type_problems: Vec<(usize, String)>,
    pub revocation_latency: Option<Duration>,
    next_id: u64,
    /// Client metadata documents the harness serves (`--registration cimd` without a URL).
    cimd_docs: Option<crate::cimd::DocServer>,
}

impl Run {
    pub fn new(cfg: Config) -> anyhow::Result<Run> {
        let mcp_url = crate::urls::parse_mcp_url(&cfg.mcp_url).map_err(anyhow::Error::msg)?;
        let http = Http::new(cfg.profile.user_agent, cfg.headers.clone(), cfg.timeout)?;
        if let Some(t) = &cfg.access_token {
            http.secret(t);
        }
        if let crate::config::Login::Form { password, .. } = &cfg.login {
            http.secret(password);
        }
        if let crate::config::Registration::Preregistered {
            client_secret: Some(s),
            ..
        } = &cfg.registration
        {
            http.secret(s);
        }
        Ok(Run {
            cfg,
            http,
            mcp_url,
            outcomes: HashMap::new(),
            prm: None,
            issuer: None,
            asm: None,
            challenge_scope: None,
            client: None,
            grant: None,
            foreign_token: None,
            foreign_refused: false,
            session: None,
            tools: Vec::new(),
            first_resource: None,
            modern_tools: None,
            server_capabilities: Value::Null,
            discover: None,
            token_errors: Vec::new(),
            rs_401s: Vec::new(),
            envelope_problems: Vec::new(),
            envelope_count: 0,
            content_type_problems: Vec::new(),
            rpc_count: 0,
            modern_results: 0,
            result_type_problems: Vec::new(),
            revocation_latency: None,
            next_id: 0,
            cimd_docs: None,
        })
    }

    /// Is this check selected (`--only`/`--skip`)?
    pub fn on(&self, id: &str) -> bool {
        self.cfg.selected(id)
    }

    /// Is any check under these ids selected?
    pub fn any_on(&self, ids: &[&str]) -> bool {
        ids.iter().any(|i| self.on(i))
    }

    /// Records a finding for a check (first finding wins).
    pub fn rec(&mut self, id: &'static str, finding: Finding, evidence: &[usize]) {
        let def = checks::find(id).unwrap_or_else(|| panic!("check {id} is not in the registry"));
        if !self.on(id) || self.outcomes.contains_key(id) {
            return;
        }
        let (verdict, detail) = grade(def.level, &finding, self.cfg.strict);
        self.outcomes.insert(
            id,
            Outcome {
                id: def.id,
                level: def.level,
                title: def.title,
                refs: def.refs,
                verdict,
                detail,
                evidence: evidence.to_vec(),
            },
        );
    }

    /// Records the same non-pass finding for several checks.
    pub fn rec_all(&mut self, ids: &[&'static str], finding: Finding) {
        for id in ids {
            self.rec(id, finding.clone(), &[]);
        }
    }

    pub fn recorded(&self, id: &str) -> bool {
        self.outcomes.contains_key(id)
    }

    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.get(id)
    }

    pub fn next_rpc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Notes a token endpoint error response for `token/errors-json`.
    pub fn note_token_error(&mut self, r: &Resp) {
        if r.status >= 400 {
            let problem = match r.json() {
                Some(v) if r.is_json_type() && v.get("error").and_then(Value::as_str).is_some() => {
                    None
                }
                Some(_) if !r.is_json_type() => Some(format!(
                    "HTTP {} with Content-Type {:?}",
                    r.status,
                    r.content_type()
                )),
                Some(_) => Some(format!(
                    "HTTP {} JSON body without an `error` string",
                    r.status
                )),
                None => Some(format!(
                    "HTTP {} body is not JSON ({})",
                    r.status,
                    if r.is_html() { "HTML" } else { "unparseable" }
                )),
            };
            self.token_errors.push((r.id, problem));
        }
    }

    /// Notes a 401 from the MCP endpoint for `rs/errors/*`. `presented` = a token was sent.
    pub fn note_rs_401(&mut self, r: &Resp, presented: bool) {
        if r.status == 401 {
            let p = crate::wwwauth::parse_all(r.headers_all("www-authenticate"));
            let err = p
                .bearer()
                .and_then(|b| b.param("error"))
                .map(str::to_string);
            let has_bearer = p.bearer().is_some();
            self.rs_401s.push((
                r.id,
                presented,
                if has_bearer {
                    Some(err.unwrap_or_default())
                } else {
                    None
                },
            ));
        }
    }

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
            let ok = self.authorize_main().await;
            self.grade_cimd_accepted(ok);
            ok
        };
        if authorized {
            self.mcp_after_auth().await;
            self.rs_matrix().await;
        }
        if self.cfg.access_token.is_none() && self.client.is_some() {
            self.cimd_checks().await;
            self.as_negatives().await;
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

    fn finish_aggregates(&mut self) {
        // token/errors-json
        if !self.recorded("token/errors-json") {
            let bad: Vec<_> = self
                .token_errors
                .iter()
                .filter(|(_, p)| p.is_some())
                .collect();
            let ev: Vec<usize> = self.token_errors.iter().map(|(i, _)| *i).collect();
            let f = if self.token_errors.is_empty() {
                Finding::CouldNotRun("no token endpoint error was provoked in this run".into())
            } else if bad.is_empty() {
                Finding::Holds(format!(
                    "{} token error responses, all JSON with `error`",
                    self.token_errors.len()
                ))
            } else {
                Finding::Violated(format!(
                    "{} of {} token error responses: {}",
                    bad.len(),
                    self.token_errors.len(),
                    bad[0].1.clone().unwrap_or_default()
                ))
            };
            self.rec("token/errors-json", f, &ev);
        }
        // rs/errors/challenge and rs/errors/invalid-token-code
        let ev: Vec<usize> = self.rs_401s.iter().map(|(i, _, _)| *i).collect();
        let missing: Vec<_> = self
            .rs_401s
            .iter()
            .filter(|(_, _, c)| c.is_none())
            .collect();
        let f = if self.rs_401s.is_empty() {
            Finding::CouldNotRun("no 401 was observed from the MCP endpoint".into())
        } else if missing.is_empty() {
            Finding::Holds(format!(
                "all {} 401 responses carry a Bearer challenge",
                self.rs_401s.len()
            ))
        } else {
            Finding::Violated(format!(
                "{} of {} 401 responses lack a Bearer WWW-Authenticate challenge (exchange #{})",
                missing.len(),
                self.rs_401s.len(),
                missing[0].0
            ))
        };
        self.rec("rs/errors/challenge", f, &ev);
        let presented: Vec<_> = self.rs_401s.iter().filter(|(_, p, _)| *p).collect();
        let wrong: Vec<_> = presented
            .iter()
            .filter(|(_, _, c)| c.as_deref() != Some("invalid_token"))
            .collect();
        let f = if presented.is_empty() {
            Finding::CouldNotRun("no presented token was rejected with 401".into())
        } else if wrong.is_empty() {
            Finding::Holds(format!(
                "all {} rejections of a presented token carry error=\"invalid_token\"",
                presented.len()
            ))
        } else {
            let got = wrong[0]
                .2
                .clone()
                .map(|e| {
                    if e.is_empty() {
                        "no error code".to_string()
                    } else {
                        format!("error={e:?}")
                    }
                })
                .unwrap_or("no challenge".into());
            Finding::Violated(format!(
                "{} of {} rejections lack error=\"invalid_token\" (exchange #{}: {got})",
                wrong.len(),
                presented.len(),
                wrong[0].0
            ))
        };
        let pev: Vec<usize> = presented.iter().map(|(i, _, _)| *i).collect();
        self.rec("rs/errors/invalid-token-code", f, &pev);
        // mcp/schema/envelopes and mcp/transport/content-type
        let f = if self.envelope_count == 0 {
            Finding::CouldNotRun("no JSON-RPC response was received".into())
        } else if self.envelope_problems.is_empty() {
            Finding::Holds(format!(
                "{} JSON-RPC responses validated",
                self.envelope_count
            ))
        } else {
            let (i, p) = &self.envelope_problems[0];
            Finding::Violated(format!(
                "{} of {} responses invalid; exchange #{i}: {p}",
                self.envelope_problems.len(),
                self.envelope_count
            ))
        };
        let ev: Vec<usize> = self
            .envelope_problems
            .iter()
            .map(|(i, _)| *i)
            .take(5)
            .collect();
        self.rec("mcp/schema/envelopes", f, &ev);
        let f = if self.rpc_count == 0 {
            Finding::CouldNotRun("no JSON-RPC request was answered with 200".into())
        } else if self.content_type_problems.is_empty() {
            Finding::Holds(format!(
                "{} responses used application/json or text/event-stream",
                self.rpc_count
            ))
        } else {
            let (i, p) = &self.content_type_problems[0];
            Finding::Violated(format!("exchange #{i}: {p}"))
        };
        let ev: Vec<usize> = self
            .content_type_problems
            .iter()
            .map(|(i, _)| *i)
            .take(5)
            .collect();
        self.rec("mcp/transport/content-type", f, &ev);
        // mcp/modern/result-type (recorded as not applicable earlier when 2026-07-28 is not spoken)
        if self.modern_results > 0 {
            let f = if self.result_type_problems.is_empty() {
                Finding::Holds(format!(
                    "{} 2026-07-28 results, all with `resultType`",
                    self.modern_results
                ))
            } else {
                let (i, p) = &self.result_type_problems[0];
                Finding::Violated(format!(
                    "{} of {} 2026-07-28 results lack `resultType`; exchange #{i}: {p}",
                    self.result_type_problems.len(),
                    self.modern_results
                ))
            };
            let ev: Vec<usize> = self
                .result_type_problems
                .iter()
                .map(|(i, _)| *i)
                .take(5)
                .collect();
            self.rec("mcp/modern/result-type", f, &ev);
        }
    }
}

/// Convenience: run a configuration to completion.
pub async fn run(cfg: Config) -> anyhow::Result<RunResult> {
    Ok(Run::new(cfg)?.execute().await)
}

/// Short description of a response for verdict details.
pub fn describe(r: &Resp) -> String {
    let mut s = format!("HTTP {}", r.status);
    if let Some(ct) = r.header("content-type") {
        s.push_str(&format!(" ({ct})"));
    }
    if let Some(v) = r.json() {
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            s.push_str(&format!(" error={e}"));
        }
    } else if r.is_html() {
        s.push_str(" HTML body");
    }
    s
}

/// The `error` field of a JSON body.
pub fn json_error(r: &Resp) -> Option<String> {
    r.json()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
}
