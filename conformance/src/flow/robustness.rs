//! Robustness fuzzing of the authorized MCP endpoint with proptest strategies and shrinking.
//!
//! Requests are generated from a valid `tools/list` of the negotiated revision (so the token,
//! session and routing headers are real) with one malformed body and up to three odd headers.
//! Properties per response: never a 5xx, never HTML, every 4xx/200 error body is JSON (a JSON-RPC
//! error or an OAuth error); after all cases a valid `tools/list` still succeeds.
//!
//! Runs are deterministic (fixed seed, bounded case count and time). The HTTP calls are async, so
//! the generate/shrink loop drives proptest's [`ValueTree`]s directly (the same
//! simplify/complicate search `TestRunner` uses) instead of running inside a sync closure. On a
//! violation the finding carries the shrunk, minimal request.

use crate::flow::common::{Run, describe, sse};
use crate::http::{Body, Req, Resp};
use crate::model::Finding::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::fmt;
use std::time::{Duration, Instant};

pub const IDS: [&str; 4] = [
    "mcp/robustness/no-5xx",
    "mcp/robustness/no-html",
    "mcp/robustness/json-errors",
    "mcp/robustness/survives",
];

/// Shrink steps allowed per property.
const MAX_SHRINK_STEPS: usize = 64;

/// A header change applied to the valid request.
#[derive(Clone, Debug, PartialEq)]
pub enum HeaderOp {
    Set(&'static str, String),
    Remove(&'static str),
}

/// One generated request.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzCase {
    /// Which generator produced the body.
    pub kind: &'static str,
    pub body: String,
    pub headers: Vec<HeaderOp>,
}

impl fmt::Display for FuzzCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut body: String = self.body.chars().take(240).collect();
        if body.len() < self.body.len() {
            body.push_str(&format!("…[{} bytes]", self.body.len()));
        }
        write!(f, "POST ({}) body {body:?}", self.kind)?;
        for h in &self.headers {
            match h {
                HeaderOp::Set(k, v) => write!(f, ", header {k}: {v:?}")?,
                HeaderOp::Remove(k) => write!(f, ", without {k}")?,
            }
        }
        Ok(())
    }
}

fn with(v: &Value, key: &str, x: Value) -> String {
    let mut v = v.clone();
    v[key] = x;
    v.to_string()
}

fn odd_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(1.5)),
        Just(json!({})),
        Just(json!([])),
        Just(json!("")),
        any::<i64>().prop_map(|n| json!(n)),
    ]
}

/// Malformed bodies derived from a valid request `valid`.
pub fn body_strategy(valid: Value) -> SBoxedStrategy<(&'static str, String)> {
    let text = valid.to_string();
    let v = valid;
    let (v1, v2, v3, v4, v5, v6, v7) = (
        v.clone(),
        v.clone(),
        v.clone(),
        v.clone(),
        v.clone(),
        v.clone(),
        v.clone(),
    );
    let len = text.len();
    // Two groups: `prop_oneof!` keeps more than ten arms only as non-Send boxes.
    let structural = prop_oneof![
        (0..len.max(1)).prop_map(move |n| {
            let mut n = n.min(text.len());
            while !text.is_char_boundary(n) {
                n -= 1;
            }
            ("truncated JSON", text[..n].to_string())
        }),
        odd_json().prop_map(move |x| ("id of a wrong type", with(&v1, "id", x))),
        "[1-9][0-9]{18,400}".prop_map(move |digits| {
            let s = with(&v2, "id", json!("\u{1}ID\u{1}"));
            (
                "huge numeric id",
                s.replace("\"\\u0001ID\\u0001\"", &digits),
            )
        }),
        odd_json().prop_map(move |x| ("method of a wrong type", with(&v3, "method", x))),
        odd_json()
            .prop_filter("params must be malformed", |x| !x.is_object())
            .prop_map(move |x| ("params of a wrong type", with(&v4, "params", x))),
    ];
    let textual = prop_oneof![
        "\\PC{0,24}".prop_map(move |m| ("unicode method", with(&v5, "method", json!(m)))),
        "\\PC{0,48}".prop_map(move |c| {
            let mut v = v6.clone();
            v["params"]["cursor"] = json!(c);
            ("unicode cursor", v.to_string())
        }),
        (1usize..160).prop_map(|d| (
            "nested arrays",
            format!("{}{}", "[".repeat(d), "]".repeat(d))
        )),
        prop_oneof![
            Just(None),
            Just(Some(json!("1.0"))),
            Just(Some(json!(2))),
            Just(Some(Value::Null))
        ]
        .prop_map(move |j| {
            let mut v = v7.clone();
            match j {
                None => {
                    v.as_object_mut().map(|o| o.remove("jsonrpc"));
                }
                Some(x) => v["jsonrpc"] = x,
            }
            ("missing or wrong jsonrpc", v.to_string())
        }),
        Just((
            "notification with id null",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized", "id": null})
                .to_string()
        )),
        "\\PC{0,64}".prop_map(|s| ("arbitrary text", s)),
    ];
    prop_oneof![structural, textual].sboxed()
}

pub fn header_strategy() -> SBoxedStrategy<Vec<HeaderOp>> {
    let op = prop_oneof![
        "[ -~]{0,40}".prop_map(|v| HeaderOp::Set("mcp-session-id", v)),
        "[ -~]{0,20}".prop_map(|v| HeaderOp::Set("mcp-protocol-version", v)),
        prop_oneof![
            Just("text/plain"),
            Just("text/html"),
            Just("application/x-www-form-urlencoded"),
            Just("application/xml"),
            Just("multipart/form-data; boundary=x"),
            Just(""),
        ]
        .prop_map(|v| HeaderOp::Set("content-type", v.to_string())),
        Just(HeaderOp::Remove("content-type")),
        Just(HeaderOp::Remove("accept")),
        Just(HeaderOp::Set("accept", "text/html".into())),
    ];
    prop::collection::vec(op, 0..3).sboxed()
}

pub fn case_strategy(valid: Value) -> SBoxedStrategy<FuzzCase> {
    (body_strategy(valid), header_strategy())
        .prop_map(|((kind, body), headers)| FuzzCase {
            kind,
            body,
            headers,
        })
        .sboxed()
}

/// A JSON-RPC error (`error` object with an integer `code`) or an OAuth error (`error` string).
fn is_error_object(v: &Value) -> bool {
    matches!(v.get("error"), Some(Value::String(_))) || is_rpc_error(v)
}

/// A JSON-RPC error: `error` is an object with an integer `code`.
fn is_rpc_error(v: &Value) -> bool {
    v.get("error")
        .is_some_and(|e| e.get("code").is_some_and(Value::is_i64))
}

fn snippet(s: &str) -> String {
    let t: String = s.chars().take(80).collect();
    format!("{t:?}")
}

/// Judges one response: violations of no-5xx, no-html, json-errors (in that order).
pub fn judge(r: &Resp) -> [Option<String>; 3] {
    let five = (r.status >= 500).then(|| format!("HTTP {}", r.status));
    let html = r.is_html().then(|| {
        let d = describe(r);
        if d.contains("HTML") {
            d
        } else {
            format!("{d} with an HTML body")
        }
    });
    let body = r.body.trim();
    let json = if body.is_empty() || !(r.status == 200 || (400..500).contains(&r.status)) {
        None
    } else if r.status == 200 && r.content_type().starts_with("text/event-stream") {
        sse::events(body)
            .iter()
            .find(|e| {
                serde_json::from_str::<Value>(e)
                    .map(|v| v.get("error").is_some() && !is_rpc_error(&v))
                    .unwrap_or(true)
            })
            .map(|e| format!("200 event stream with a non-JSON-RPC event {}", snippet(e)))
    } else {
        match serde_json::from_str::<Value>(body) {
            Err(_) => Some(format!(
                "HTTP {} body is not JSON: {}",
                r.status,
                snippet(body)
            )),
            Ok(v) if r.status == 200 => {
                let items = match &v {
                    Value::Array(a) => a.clone(),
                    v => vec![v.clone()],
                };
                items
                    .iter()
                    .find(|m| m.get("error").is_some() && !is_rpc_error(m))
                    .map(|m| {
                        format!(
                            "200 with a malformed error object {}",
                            snippet(&m.to_string())
                        )
                    })
            }
            Ok(v) if is_error_object(&v) => None,
            Ok(v) => Some(format!(
                "HTTP {} JSON body is neither a JSON-RPC nor an OAuth error: {}",
                r.status,
                snippet(&v.to_string())
            )),
        }
    };
    [five, html, json]
}

/// A counterexample for one property.
#[derive(Clone, Debug)]
pub struct Failure {
    pub case: FuzzCase,
    pub detail: String,
    pub evidence: Vec<usize>,
    pub steps: usize,
}

/// The oracle's answer for one case: the three property verdicts and the exchange id.
#[derive(Clone, Debug)]
pub struct Judged {
    pub verdicts: [Option<String>; 3],
    pub id: usize,
}

pub struct SearchOutcome {
    pub failures: [Option<Failure>; 3],
    pub generated: u32,
    pub stopped: Option<String>,
}

/// Generates up to `cases` cases from a fixed seed; for the first case breaking each property,
/// shrinks it (proptest simplify/complicate) to a minimal case still breaking that property.
/// `oracle` sends a case and judges the response (`None`: transport error, treated as "holds").
pub fn search(
    strategy: &SBoxedStrategy<FuzzCase>,
    seed: u64,
    cases: u32,
    deadline: Instant,
    mut oracle: impl FnMut(&FuzzCase) -> Option<Judged>,
) -> SearchOutcome {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        PtConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let mut failures: [Option<Failure>; 3] = [None, None, None];
    let mut generated = 0;
    let mut stopped = None;
    for _ in 0..cases {
        if Instant::now() >= deadline {
            stopped = Some("time budget reached".to_string());
            break;
        }
        let Ok(mut tree) = strategy.new_tree(&mut runner) else {
            break;
        };
        generated += 1;
        let case = tree.current();
        let Some(j) = oracle(&case) else {
            continue;
        };
        let verdicts = j.verdicts.clone();
        let Some(p) = (0..3).find(|&p| verdicts[p].is_some() && failures[p].is_none()) else {
            continue;
        };
        let mut best = Failure {
            case: case.clone(),
            detail: verdicts[p].clone().unwrap_or_default(),
            evidence: vec![j.id],
            steps: 0,
        };
        let mut best_verdicts = verdicts.clone();
        let mut steps = 0;
        if tree.simplify() {
            while steps < MAX_SHRINK_STEPS && Instant::now() < deadline {
                steps += 1;
                let c = tree.current();
                match oracle(&c).filter(|j2| j2.verdicts[p].is_some()) {
                    Some(j2) => {
                        best = Failure {
                            case: c,
                            detail: j2.verdicts[p].clone().unwrap_or_default(),
                            evidence: vec![j.id, j2.id],
                            steps,
                        };
                        best_verdicts = j2.verdicts;
                        if !tree.simplify() {
                            break;
                        }
                    }
                    None if !tree.complicate() => break,
                    None => {}
                }
            }
        }
        // Other properties the case broke: the shrunk case if it still breaks them.
        for q in 0..3 {
            if q != p && failures[q].is_none() && verdicts[q].is_some() {
                failures[q] = Some(match &best_verdicts[q] {
                    Some(d) => Failure {
                        detail: d.clone(),
                        ..best.clone()
                    },
                    None => Failure {
                        case: case.clone(),
                        detail: verdicts[q].clone().unwrap_or_default(),
                        evidence: vec![j.id],
                        steps: 0,
                    },
                });
            }
        }
        failures[p] = Some(best);
    }
    SearchOutcome {
        failures,
        generated,
        stopped,
    }
}

impl Run {
    /// The valid request every case is derived from (token, session, revision headers).
    fn fuzz_template(&mut self, token: &str) -> (Req, Value) {
        let url = self.mcp_url.to_string();
        let auth = format!("Bearer {token}");
        let (req, _) = self.rpc_req(
            "robustness: generated request",
            &url,
            Some(&auth),
            "tools/list",
            json!({}),
            false,
        );
        let body = match &req.body {
            Body::Json(v) => v.clone(),
            _ => json!({}),
        };
        (req, body)
    }

    async fn fuzz_send(&self, template: &Req, case: &FuzzCase) -> Option<Resp> {
        let mut req = template.clone();
        req.headers
            .push(("content-type".into(), "application/json".into()));
        for h in &case.headers {
            let name = match h {
                HeaderOp::Set(k, _) | HeaderOp::Remove(k) => *k,
            };
            req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            if let HeaderOp::Set(k, v) = h {
                req.headers.push((k.to_string(), v.clone()));
            }
        }
        req.body = Body::Raw(case.body.clone());
        self.http.send(req).await.ok()
    }

    /// A still-usable token: the main one, or a fresh one when it is (nearly) expired.
    async fn fuzz_token(&mut self) -> Option<String> {
        let g = self.grant.clone()?;
        let stale = g.expires_in.is_some_and(|e| {
            g.obtained.elapsed() + Duration::from_secs(30) >= Duration::from_secs(e)
        });
        if stale && self.cfg.access_token.is_none() && self.can_reauthorize().is_ok() {
            let resource = self.resource_param();
            if let Ok(fresh) = self
                .obtain(
                    "authorize: fresh token for robustness fuzzing",
                    Some(resource),
                    self.scope_param(),
                    None,
                )
                .await
            {
                return Some(fresh.access_token);
            }
        }
        Some(g.access_token)
    }

    pub(crate) async fn robustness(&mut self) {
        if !self.any_on(&IDS) {
            return;
        }
        let Some(token) = self.fuzz_token().await else {
            return;
        };
        let Some(sent) = self.fuzz(&token).await else {
            return;
        };
        if self.on("mcp/robustness/survives") {
            self.survives(&token, sent).await;
        }
    }

    /// `mcp/robustness/{no-5xx,no-html,json-errors}`: generated requests, each failure shrunk
    /// to a minimal one. Returns how many requests were answered.
    async fn fuzz(&mut self, token: &str) -> Option<usize> {
        let seed = self.cfg.fuzz_seed;
        let cases = self.cfg.fuzz_cases;
        let deadline = Instant::now() + self.cfg.fuzz_budget;
        let (template, valid) = self.fuzz_template(token);
        let strategy = case_strategy(valid);
        // proptest's value trees are not Send: generation and shrinking run on a thread of their
        // own and ask this task to send each case (the oracle) over a channel.
        type Ask = (FuzzCase, std::sync::mpsc::Sender<Option<Judged>>);
        let (ask_tx, mut ask_rx) = tokio::sync::mpsc::channel::<Ask>(1);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let oracle = move |c: &FuzzCase| {
                let (tx, rx) = std::sync::mpsc::channel();
                ask_tx.blocking_send((c.clone(), tx)).ok()?;
                rx.recv().ok().flatten()
            };
            let _ = done_tx.send(search(&strategy, seed, cases, deadline, oracle));
        });
        let (mut sent, mut transport_errors) = (0usize, 0usize);
        while let Some((case, reply)) = ask_rx.recv().await {
            let j = match self.fuzz_send(&template, &case).await {
                Some(r) => {
                    sent += 1;
                    Some(Judged {
                        verdicts: judge(&r),
                        id: r.id,
                    })
                }
                None => {
                    transport_errors += 1;
                    None
                }
            };
            let _ = reply.send(j);
        }
        let Ok(SearchOutcome {
            mut failures,
            generated,
            stopped,
        }) = done_rx.await
        else {
            self.rec_all(&IDS[..3], CouldNotRun("the case generator stopped".into()));
            return None;
        };
        let scope = format!(
            "{sent} generated requests (seed {seed:#x}, {generated} cases{}{})",
            if transport_errors > 0 {
                format!(", {transport_errors} ended in a transport error")
            } else {
                String::new()
            },
            stopped.map(|s| format!(", {s}")).unwrap_or_default()
        );
        let holds = ["no 5xx", "no HTML body", "every error body is JSON"];
        for (p, id) in IDS[..3].iter().enumerate() {
            let f = match failures[p].take() {
                _ if sent == 0 => CouldNotRun(format!(
                    "no generated request was answered ({transport_errors} transport errors)"
                )),
                None => Holds(format!("{scope}: {}", holds[p])),
                Some(fl) => {
                    self.rec(
                        id,
                        Violated(format!(
                            "{}; minimal request (shrunk in {} steps): {} — {scope}",
                            fl.detail, fl.steps, fl.case
                        )),
                        &fl.evidence,
                    );
                    continue;
                }
            };
            self.rec(id, f, &[]);
        }
        Some(sent)
    }

    /// `mcp/robustness/survives`: a valid `tools/list` still works afterwards.
    async fn survives(&mut self, token: &str, sent: usize) {
        let mut r = self
            .rpc(
                "robustness: tools/list afterwards",
                Some(token),
                "tools/list",
                json!({}),
            )
            .await;
        if r.as_ref().is_some_and(|r| r.resp.status == 401)
            && let Some(fresh) = self.fuzz_token_after_401().await
        {
            r = self
                .rpc(
                    "robustness: tools/list afterwards (fresh token)",
                    Some(&fresh),
                    "tools/list",
                    json!({}),
                )
                .await;
        }
        let f = match &r {
            Some(r) if r.result().is_some() => Holds(format!(
                "tools/list still succeeds after {sent} generated requests"
            )),
            Some(r) => Violated(format!(
                "after {sent} generated requests a valid tools/list got {}{}",
                describe(&r.resp),
                r.message
                    .as_ref()
                    .and_then(|m| m.get("error"))
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )),
            None => Violated(format!(
                "after {sent} generated requests the MCP endpoint is unreachable"
            )),
        };
        let ev: Vec<usize> = r.iter().map(|r| r.resp.id).collect();
        self.rec("mcp/robustness/survives", f, &ev);
    }

    /// After a 401 on the survival probe: the token may simply have expired; get a fresh one.
    async fn fuzz_token_after_401(&mut self) -> Option<String> {
        if self.cfg.access_token.is_some() || self.can_reauthorize().is_err() {
            return None;
        }
        let resource = self.resource_param();
        self.obtain(
            "authorize: fresh token after fuzzing",
            Some(resource),
            self.scope_param(),
            None,
        )
        .await
        .ok()
        .map(|g| g.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), ct.into())],
            body: body.into(),
            id: 0,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn judging_responses() {
        let ok = resp(
            400,
            "application/json",
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}"#,
        );
        assert_eq!(judge(&ok), [None, None, None]);
        let oauth = resp(401, "application/json", r#"{"error":"invalid_token"}"#);
        assert_eq!(judge(&oauth), [None, None, None]);
        assert!(judge(&resp(202, "", ""))[2].is_none());
        assert!(judge(&resp(400, "text/plain", "Bad Request"))[2].is_some());
        assert!(judge(&resp(400, "application/json", r#"{"message":"x"}"#))[2].is_some());
        let html = resp(415, "text/html", "<!doctype html><p>no</p>");
        assert!(judge(&html)[1].is_some() && judge(&html)[2].is_some());
        let boom = resp(500, "application/json", r#"{"error":"server_error"}"#);
        assert_eq!(judge(&boom)[0].as_deref(), Some("HTTP 500"));
        assert!(
            judge(&resp(
                200,
                "application/json",
                r#"{"jsonrpc":"2.0","id":1,"error":"x"}"#
            ))[2]
                .is_some()
        );
        assert!(
            judge(&resp(
                200,
                "text/event-stream",
                "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
            ))[2]
                .is_none()
        );
        assert!(judge(&resp(200, "text/event-stream", "data: oops\n\n"))[2].is_some());
    }

    #[test]
    fn generation_is_deterministic_and_covers_every_generator() {
        let valid = json!({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}});
        let gen_all = || {
            let mut runner = TestRunner::new_with_rng(
                PtConfig::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &[7u8; 32]),
            );
            let s = case_strategy(valid.clone());
            (0..400)
                .map(|_| s.new_tree(&mut runner).unwrap().current())
                .collect::<Vec<_>>()
        };
        let a = gen_all();
        assert_eq!(a, gen_all(), "same seed, same cases");
        let kinds: std::collections::HashSet<&str> = a.iter().map(|c| c.kind).collect();
        assert_eq!(kinds.len(), 11, "{kinds:?}");
        let huge = a.iter().find(|c| c.kind == "huge numeric id").unwrap();
        assert!(
            huge.body.contains("\"id\":1") || huge.body.contains("\"id\":"),
            "{}",
            huge.body
        );
        assert!(!huge.body.contains("ID"), "{}", huge.body);
    }

    #[test]
    fn search_reports_a_shrunk_case_per_property() {
        let valid = json!({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}});
        let s = case_strategy(valid);
        let mut n = 0;
        let out = search(
            &s,
            42,
            64,
            Instant::now() + Duration::from_secs(30),
            |c: &FuzzCase| {
                n += 1;
                let deep = c.body.starts_with("[[[");
                let ct = c
                    .headers
                    .iter()
                    .any(|h| matches!(h, HeaderOp::Set("content-type", v) if v == "text/plain"));
                Some(Judged {
                    verdicts: [
                        deep.then(|| "HTTP 500".to_string()),
                        None,
                        ct.then(|| "text".to_string()),
                    ],
                    id: n,
                })
            },
        );
        let f0 = out.failures[0]
            .as_ref()
            .expect("nested arrays are generated");
        assert_eq!(f0.case.body, "[[[]]]", "{}", f0.case);
        assert!(f0.case.headers.is_empty(), "{}", f0.case);
        assert!(out.failures[1].is_none());
        let f2 = out.failures[2].as_ref().expect("text/plain is generated");
        assert_eq!(
            f2.case.headers,
            vec![HeaderOp::Set("content-type", "text/plain".into())]
        );
        assert_eq!(f2.case.body, "", "truncation shrinks to the empty body");
        assert_eq!(out.generated, 64);
    }

    #[test]
    fn shrinking_finds_a_minimal_truncation() {
        // Property: "the body is not longer than 3 bytes" fails for most truncations; the
        // shrunk counterexample of the truncation generator is the shortest failing prefix.
        let valid = json!({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}});
        let s = body_strategy(valid);
        let mut runner = TestRunner::new_with_rng(
            PtConfig::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[1u8; 32]),
        );
        let fails = |b: &(&str, String)| b.1.len() > 3;
        let mut tree = loop {
            let t = s.new_tree(&mut runner).unwrap();
            if t.current().0 == "truncated JSON" && fails(&t.current()) {
                break t;
            }
        };
        let mut best = tree.current();
        if tree.simplify() {
            loop {
                if fails(&tree.current()) {
                    best = tree.current();
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        assert_eq!(best.1.len(), 4, "{best:?}");
    }
}
