//! One run's mutable state and how checks are recorded.

use super::types::{Client, Grant, Session};
use crate::checks;
use crate::config::Config;
use crate::http::{Http, Resp};
use crate::model::{Finding, Outcome, grade};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

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
    pub(crate) outcomes: HashMap<&'static str, Outcome>,
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
    /// Requests the harness built to be wrong, and how they were answered.
    pub(crate) mistakes: Vec<Mistake>,
    pub(crate) token_errors: Vec<(usize, Option<String>)>,
    pub(crate) rs_401s: Vec<(usize, bool, Option<String>)>,
    pub(crate) envelope_problems: Vec<(usize, String)>,
    pub(crate) envelope_count: usize,
    pub(crate) content_type_problems: Vec<(usize, String)>,
    pub(crate) rpc_count: usize,
    /// 2026-07-28 results seen, and those lacking `resultType`.
    pub(crate) modern_results: usize,
    pub(crate) result_type_problems: Vec<(usize, String)>,
    pub revocation_latency: Option<Duration>,
    pub(crate) next_id: u64,
    /// Client metadata documents the harness serves (`--registration cimd` without a URL).
    pub(crate) cimd_docs: Option<crate::cimd::DocServer>,
    /// The `private_key_jwt` key published with those documents (when the AS offers it).
    pub(crate) cimd_key: Option<std::sync::Arc<crate::jwt::ClientKey>>,
    /// Why the profile's own client could not connect although the spec checks went on (e.g. a
    /// redirect URI of its exact DCR body was refused, and the harness registered without it).
    pub(crate) compat_blocker: Option<String>,
    /// The client id is a metadata document URL (`--registration cimd`, or `auto` chose CIMD).
    pub(crate) via_cimd: bool,
}

impl Run {
    pub fn new(cfg: Config) -> anyhow::Result<Run> {
        let mcp_url = crate::urls::parse_mcp_url(&cfg.mcp_url).map_err(anyhow::Error::msg)?;
        let http = Http::with_roots(
            cfg.profile.user_agent,
            cfg.headers.clone(),
            cfg.timeout,
            &cfg.ca_certs,
        )?;
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
            mistakes: Vec::new(),
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
            cimd_key: None,
            compat_blocker: None,
            via_cimd: false,
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

    /// Notes the answer to a request the harness built to be wrong (for the `*/errors/*` and
    /// `errors/no-5xx-on-mistakes` aggregates).
    pub(crate) fn note_mistake(&mut self, endpoint: Endpoint, what: &str, r: &Resp) {
        self.mistakes.push(Mistake {
            endpoint,
            what: what.to_string(),
            exchange: r.id,
            status: r.status,
            error: crate::flow::common::json::json_error(r),
        });
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
}

/// Where a deliberately wrong request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Registration,
    Mcp,
}

/// A request the harness built to be wrong, and its answer.
#[derive(Clone, Debug)]
pub struct Mistake {
    pub endpoint: Endpoint,
    pub what: String,
    pub exchange: usize,
    pub status: u16,
    pub error: Option<String>,
}
