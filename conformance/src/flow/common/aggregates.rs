//! Checks graded over the whole run from observations the phases noted: token error bodies,
//! the MCP endpoint's 401 challenges, JSON-RPC envelopes and content types, `resultType`.

use super::run::Run;
use crate::model::Finding;

impl Run {
    pub(crate) fn finish_aggregates(&mut self) {
        self.grade_token_errors();
        self.grade_rs_challenges();
        self.grade_rs_error_codes();
        self.grade_envelopes();
        self.grade_content_types();
        self.grade_result_types();
        self.grade_mistakes();
        self.grade_compat();
    }

    /// `token/errors/client-error-status`, `token/errors/rfc-code`,
    /// `registration/errors/rfc-code` and `errors/no-5xx-on-mistakes`: how the requests the
    /// harness built to be wrong were refused.
    fn grade_mistakes(&mut self) {
        use super::run::Endpoint;
        /// RFC 6749 §5.2 plus RFC 8707 §2 `invalid_target`.
        const TOKEN_CODES: &[&str] = &[
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_target",
        ];
        /// RFC 7591 §3.2.2.
        const REGISTRATION_CODES: &[&str] = &[
            "invalid_redirect_uri",
            "invalid_client_metadata",
            "invalid_software_statement",
            "unapproved_software_statement",
        ];
        let mistakes = self.mistakes.clone();
        let refusals = |ep: Endpoint| -> Vec<super::run::Mistake> {
            mistakes
                .iter()
                .filter(|m| m.endpoint == ep && !(200..300).contains(&m.status) && m.status != 429)
                .cloned()
                .collect()
        };
        let show = |m: &super::run::Mistake| {
            format!(
                "{} (exchange #{}): HTTP {}{}",
                m.what,
                m.exchange,
                m.status,
                m.error
                    .as_ref()
                    .map(|e| format!(" error={e}"))
                    .unwrap_or_else(|| " without an error code".into())
            )
        };
        let token = refusals(Endpoint::Token);
        let grade = |list: &[super::run::Mistake],
                     bad: &dyn Fn(&super::run::Mistake) -> bool,
                     what: &str| {
            let ev: Vec<usize> = list.iter().map(|m| m.exchange).collect();
            let wrong: Vec<_> = list.iter().filter(|m| bad(m)).collect();
            let f = if list.is_empty() {
                Finding::CouldNotRun(format!("no {what} was refused in this run"))
            } else if wrong.is_empty() {
                Finding::Holds(format!(
                    "{} {what}s refused: {}",
                    list.len(),
                    list.iter()
                        .map(|m| format!("{} {}", m.status, m.error.as_deref().unwrap_or("-")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else {
                Finding::Violated(format!(
                    "{} of {} {what}s: {}",
                    wrong.len(),
                    list.len(),
                    wrong.iter().map(|m| show(m)).collect::<Vec<_>>().join("; ")
                ))
            };
            let mut ev2: Vec<usize> = wrong.iter().map(|m| m.exchange).collect();
            if ev2.is_empty() {
                ev2 = ev;
            }
            (f, ev2)
        };
        let (f, ev) = grade(
            &token,
            &|m| !(400..500).contains(&m.status),
            "deliberately wrong token request",
        );
        self.rec("token/errors/client-error-status", f, &ev);
        let (f, ev) = grade(
            &token,
            &|m| m.error.as_deref().is_none_or(|e| !TOKEN_CODES.contains(&e)),
            "deliberately wrong token request",
        );
        self.rec("token/errors/rfc-code", f, &ev);
        let reg = refusals(Endpoint::Registration);
        let (f, ev) = grade(
            &reg,
            &|m| {
                m.status != 400
                    || m.error
                        .as_deref()
                        .is_none_or(|e| !REGISTRATION_CODES.contains(&e))
            },
            "deliberately wrong registration",
        );
        self.rec("registration/errors/rfc-code", f, &ev);
        let all: Vec<super::run::Mistake> = mistakes
            .iter()
            .filter(|m| m.status != 429)
            .cloned()
            .collect();
        let (f, ev) = grade(&all, &|m| m.status >= 500, "deliberately wrong request");
        self.rec("errors/no-5xx-on-mistakes", f, &ev);
    }

    /// `token/errors-json`.
    fn grade_token_errors(&mut self) {
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
    }

    /// `rs/errors/challenge`: every 401 carries a Bearer challenge.
    fn grade_rs_challenges(&mut self) {
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
    }

    /// `rs/errors/invalid-token-code`: every rejection of a presented token says `invalid_token`.
    fn grade_rs_error_codes(&mut self) {
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
    }

    /// `mcp/schema/envelopes`.
    fn grade_envelopes(&mut self) {
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
    }

    /// `mcp/transport/content-type`.
    fn grade_content_types(&mut self) {
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
    }

    /// `mcp/modern/result-type` (recorded as not applicable earlier when 2026-07-28 is not
    /// spoken).
    fn grade_result_types(&mut self) {
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
