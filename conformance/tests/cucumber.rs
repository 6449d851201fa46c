//! Runs `features/*.feature` against the fixture deployment, driving the same library the
//! binary uses (harness = false).

mod fixture;

use cucumber::{World, given, then, when};
use fixture::{Fault, Opts};
use gigamcp_conformance::config::{Config, Login};
use gigamcp_conformance::flow::RunResult;
use gigamcp_conformance::model::Verdict;
use gigamcp_conformance::{profile, report};
use std::time::Duration;

#[derive(World, Default)]
struct Connector {
    faults: Vec<Fault>,
    result: Option<RunResult>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("faults", &self.faults)
            .field("ran", &self.result.is_some())
            .finish()
    }
}

impl Connector {
    fn result(&self) -> &RunResult {
        self.result.as_ref().expect("the harness has not run yet")
    }
    fn verdict(&self, id: &str) -> (Verdict, String) {
        let o = self
            .result()
            .outcomes
            .iter()
            .find(|o| o.id == id)
            .unwrap_or_else(|| panic!("no outcome for {id}"));
        (o.verdict, o.detail.clone())
    }
}

#[given("a deployment that follows the MCP authorization spec")]
fn conforming(w: &mut Connector) {
    w.faults.clear();
}

#[given(expr = "the deployment {word} {word} {}")]
fn broken(w: &mut Connector, verb: String, what: String, rest: String) {
    let phrase = format!("{verb} {what} {rest}");
    let fault = match phrase.as_str() {
        "omits resource_metadata from its 401 challenge" => Fault::ChallengeNoResourceMetadata,
        "does not check the token audience" => Fault::RsNoAudienceCheck,
        "does not advertise S256" => Fault::AsmNoS256,
        "omits expires_in from token responses" => Fault::TokenNoExpiresIn,
        "ignores the Mcp-Method header" => Fault::IgnoreMcpMethod,
        "compares Mcp-Name without decoding Base64" => Fault::McpNameNotDecoded,
        "ignores Mcp-Param headers" => Fault::IgnoreMcpParam,
        "answers unknown 2026-07-28 methods with 200" => Fault::UnknownMethodModern200,
        "still serves JSON-RPC batches" => Fault::BatchAcceptedModern,
        "crashes on ids of the wrong type" => Fault::FuzzServerError,
        other => panic!("no fixture fault for {other:?}"),
    };
    w.faults.push(fault);
}

async fn connect(w: &mut Connector, profile_name: &str, spec: Option<String>) {
    let fx = fixture::start(Opts {
        faults: w.faults.clone(),
        ..Opts::default()
    })
    .await;
    let p =
        profile::by_name(profile_name).unwrap_or_else(|| panic!("unknown profile {profile_name}"));
    let mut c = Config::new(fx.mcp_url("acme"), p);
    c.login = Login::Form {
        username: fixture::USER.into(),
        password: fixture::PASSWORD.into(),
    };
    c.second_resource = Some(fx.mcp_url("globex"));
    c.revocation_wait = Duration::from_millis(800);
    c.spec = spec.filter(|s| s != "auto");
    w.result = Some(gigamcp_conformance::flow::run(c).await.expect("run"));
}

#[when(expr = "ChatGPT connects with the {string} profile")]
async fn connects(w: &mut Connector, p: String) {
    connect(w, &p, None).await;
}

#[when(expr = "ChatGPT connects with the {string} profile speaking {string}")]
async fn connects_spec(w: &mut Connector, p: String, spec: String) {
    connect(w, &p, Some(spec)).await;
}

#[then(expr = "{string} passes")]
fn passes(w: &mut Connector, id: String) {
    let (v, d) = w.verdict(&id);
    assert_eq!(v, Verdict::Pass, "{id}: {d}");
}

#[then(expr = "{string} fails")]
fn fails(w: &mut Connector, id: String) {
    let (v, d) = w.verdict(&id);
    assert_eq!(v, Verdict::Fail, "{id}: {d}");
}

#[then(expr = "{string} warns")]
fn warns(w: &mut Connector, id: String) {
    let (v, d) = w.verdict(&id);
    assert_eq!(v, Verdict::Warn, "{id}: {d}");
}

#[then(expr = "{string} is not applicable")]
fn not_applicable(w: &mut Connector, id: String) {
    let (v, d) = w.verdict(&id);
    assert_eq!(v, Verdict::NotApplicable, "{id}: {d}");
}

#[then(expr = "the finding for {string} mentions {string}")]
fn finding_mentions(w: &mut Connector, id: String, needle: String) {
    let (_, d) = w.verdict(&id);
    assert!(d.contains(&needle), "{id}: {d}");
}

#[then("no check fails")]
fn no_failures(w: &mut Connector) {
    let bad: Vec<String> = w
        .result()
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Fail)
        .map(|o| format!("{} — {}", o.id, o.detail))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[then(expr = "the summary ends with {string}")]
fn summary_ends(w: &mut Connector, tail: String) {
    let t = report::terminal(w.result(), None);
    let last = t.lines().last().unwrap_or("");
    assert!(
        last.ends_with(&tail) && last.contains(" passed, "),
        "last line: {last:?}"
    );
}

#[then(expr = "the run exits with code {int}")]
fn exit_code(w: &mut Connector, code: i32) {
    assert_eq!(report::exit_code(w.result(), None), code);
}

#[then("the revocation latency is reported")]
fn latency(w: &mut Connector) {
    let ms = w
        .result()
        .revocation_latency_ms
        .expect("no revocation latency");
    assert!(report::terminal(w.result(), None).contains(&format!("after {ms} ms")));
}

#[tokio::main]
async fn main() {
    Connector::cucumber()
        .fail_on_skipped()
        .run_and_exit(concat!(env!("CARGO_MANIFEST_DIR"), "/../features"))
        .await;
}
