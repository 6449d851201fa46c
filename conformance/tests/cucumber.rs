//! Runs `features/*.feature` against the fixture deployment, driving the same library the
//! binary uses (harness = false).
//!
//! With `GIGAMCP_CONFORMANCE_TARGET=URL` (set by `cargo xtask conformance --target URL`) the
//! scenarios run against that deployment instead, with the `run` options in
//! `GIGAMCP_CONFORMANCE_RUN_ARGS` (separated by U+001F); scenarios tagged `@fixture` need a
//! deliberately broken deployment and are skipped there, with their count reported.

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

/// The deployment given by `GIGAMCP_CONFORMANCE_TARGET`, with its `run` options.
fn external_target() -> Option<(String, Vec<String>)> {
    let url = std::env::var("GIGAMCP_CONFORMANCE_TARGET")
        .ok()
        .filter(|u| !u.is_empty())?;
    let args = std::env::var("GIGAMCP_CONFORMANCE_RUN_ARGS")
        .unwrap_or_default()
        .split('\u{1f}')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    Some((url, args))
}

fn external_config(url: &str, args: &[String], profile_name: &str, spec: Option<String>) -> Config {
    use clap::Parser;
    use gigamcp_conformance::cli::{Cli, Command};
    let mut argv = vec!["gigamcp-conformance".to_string(), "run".into(), url.into()];
    argv.extend(args.iter().cloned());
    argv.extend(["--profile".into(), profile_name.into()]);
    argv.extend(["--spec".into(), spec.unwrap_or_else(|| "auto".into())]);
    let Command::Run(a) = Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .command
    else {
        unreachable!()
    };
    gigamcp_conformance::cli::config_from(&a).unwrap_or_else(|e| panic!("{e}"))
}

async fn connect(w: &mut Connector, profile_name: &str, spec: Option<String>) {
    if let Some((url, args)) = external_target() {
        assert!(
            w.faults.is_empty(),
            "a scenario with a fixture fault must be tagged @fixture"
        );
        let c = external_config(&url, &args, profile_name, spec);
        w.result = Some(gigamcp_conformance::flow::run(c).await.expect("run"));
        return;
    }
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

#[then(expr = "the summary says {string}")]
fn summary_ends(w: &mut Connector, tail: String) {
    let t = report::terminal(w.result(), None);
    let last = t.lines().last().unwrap_or("");
    assert!(
        last.contains(&tail) && last.contains(" passed, ") && last.ends_with(" skipped"),
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
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/../features");
    let Some((url, _)) = external_target() else {
        Connector::cucumber()
            .fail_on_skipped()
            .run_and_exit(features)
            .await;
        return;
    };
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = skipped.clone();
    let writer = Connector::cucumber()
        .fail_on_skipped()
        .filter_run(features, move |_, _, scenario| {
            let needs_fixture = scenario.tags.iter().any(|t| t == "fixture");
            if needs_fixture {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            !needs_fixture
        })
        .await;
    eprintln!(
        "features against {url}: {} scenarios tagged @fixture skipped (they need a deliberately broken deployment)",
        skipped.load(std::sync::atomic::Ordering::Relaxed)
    );
    use cucumber::writer::Stats;
    if writer.execution_has_failed() {
        std::process::exit(1);
    }
}
