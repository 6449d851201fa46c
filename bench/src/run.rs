//! `gigamcp-bench run`: the scenarios, in order, against real `gigamcp` processes.
//!
//! 1. Baseline: a bare axum JSON echo (`gigamcp-bench echo`, its own process), so every figure
//!    is also a ratio to what the machine can do at all in this same run. The echo stays up
//!    through phase 2, where every scenario runs in alternating turns with it
//!    (`load::run_alternating`): a scenario's ratio is to the echo measured in the moments
//!    between its own, so a machine whose speed drifts during the run (ours moved by up to 2×
//!    within minutes, and by half within seconds) moves both sides of the ratio.
//! 2. The floor probe (`gigamcp-bench floor`, `crate::floor`): the least work an authenticated
//!    `ping` needs, on plain axum, checked to answer the demo's `ping` as the server does, then
//!    measured in turns with the echo like every scenario below; the report sets `ping` against
//!    it. Then the hot paths on `serve --demo`: ping, tools/list, tools/call fetch / search_company_rag /
//!    search, dynamic client registration (rate limit lifted), authorization with an existing
//!    grant (which also mints the codes), the token endpoint's authorization-code and
//!    refresh-token grants. The code pair runs twice: every code for one client (each redemption
//!    supersedes the grant the one before created: the worst case), then with a client per
//!    connection (`many clients`: sixteen connectors approving and redeeming at once).
//!    2b. What the protections cost (`guards`): `tools/call fetch` with metrics on and off,
//!    alternately; a correct sign-in at rest and during a flood of 50 wrong attempts.
//! 3. The chatgpt-profile conformance run, wall time, with every deliberate wait set to zero
//!    (`--replay-delay 0 --expiry-wait 0`, server grace windows 0).
//! 4. Scale: a generated corpus (20,000 documents by default) in workspace `scale`: ingest time,
//!    time until `serve` answers a search (first start and warm restart), memory, search under
//!    load, the needles at rank 1, and an incremental ingest of changed documents.
use crate::corpus;
use crate::floor;
use crate::guards::{self, LoginUnderAttack, MetricsOverhead};
use crate::load::{self, Conn, Options, Req, Scenario, Stats};
use crate::procs::{self, DEMO_PASSWORD, Gigamcp, Proc};
use base64::Engine as _;
use bytes::Bytes;
use hyper::header::HeaderMap;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Directory holding `gigamcp` and `gigamcp-conformance` (default: next to this binary).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// The harness binary (default: `gigamcp-conformance` in --bin-dir).
    #[arg(long)]
    pub conformance_bin: Option<PathBuf>,
    /// Scratch directory (data directories, cached corpora).
    #[arg(long, default_value = "target/bench")]
    pub work_dir: PathBuf,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Unmeasured warm-up seconds before each scenario.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Check every n-th response body (statuses are always checked).
    #[arg(long, default_value_t = 16)]
    pub sample_every: u64,
    /// Short run that only proves every scenario works (CI): 0.3 s per scenario, 4
    /// connections, a 300-document corpus.
    #[arg(long)]
    pub smoke: bool,
    /// Documents in the scale corpus (0 skips the scale phase).
    #[arg(long, default_value_t = 20_000)]
    pub scale_documents: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Documents changed by the incremental-ingest step.
    #[arg(long, default_value_t = 100)]
    pub changed: usize,
    /// Run the hot-path and OAuth scenarios against this database (`postgres://…`, an empty
    /// database of its own) instead of the demo's embedded SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Skip the authorization (consent approval → code) and token-grant scenarios.
    #[arg(long)]
    pub skip_oauth_grants: bool,
    /// Worker threads of every server this run starts and of the echo (`serve
    /// --worker-threads`); default: each one's own, one per core. Both get the same, so the
    /// ratios stay like for like.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub server_threads: Option<u16>,
    /// Rounds of the metrics-overhead pair and of the sign-in-under-attack phase.
    #[arg(long, default_value_t = 3)]
    pub guard_rounds: usize,
    /// Skip the conformance wall-time run.
    #[arg(long)]
    pub skip_conformance: bool,
    /// Only scenarios whose name contains one of these (repeatable; the baseline always runs).
    #[arg(long)]
    pub only: Vec<String>,
    /// Write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print the change against a saved `--json` file.
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScaleReport {
    pub documents: usize,
    pub estimated_passages: usize,
    pub corpus_mib: f64,
    pub generate_s: f64,
    /// `admin ingest` of the whole corpus into an empty workspace (None: reused a cached one).
    pub ingest_s: Option<f64>,
    pub first_start_ready_s: f64,
    pub warm_start_ready_s: f64,
    pub rss_ready_mib: f64,
    pub rss_after_load_mib: f64,
    pub peak_rss_mib: f64,
    pub needles_at_rank_1: usize,
    pub needles: usize,
    pub incremental_changed: usize,
    pub incremental_ingest_s: f64,
    /// From the start of `admin ingest` until the running server returns a changed document.
    pub incremental_visible_s: f64,
    pub restore_ingest_s: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub command: String,
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub connections: usize,
    pub duration_s: f64,
    /// `--server-threads`; `None`: one worker per core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_threads: Option<u16>,
    pub scenarios: Vec<Stats>,
    /// Every echo run, in order: the baseline, then the turns alternating with each scenario of
    /// phase 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub echoes: Vec<Stats>,
    pub conformance_wall_s: Option<f64>,
    pub conformance_exit: Option<i32>,
    pub scale: Option<ScaleReport>,
    #[serde(default)]
    pub metrics: Option<MetricsOverhead>,
    #[serde(default)]
    pub login: Option<LoginUnderAttack>,
}

pub async fn main(mut a: RunArgs) -> anyhow::Result<bool> {
    if a.smoke {
        a.duration = a.duration.min(0.3);
        a.warmup = a.warmup.min(0.1);
        a.connections = a.connections.min(4);
        a.scale_documents = a.scale_documents.min(300);
        a.changed = a.changed.min(10);
        a.sample_every = 1;
        a.guard_rounds = a.guard_rounds.min(1);
    }
    let bin_dir = match &a.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let gig = Gigamcp {
        bin: bin_dir.join("gigamcp"),
        database_url: None,
        worker_threads: a.server_threads,
    };
    std::fs::create_dir_all(&a.work_dir)?;
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        loadavg_before: procs::loadavg(),
        connections: a.connections,
        duration_s: a.duration,
        server_threads: a.server_threads,
        ..Report::default()
    };
    eprintln!(
        "gigamcp-bench: {} connections, {:.1} s per scenario (+{:.1} s warm-up), server and echo worker threads: {}, load average {}",
        a.connections,
        a.duration,
        a.warmup,
        a.server_threads
            .map_or_else(|| "one per core".to_owned(), |n| n.to_string()),
        report.loadavg_before
    );
    let opts = |p: &Proc| Options {
        addr: p.addr.clone(),
        cpu_of: Some(p.pid()),
        database: None,
        connections: a.connections,
        warmup: Duration::from_secs_f64(a.warmup),
        duration: Duration::from_secs_f64(a.duration),
        sample_every: a.sample_every.max(1),
    };
    let wanted = |name: &str| a.only.is_empty() || a.only.iter().any(|o| name.contains(o));

    // 1. Baseline (the echo stays up for phase 2, see the module docs).
    let echo = procs::echo(&a.work_dir, a.server_threads)?;
    let echo_scenario = Arc::new(echo_scenario());
    let mut baseline = load::run(echo_scenario.clone(), &opts(&echo)).await;
    baseline.baseline_rps = baseline.requests_per_second;
    print_progress(&baseline);
    let mut echoes = vec![baseline.clone()];
    let mut all = vec![baseline];

    // 2. Hot paths on the demo.
    let demo_dir = fresh_dir(&a.work_dir.join("demo"))?;
    let demo_gig = Gigamcp {
        database_url: a.database_url.clone(),
        ..gig.clone()
    };
    let mut demo = demo_gig.serve(
        &demo_dir,
        true,
        &["--registration-rate-limit", "4000000000"],
    )?;
    demo.wait_listening(Duration::from_secs(120))?;
    let ctx = Demo::setup(&demo_gig, &demo_dir, &demo).await?;
    // A PostgreSQL server on this machine: its processes' CPU time too (`Stats::db_cpu_us`).
    let demo_opts = Options {
        database: a
            .database_url
            .as_deref()
            .filter(|u| procs::database_is_local(u))
            .map(|_| "postgres".to_owned()),
        ..opts(&demo)
    };
    if wanted(FLOOR) {
        let creds = floor::Credentials {
            token: ctx.token.clone(),
            session: ctx.session.clone(),
            workspace: "acme".into(),
        };
        let probe = procs::floor(&a.work_dir, a.server_threads, &creds)?;
        ctx.same_ping_answer(&probe.addr).await?;
        let s = Arc::new(ctx.mcp_scenario(FLOOR, rpc_body(1, "ping", json!({})), false));
        let (st, turns) = in_turns(s, &opts(&probe), &echo_scenario, &opts(&echo)).await;
        echoes.push(turns);
        all.push(st);
        probe.stop();
    }
    for s in ctx.scenarios() {
        let grant = s.name.starts_with("authorize") || s.name.starts_with("token:");
        if !wanted(&s.name) || (grant && a.skip_oauth_grants) {
            continue;
        }
        let s = Arc::new(s);
        if s.name.starts_with("token: refresh") {
            ctx.prepare_refresh_chains(a.connections).await?;
        }
        if s.name.starts_with("authorize") && s.name.contains(PER_CLIENT) {
            ctx.prepare_code_clients(a.connections).await?;
        }
        let (st, turns) = in_turns(s, &demo_opts, &echo_scenario, &opts(&echo)).await;
        echoes.push(turns);
        all.push(st);
    }
    demo.stop();
    echo.stop();

    // 2b. What the protections cost: metrics on/off, sign-in under a flood.
    if wanted("metrics") && a.guard_rounds > 0 {
        let (m, stats) = guards::metrics_overhead(&gig, &a.work_dir, &opts, a.guard_rounds).await?;
        all.extend(stats);
        report.metrics = Some(m);
    }
    if wanted("sign-in") && a.guard_rounds > 0 {
        report.login = Some(guards::login_under_attack(&gig, &a.work_dir, a.guard_rounds).await?);
    }

    // 3. Conformance wall time.
    if !a.skip_conformance && wanted("conformance") {
        let harness = a
            .conformance_bin
            .clone()
            .unwrap_or_else(|| bin_dir.join("gigamcp-conformance"));
        let (wall, code) = conformance_run(&gig, &harness, &a.work_dir)?;
        eprintln!("  conformance (chatgpt profile): {wall:.2} s wall, exit {code}");
        report.conformance_wall_s = Some(wall);
        report.conformance_exit = Some(code);
    }

    // 4. Scale.
    if a.scale_documents > 0 && wanted("scale") {
        let (scale, stats) = scale_phase(&gig, &a, &opts).await?;
        all.extend(stats);
        report.scale = Some(scale);
    }

    set_ratios(&mut all, &echoes);
    report.scenarios = all;
    report.echoes = echoes;
    report.loadavg_after = procs::loadavg();
    print_report(&report);
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("(figures written to {})", path.display());
    }
    if let Some(path) = &a.compare {
        let old: Report = serde_json::from_slice(&std::fs::read(path)?)?;
        print_compare(&old, &report);
    }
    let mut ok = true;
    for s in report.scenarios.iter().chain(&report.echoes) {
        if s.errors > 0 || s.requests == 0 {
            eprintln!(
                "FAILED: {}: {} errors, {} requests; first errors: {:#?}",
                s.name, s.errors, s.requests, s.first_errors
            );
            ok = false;
        }
    }
    if let Some(l) = &report.login {
        for (refused, when) in [
            (l.one_address_refused, "while one address flooded the form"),
            (
                l.known_refused,
                "from the owner's known browser while 50 addresses flooded the form",
            ),
        ] {
            if refused > 0 {
                eprintln!("FAILED: {refused} correct sign-ins were refused {when}");
                ok = false;
            }
        }
    }
    if report.metrics.as_ref().is_some_and(|m| m.errors > 0) {
        eprintln!("FAILED: errors in the metrics-overhead pair");
        ok = false;
    }
    if report.conformance_exit.is_some_and(|c| c != 0) {
        eprintln!("FAILED: the conformance run exited with an error");
        ok = false;
    }
    if let Some(s) = &report.scale
        && s.needles_at_rank_1 != s.needles
    {
        eprintln!(
            "FAILED: only {}/{} needles ranked first",
            s.needles_at_rank_1, s.needles
        );
        ok = false;
    }
    Ok(ok)
}

/// `s` in alternating turns with the echo (`load::run_alternating`): its figures, with the echo
/// of those turns as its baseline and printed, and the echo's own.
async fn in_turns(
    s: Arc<Scenario>,
    on: &Options,
    echo: &Arc<Scenario>,
    echo_on: &Options,
) -> (Stats, Stats) {
    let (mut st, turns) = load::run_alternating(s, on, echo.clone(), echo_on).await;
    st.baseline_rps = turns.requests_per_second;
    st.baseline_cpu_us = turns.cpu_us;
    print_progress(&st);
    (st, turns)
}

pub(crate) fn fresh_dir(d: &Path) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(d);
    std::fs::create_dir_all(d)?;
    Ok(d.to_path_buf())
}

/// Each scenario's ratio: to its own `baseline_rps` (the echo's turns alternating with it) when
/// it has one, else to the mean of every echo run of this invocation (never empty: the first is
/// the baseline).
fn set_ratios(all: &mut [Stats], echoes: &[Stats]) {
    let mean =
        echoes.iter().map(|e| e.requests_per_second).sum::<f64>() / echoes.len().max(1) as f64;
    for s in all {
        if s.baseline_rps <= 0.0 {
            s.baseline_rps = mean;
        }
        s.ratio = s.requests_per_second / s.baseline_rps.max(1e-9);
    }
}

pub(crate) fn print_progress(s: &Stats) {
    eprintln!(
        "  {:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}{}{}",
        s.name,
        s.requests_per_second,
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        s.errors,
        if s.baseline_rps > 0.0 {
            format!(
                "  {:.1} % of the echo's {:.0}",
                s.requests_per_second / s.baseline_rps * 100.0,
                s.baseline_rps
            )
        } else {
            String::new()
        },
        cpu_note(s),
        if s.exhausted {
            "  (pool exhausted)"
        } else {
            ""
        }
    );
}

/// "  CPU N µs/req (the echo's M), database D, load generator L", or what of it was measured.
fn cpu_note(s: &Stats) -> String {
    let mut note = match (s.cpu_us > 0.0, s.baseline_cpu_us > 0.0) {
        (false, _) => String::new(),
        (true, false) => format!("  CPU {:.1} µs/req", s.cpu_us),
        (true, true) => format!(
            "  CPU {:.1} µs/req (the echo's {:.1})",
            s.cpu_us, s.baseline_cpu_us
        ),
    };
    if s.db_cpu_us > 0.0 {
        note.push_str(&format!(", database {:.1}", s.db_cpu_us));
    }
    if s.loadgen_cpu_us > 0.0 {
        note.push_str(&format!(", load generator {:.1}", s.loadgen_cpu_us));
    }
    note
}

fn print_report(r: &Report) {
    println!(
        "\n{:<44} {:>10} {:>9} {:>9} {:>7} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "ratio",
        "of echo",
        "CPU µs",
        "echo's",
        "DB µs",
        "LG µs"
    );
    for s in &r.scenarios {
        println!(
            "{:<44} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>7.1}% {:>10.0} {:>9} {:>9} {:>9} {:>9}",
            s.name,
            s.requests_per_second,
            s.p50_us as f64 / 1000.0,
            s.p99_us as f64 / 1000.0,
            s.errors,
            s.ratio * 100.0,
            s.baseline_rps,
            cpu_cell(s.cpu_us),
            cpu_cell(s.baseline_cpu_us),
            cpu_cell(s.db_cpu_us),
            cpu_cell(s.loadgen_cpu_us)
        );
    }
    println!(
        "(CPU µs: the server process's CPU time over the measured window per request, all its threads; DB µs: the same for the PostgreSQL processes, when the database runs on this machine; LG µs: the load generator's own, in the scenario's turns)"
    );
    let named = |n: &str| r.scenarios.iter().find(|s| s.name == n);
    if let (Some(ping), Some(floor)) = (named(PING), named(FLOOR))
        && floor.ratio > 0.0
    {
        println!(
            "\nping against the floor probe: {:.1} % ({:.1} % of the echo, the probe {:.1} %; server CPU {:.1} µs/req, the probe's {:.1})",
            ping.ratio / floor.ratio * 100.0,
            ping.ratio * 100.0,
            floor.ratio * 100.0,
            ping.cpu_us,
            floor.cpu_us
        );
    }
    if r.echoes.len() > 1 {
        let (lo, hi) = span(r.echoes.iter().map(|e| e.requests_per_second));
        println!(
            "\necho runs: {} (the first, then the turns alternating with each scenario on the demo), {lo:.0}–{hi:.0} req/s: the machine's speed moved by {:.0} % during the run",
            r.echoes.len(),
            (hi / lo.max(1e-9) - 1.0) * 100.0
        );
        let (lo, hi) = span(r.echoes.iter().map(|e| e.cpu_us).filter(|&c| c > 0.0));
        if hi > 0.0 {
            println!("the echo's CPU per request: {lo:.1}–{hi:.1} µs");
        }
    }
    if let Some(w) = r.conformance_wall_s {
        println!(
            "\nconformance run, chatgpt profile: {w:.2} s wall (exit {})",
            r.conformance_exit.unwrap_or(-1)
        );
    }
    if let Some(m) = &r.metrics {
        let cpu = match m.cpu_overhead_pct() {
            Some(pct) => format!(
                "; server CPU {:.1} µs/req with, {:.1} without ({pct:+.1} %)",
                m.on_cpu_us, m.off_cpu_us
            ),
            None => String::new(),
        };
        println!(
            "\nmetrics overhead on tools/call fetch: {:.1} % ({:.0} req/s with metrics, {:.0} without, {} rounds in alternating turns{cpu}; target < 5 %: {})",
            m.overhead_pct,
            m.on_rps,
            m.off_rps,
            m.rounds,
            if m.overhead_pct < 5.0 {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    if let Some(l) = &r.login {
        println!(
            "\nsign-in (argon2id) idle p50 {:.1} ms\n  50 wrong attempts from one address:  p50 {:.1} ms, max {:.1} ms, {} of {} refused (worst/idle {:.2}×; target ≤ 2×: {})\n  50 wrong attempts from 50 addresses: p50 {:.1} ms, max {:.1} ms, {} of {} refused\n  the same, the owner's browser known:  p50 {:.1} ms, max {:.1} ms, {} of {} refused (its own verification lane)\n  the wrong attempts got {:?}",
            l.idle_p50_ms,
            l.one_address_p50_ms,
            l.one_address_max_ms,
            l.one_address_refused,
            l.rounds,
            l.ratio(),
            if l.ratio() <= 2.0 && l.one_address_refused == 0 {
                "met"
            } else {
                "MISSED"
            },
            l.distributed_p50_ms,
            l.distributed_max_ms,
            l.distributed_refused,
            l.rounds,
            l.known_p50_ms,
            l.known_max_ms,
            l.known_refused,
            l.rounds,
            l.attack_statuses
        );
    }
    if let Some(s) = &r.scale {
        println!(
            "\nscale: {} documents (~{} passages, {:.1} MiB of text)",
            s.documents, s.estimated_passages, s.corpus_mib
        );
        match s.ingest_s {
            Some(t) => println!("  admin ingest (full corpus)       {t:>9.2} s"),
            None => println!("  admin ingest (full corpus)       (cached data directory)"),
        }
        println!(
            "  serve ready, first start         {:>9.2} s",
            s.first_start_ready_s
        );
        println!(
            "  serve ready, warm restart        {:>9.2} s",
            s.warm_start_ready_s
        );
        println!(
            "  RSS ready / after load / peak    {:>6.0} / {:.0} / {:.0} MiB",
            s.rss_ready_mib, s.rss_after_load_mib, s.peak_rss_mib
        );
        println!(
            "  needles at rank 1                {:>6}/{}",
            s.needles_at_rank_1, s.needles
        );
        println!(
            "  incremental ingest ({} changed)  {:>9.2} s, visible after {:.2} s (restore {:.2} s)",
            s.incremental_changed,
            s.incremental_ingest_s,
            s.incremental_visible_s,
            s.restore_ingest_s
        );
    }
    println!(
        "\nload average before {} / after {}",
        r.loadavg_before, r.loadavg_after
    );
}

/// The least and greatest of `values` (`(f64::MAX, 0)` when there are none).
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::MAX, 0.0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// A CPU figure for a table: µs with one decimal, "-" when not measured.
fn cpu_cell(us: f64) -> String {
    if us > 0.0 {
        format!("{us:.1}")
    } else {
        "-".into()
    }
}

fn print_compare(old: &Report, new: &Report) {
    println!("\nchange against the saved run ({}):", old.command);
    println!(
        "{:<44} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "scenario",
        "old req/s",
        "new req/s",
        "change",
        "old p99",
        "new p99",
        "old ratio",
        "new ratio",
        "old CPU",
        "new CPU",
        "old DB",
        "new DB"
    );
    for s in &new.scenarios {
        match old.scenarios.iter().find(|o| o.name == s.name) {
            Some(o) => println!(
                "{:<44} {:>10.0} {:>10.0} {:>+7.1}% {:>9.2} {:>9.2} {:>8.1}% {:>8.1}% {:>9} {:>9} {:>9} {:>9}",
                s.name,
                o.requests_per_second,
                s.requests_per_second,
                (s.requests_per_second / o.requests_per_second.max(1e-9) - 1.0) * 100.0,
                o.p99_us as f64 / 1000.0,
                s.p99_us as f64 / 1000.0,
                o.ratio * 100.0,
                s.ratio * 100.0,
                cpu_cell(o.cpu_us),
                cpu_cell(s.cpu_us),
                cpu_cell(o.db_cpu_us),
                cpu_cell(s.db_cpu_us)
            ),
            None => println!("{:<44} {:>10} {:>10.0}", s.name, "-", s.requests_per_second),
        }
    }
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    if let (Some(o), Some(n)) = (&old.scale, &new.scale) {
        println!(
            "scale ready first start {} → {} s, warm {} → {} s, peak RSS {:.0} → {:.0} MiB, ingest {} → {} s, incremental visible {:.2} → {:.2} s",
            f(Some(o.first_start_ready_s)),
            f(Some(n.first_start_ready_s)),
            f(Some(o.warm_start_ready_s)),
            f(Some(n.warm_start_ready_s)),
            o.peak_rss_mib,
            n.peak_rss_mib,
            f(o.ingest_s),
            f(n.ingest_s),
            o.incremental_visible_s,
            n.incremental_visible_s
        );
    }
    println!(
        "conformance wall {} → {} s",
        f(old.conformance_wall_s),
        f(new.conformance_wall_s)
    );
    if let (Some(o), Some(n)) = (&old.metrics, &new.metrics) {
        println!(
            "metrics overhead {:.1} → {:.1} %, server CPU with metrics {} → {} %",
            o.overhead_pct,
            n.overhead_pct,
            f(o.cpu_overhead_pct()),
            f(n.cpu_overhead_pct())
        );
    }
}

// ---- requests ----

const PROTOCOL: &str = "2025-11-25";

fn rpc_body(id: u64, method: &str, params: Value) -> Bytes {
    Bytes::from(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string())
}

fn mcp_req(path: &str, token: &str, session: Option<&str>, body: Bytes) -> Req {
    let req = Req::new(
        Method::POST,
        path,
        &[
            ("authorization", format!("Bearer {token}").as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", PROTOCOL),
        ],
        body,
    );
    req.header_if("mcp-session-id", session)
}

pub(crate) fn form_req(path: &str, pairs: &[(&str, &str)], cookie: Option<&str>) -> Req {
    let req = Req::new(
        Method::POST,
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        Bytes::from(serde_urlencoded::to_string(pairs).expect("form")),
    );
    req.header_if("cookie", cookie)
}

pub(crate) fn get_req(path: &str, cookie: Option<&str>) -> Req {
    let req = Req::new::<&str>(Method::GET, path, &[], Bytes::new());
    req.header_if("cookie", cookie)
}

/// The JSON-RPC message of a response (plain JSON, or the first `data:` of an SSE body).
fn rpc_message(headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    let sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    let json_text = if sse {
        text.lines()
            .find_map(|l| l.strip_prefix("data:"))
            .ok_or("SSE body without data")?
            .trim()
    } else {
        text
    };
    serde_json::from_str(json_text).map_err(|e| format!("body is not JSON ({e}): {text:.200}"))
}

/// A JSON-RPC success; for tools, not `isError`; `results` non-empty when `need_results`.
fn check_rpc(headers: &HeaderMap, body: &[u8], need_results: bool) -> Result<Value, String> {
    let mut v = rpc_message(headers, body)?;
    if let Some(e) = v.get("error") {
        return Err(format!("JSON-RPC error {e}"));
    }
    let r = v.get("result").ok_or("no result")?;
    if r.get("isError") == Some(&Value::Bool(true)) {
        return Err(format!("tool error: {r:.300}"));
    }
    if need_results {
        let n = r
            .pointer("/structuredContent/results")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if n == 0 {
            return Err(format!("no search results: {r:.300}"));
        }
    }
    Ok(v["result"].take())
}

/// The floor probe's scenario (`crate::floor`): the demo's `ping` request, sent to the probe.
const FLOOR: &str = "floor probe (least authenticated ping)";
/// The demo's `ping` scenario, which the report sets against [`FLOOR`].
const PING: &str = "ping (bearer + session)";

fn echo_scenario() -> Scenario {
    let body = rpc_body(1, "ping", json!({}));
    let expected: Value = serde_json::from_slice(&body).expect("json");
    let req = Req::new(
        Method::POST,
        "/echo",
        &[("content-type", "application/json")],
        body,
    );
    Scenario {
        name: "baseline: axum JSON echo".into(),
        make: Box::new(move |_| Some(req.clone())),
        expect: StatusCode::OK,
        check: Box::new(move |_, _, _, b| {
            let v: Value = serde_json::from_slice(b).map_err(|e| e.to_string())?;
            if v == expected {
                Ok(())
            } else {
                Err(format!("echo returned {v}"))
            }
        }),
        check_every_body: false,
    }
}

// ---- the demo deployment ----

const REDIRECT_URI: &str = "https://chatgpt.com/connector_platform_oauth_redirect";
const VERIFIER: &str = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

pub(crate) struct Demo {
    addr: String,
    base: String,
    token: String,
    session: String,
    fetch_id: String,
    client_id: String,
    cookie: String,
    /// The consent form's fields with `decision=approve` (its CSRF token is the session's, so
    /// every post of it is one more approval and one more code).
    consent: Vec<(String, String)>,
    codes: Arc<Mutex<Vec<String>>>,
    chains: Arc<Mutex<Vec<String>>>,
    /// One client per connection, each with its approved consent form and its codes (the
    /// "many connectors" pair of scenarios; filled by `prepare_code_clients`).
    per_client: Arc<Mutex<Vec<Arc<ClientCodes>>>>,
}

/// A client of its own for one connection: its id, its consent form approved, its codes.
struct ClientCodes {
    client_id: String,
    consent: Vec<(String, String)>,
    codes: Mutex<Vec<String>>,
}

/// The pair of scenarios whose codes come from one client per connection.
const PER_CLIENT: &str = "many clients";

fn pkce_challenge() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER))
}

pub(crate) fn cookies_from(headers: &HeaderMap, jar: &mut HashMap<String, String>) {
    for v in headers.get_all("set-cookie") {
        if let Ok(v) = v.to_str()
            && let Some((kv, _)) = v.split_once(';').or(Some((v, "")))
            && let Some((k, val)) = kv.split_once('=')
        {
            if val.is_empty() {
                jar.remove(k.trim());
            } else {
                jar.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
    }
}

pub(crate) fn cookie_header(jar: &HashMap<String, String>) -> String {
    let mut v: Vec<_> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.sort();
    v.join("; ")
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// `(name, value)` of the `<input type="hidden">`s in a page, the last of each name.
pub(crate) fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input").skip(1) {
        let tag = part.split('>').next().unwrap_or("");
        if !tag.contains("type=\"hidden\"") {
            continue;
        }
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                html_unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            // The page's main form comes last (a header form, e.g. sign-out, has its own csrf).
            out.retain(|(k, _): &(String, String)| *k != n);
            out.push((n, v));
        }
    }
    out
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

impl Demo {
    pub(crate) async fn setup(gig: &Gigamcp, data_dir: &Path, p: &Proc) -> anyhow::Result<Self> {
        let base = p.base();
        let addr = p.addr.clone();
        let token = gig.admin(
            data_dir,
            &[
                "token",
                "issue",
                "--workspace",
                "acme",
                "--user",
                "alice",
                "--public-url",
                &base,
                "--ttl",
                "86400",
            ],
            None,
        )?;
        let mcp = "/t/acme/mcp";
        // A session, as real clients open one.
        let init = rpc_body(
            0,
            "initialize",
            json!({"protocolVersion": PROTOCOL, "capabilities": {},
                   "clientInfo": {"name": "gigamcp-bench", "version": "1"}}),
        );
        let (st, h, b) = load::once(&addr, mcp_req(mcp, &token, None, init))
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "initialize: HTTP {st}: {b:?}");
        let session = h
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow::anyhow!("initialize returned no Mcp-Session-Id"))?
            .to_string();
        let note = rpc_body(0, "notifications/initialized", json!({}));
        let note: Value = {
            let mut v: Value = serde_json::from_slice(&note)?;
            v.as_object_mut().expect("object").remove("id");
            v
        };
        let _ = load::once(
            &addr,
            mcp_req(mcp, &token, Some(&session), Bytes::from(note.to_string())),
        )
        .await;
        // A document id for fetch.
        let (st, h, b) = load::once(
            &addr,
            mcp_req(
                mcp,
                &token,
                Some(&session),
                rpc_body(
                    1,
                    "tools/call",
                    json!({"name": "search", "arguments": {"query": "incident response runbook"}}),
                ),
            ),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "search: HTTP {st}");
        let r = check_rpc(&h, &b, true).map_err(anyhow::Error::msg)?;
        let fetch_id = r
            .pointer("/structuredContent/results/0/id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("search result without id"))?
            .to_string();

        // OAuth: a public client, alice signed in, consent given once.
        let client_id = register_client(&addr).await?;
        let authorize_path = authorize_path(&client_id, &format!("{base}{mcp}"))?;
        let mut jar = HashMap::new();
        let login_path = format!(
            "/login?{}",
            serde_urlencoded::to_string([("next", authorize_path.as_str())])?
        );
        let (st, h, b) = load::once(&addr, get_req(&login_path, None))
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "login form: HTTP {st}");
        cookies_from(&h, &mut jar);
        let mut fields = hidden_inputs(&String::from_utf8_lossy(&b));
        fields.push(("username".into(), "alice".into()));
        fields.push(("password".into(), DEMO_PASSWORD.into()));
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (st, h, _) = load::once(
            &addr,
            form_req("/login", &pairs, Some(&cookie_header(&jar))),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st.is_redirection(), "login: HTTP {st}");
        cookies_from(&h, &mut jar);
        let cookie = cookie_header(&jar);
        let (st, h, b) = load::once(&addr, get_req(&authorize_path, Some(&cookie)))
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "consent page: HTTP {st}");
        cookies_from(&h, &mut jar);
        let cookie = cookie_header(&jar);
        let fields = approved_form(&b);
        let (st, h, _) = load::once(&addr, consent_post(&fields, &cookie))
            .await
            .map_err(anyhow::Error::msg)?;
        let code = code_from(&h)
            .ok()
            .filter(|_| st.is_redirection())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "consent: HTTP {st}, Location {:?}, fields {:?}",
                    h.get("location"),
                    fields.iter().map(|(k, _)| k).collect::<Vec<_>>()
                )
            })?;
        Ok(Demo {
            addr,
            base,
            token,
            session,
            fetch_id,
            client_id,
            cookie,
            consent: fields,
            codes: Arc::new(Mutex::new(vec![code])),
            chains: Arc::new(Mutex::new(Vec::new())),
            per_client: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Fails unless the floor probe at `probe` answers the demo's `ping` as the server does:
    /// the same status and body, and the same header names (`date` aside, whose presence is
    /// hyper's), so the probe's figure is for the same answer and not a cheaper one.
    async fn same_ping_answer(&self, probe: &str) -> anyhow::Result<()> {
        let ping = || {
            mcp_req(
                "/t/acme/mcp",
                &self.token,
                Some(&self.session),
                rpc_body(1, "ping", json!({})),
            )
        };
        let server = load::once(&self.addr, ping())
            .await
            .map_err(anyhow::Error::msg)?;
        let floor = load::once(probe, ping())
            .await
            .map_err(anyhow::Error::msg)?;
        let names = |h: &HeaderMap| {
            let mut v: Vec<String> = h
                .keys()
                .filter(|k| *k != "date")
                .map(|k| k.as_str().to_owned())
                .collect();
            v.sort();
            v
        };
        anyhow::ensure!(
            server.0 == floor.0 && server.2 == floor.2 && names(&server.1) == names(&floor.1),
            "the floor probe does not answer ping as the server does:\n  server: {} {:?} {:?}\n  probe:  {} {:?} {:?}",
            server.0,
            names(&server.1),
            server.2,
            floor.0,
            names(&floor.1),
            floor.2
        );
        Ok(())
    }

    fn mcp_scenario(&self, name: &str, body: Bytes, need_results: bool) -> Scenario {
        let req = mcp_req("/t/acme/mcp", &self.token, Some(&self.session), body);
        Scenario {
            name: name.into(),
            make: Box::new(move |_| Some(req.clone())),
            expect: StatusCode::OK,
            check: Box::new(move |_, _, h, b| check_rpc(h, b, need_results).map(|_| ())),
            check_every_body: false,
        }
    }

    /// Authenticated `tools/call fetch` of one document (the metrics-overhead pair).
    pub(crate) fn fetch_scenario(&self, name: &str) -> Scenario {
        self.mcp_scenario(
            name,
            rpc_body(
                3,
                "tools/call",
                json!({"name": "fetch", "arguments": {"id": self.fetch_id}}),
            ),
            false,
        )
    }

    fn scenarios(&self) -> Vec<Scenario> {
        let mut v = vec![
            self.mcp_scenario(PING, rpc_body(1, "ping", json!({})), false),
            self.mcp_scenario("tools/list", rpc_body(2, "tools/list", json!({})), false),
            self.mcp_scenario(
                "tools/call fetch",
                rpc_body(
                    3,
                    "tools/call",
                    json!({"name": "fetch", "arguments": {"id": self.fetch_id}}),
                ),
                false,
            ),
            self.mcp_scenario(
                "tools/call search_company_rag",
                rpc_body(
                    4,
                    "tools/call",
                    json!({"name": "search_company_rag",
                           "arguments": {"query": "incident response runbook", "limit": 5}}),
                ),
                true,
            ),
            self.mcp_scenario(
                "tools/call search (ChatGPT)",
                rpc_body(
                    5,
                    "tools/call",
                    json!({"name": "search", "arguments": {"query": "refresh token rotation"}}),
                ),
                true,
            ),
        ];
        let reg = register_req();
        v.push(Scenario {
            name: "register (DCR, rate limit lifted)".into(),
            make: Box::new(move |_| Some(reg.clone())),
            expect: StatusCode::CREATED,
            check: Box::new(|_, _, _, b| {
                let v: Value = serde_json::from_slice(b).map_err(|e| e.to_string())?;
                v.get("client_id")
                    .and_then(Value::as_str)
                    .map(|_| ())
                    .ok_or_else(|| format!("no client_id: {v}"))
            }),
            check_every_body: false,
        });
        // The consent form approved: 302 with a code. Keeps the codes for the token grants.
        let (post, codes) = (self.consent_req(), self.codes.clone());
        v.push(Scenario {
            name: "authorize (consent approved → code)".into(),
            make: Box::new(move |_| Some(post.clone())),
            expect: StatusCode::FOUND,
            check: Box::new(move |_, _, h, _| {
                let code = code_from(h)?;
                codes.lock().unwrap().push(code);
                Ok(())
            }),
            check_every_body: true,
        });
        let (codes, client, resource) = (
            self.codes.clone(),
            self.client_id.clone(),
            format!("{}/t/acme/mcp", self.base),
        );
        v.push(Scenario {
            name: "token: authorization_code grant".into(),
            make: Box::new(move |_| {
                let code = codes.lock().unwrap().pop()?;
                Some(code_grant_req(&code, &client, &resource))
            }),
            expect: StatusCode::OK,
            check: Box::new(|_, _, h, b| token_response(h, b).map(|_| ())),
            check_every_body: false,
        });
        // The same pair with one client per connection: sixteen connectors whose users approve
        // and redeem at once. Above, every code is for one client, user and workspace, so each
        // redemption supersedes the grant the one before it created (the worst case: on
        // PostgreSQL the redemptions queue on that row's lock).
        let (per_client, cookie) = (self.per_client.clone(), self.cookie.clone());
        let of = |all: &Arc<Mutex<Vec<Arc<ClientCodes>>>>, c: &Conn| {
            let all = all.lock().unwrap();
            (!all.is_empty()).then(|| all[c.index % all.len()].clone())
        };
        v.push(Scenario {
            name: format!("authorize ({PER_CLIENT})"),
            make: Box::new(move |c: &mut Conn| {
                let cc = of(&per_client, c)?;
                Some(consent_post(&cc.consent, &cookie))
            }),
            expect: StatusCode::FOUND,
            check: {
                let per_client = self.per_client.clone();
                Box::new(move |c, _, h, _| {
                    let code = code_from(h)?;
                    let cc = of(&per_client, c).ok_or("no clients prepared")?;
                    cc.codes.lock().unwrap().push(code);
                    Ok(())
                })
            },
            check_every_body: true,
        });
        let (per_client, resource) = (self.per_client.clone(), format!("{}/t/acme/mcp", self.base));
        v.push(Scenario {
            name: format!("token: authorization_code ({PER_CLIENT})"),
            make: Box::new(move |c: &mut Conn| {
                let cc = of(&per_client, c)?;
                let code = cc.codes.lock().unwrap().pop()?;
                Some(code_grant_req(&code, &cc.client_id, &resource))
            }),
            expect: StatusCode::OK,
            check: Box::new(|_, _, h, b| token_response(h, b).map(|_| ())),
            check_every_body: false,
        });
        let (chains, resource) = (self.chains.clone(), format!("{}/t/acme/mcp", self.base));
        v.push(Scenario {
            name: "token: refresh_token grant (rotation)".into(),
            make: Box::new(move |c: &mut Conn| {
                if c.data.is_none() {
                    c.data = chains.lock().unwrap().pop();
                }
                let chain = c.data.clone()?;
                let (client, rt) = chain.split_once(' ')?;
                Some(form_req(
                    "/api/oauth/server/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt),
                        ("client_id", client),
                        ("resource", &resource),
                    ],
                    None,
                ))
            }),
            expect: StatusCode::OK,
            check: Box::new(|c, _, h, b| {
                let v = token_response(h, b)?;
                let rt = v
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .ok_or("no rotated refresh_token")?;
                let client = c
                    .data
                    .as_deref()
                    .and_then(|d| d.split_once(' '))
                    .map(|(c, _)| c.to_string());
                c.data = client.map(|client| format!("{client} {rt}"));
                Ok(())
            }),
            check_every_body: true,
        });
        v
    }

    /// The consent form's approval, as the signed-in user's browser posts it.
    fn consent_req(&self) -> Req {
        consent_post(&self.consent, &self.cookie)
    }

    /// A newly registered client and the approval form of its consent page, opened by the
    /// signed-in user (each post of the form is one code).
    async fn consented_client(
        &self,
        resource: &str,
    ) -> anyhow::Result<(String, Vec<(String, String)>)> {
        let client_id = register_client(&self.addr).await?;
        let page = get_req(&authorize_path(&client_id, resource)?, Some(&self.cookie));
        let (st, _, b) = load::once(&self.addr, page)
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "consent page: HTTP {st}");
        Ok((client_id, approved_form(&b)))
    }

    /// One client per connection for the "many connectors" pair: registered, its consent page
    /// opened by the signed-in user and its approval form kept (each post of it is one code).
    async fn prepare_code_clients(&self, n: usize) -> anyhow::Result<()> {
        let resource = format!("{}/t/acme/mcp", self.base);
        let mut out = Vec::new();
        for _ in 0..n {
            let (client_id, consent) = self.consented_client(&resource).await?;
            out.push(Arc::new(ClientCodes {
                client_id,
                consent,
                codes: Mutex::new(Vec::new()),
            }));
        }
        *self.per_client.lock().unwrap() = out;
        Ok(())
    }

    /// One refresh-token chain per connection, each on a grant of its own (a client registered
    /// and approved for it): chains sharing a grant would rotate each other's refresh token
    /// and be refused as replays. Chains are `"client_id refresh_token"`.
    async fn prepare_refresh_chains(&self, n: usize) -> anyhow::Result<()> {
        let resource = format!("{}/t/acme/mcp", self.base);
        let mut out = Vec::new();
        for _ in 0..n {
            let (client, consent) = self.consented_client(&resource).await?;
            let approve = consent_post(&consent, &self.cookie);
            let (_, h, _) = load::once(&self.addr, approve)
                .await
                .map_err(anyhow::Error::msg)?;
            let code = code_from(&h).map_err(anyhow::Error::msg)?;
            let (st, h, b) = load::once(&self.addr, code_grant_req(&code, &client, &resource))
                .await
                .map_err(anyhow::Error::msg)?;
            anyhow::ensure!(st == StatusCode::OK, "code redemption: HTTP {st}: {b:?}");
            let v = token_response(&h, &b).map_err(anyhow::Error::msg)?;
            let rt = v["refresh_token"].as_str().unwrap_or_default();
            out.push(format!("{client} {rt}"));
        }
        *self.chains.lock().unwrap() = out;
        Ok(())
    }
}

/// The consent page's form (`page` is its HTML), approved.
fn approved_form(page: &[u8]) -> Vec<(String, String)> {
    let mut fields = hidden_inputs(&String::from_utf8_lossy(page));
    fields.push(("decision".into(), "approve".into()));
    fields
}

/// The signed-in browser's post of a consent form.
fn consent_post(fields: &[(String, String)], cookie: &str) -> Req {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form_req("/api/oauth/server/authorize", &pairs, Some(cookie))
}

/// The authorization request a bench client sends (PKCE S256, the demo's MCP resource).
fn authorize_path(client_id: &str, resource: &str) -> anyhow::Result<String> {
    Ok(format!(
        "/api/oauth/server/authorize?{}",
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "mcp:read mcp:tools"),
            ("state", "bench"),
            ("code_challenge", &pkce_challenge()),
            ("code_challenge_method", "S256"),
            ("resource", resource),
        ])?
    ))
}

/// The code in an authorization response's `Location`.
fn code_from(h: &HeaderMap) -> Result<String, String> {
    let loc = h
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    query_param(loc, "code").ok_or_else(|| format!("no code in {loc}"))
}

/// The token request redeeming `code` (PKCE verifier, RFC 8707 resource).
fn code_grant_req(code: &str, client_id: &str, resource: &str) -> Req {
    form_req(
        "/api/oauth/server/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
            ("resource", resource),
        ],
        None,
    )
}

/// Registers a public client (DCR) and returns its `client_id`.
async fn register_client(addr: &str) -> anyhow::Result<String> {
    let (st, _, b) = load::once(addr, register_req())
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(st == StatusCode::CREATED, "register: HTTP {st}: {b:?}");
    let reg: Value = serde_json::from_slice(&b)?;
    Ok(reg["client_id"].as_str().unwrap_or_default().to_string())
}

fn register_req() -> Req {
    Req::new(
        Method::POST,
        "/api/oauth/server/register",
        &[("content-type", "application/json")],
        Bytes::from(
            json!({
                "client_name": "gigamcp-bench",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            })
            .to_string(),
        ),
    )
}

fn token_response(h: &HeaderMap, b: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(b).map_err(|e| e.to_string())?;
    if v.get("access_token").and_then(Value::as_str).is_none() {
        return Err(format!("no access_token: {v}"));
    }
    let no_store = h
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store"));
    if !no_store {
        return Err("token response without Cache-Control: no-store".into());
    }
    Ok(v)
}

// ---- conformance ----

fn conformance_run(gig: &Gigamcp, harness: &Path, work: &Path) -> anyhow::Result<(f64, i32)> {
    let dir = fresh_dir(&work.join("conformance"))?;
    let mut server = gig.serve(
        &dir,
        true,
        &[
            "--registration-rate-limit",
            "100000",
            "--refresh-grace",
            "0",
            "--duplicate-code-window",
            "0",
        ],
    )?;
    server.wait_listening(Duration::from_secs(120))?;
    let base = server.base();
    let t0 = Instant::now();
    let out = std::process::Command::new(harness)
        .args(["run", &format!("{base}/t/acme/mcp"), "--profile", "chatgpt"])
        .args([
            "--login",
            "form",
            "--username",
            "alice",
            "--password",
            DEMO_PASSWORD,
        ])
        .args(["--second-resource", &format!("{base}/t/globex/mcp")])
        .args(["--replay-delay", "0", "--expiry-wait", "0"])
        .arg("--report")
        .arg(format!("json={}", dir.join("report.json").display()))
        .output()?;
    let wall = t0.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    }
    server.stop();
    Ok((wall, code))
}

// ---- scale ----

/// The load options for a server process (its address, and its pid for `Stats::cpu_us`).
pub(crate) type OptsFn<'a> = dyn Fn(&Proc) -> Options + 'a;

async fn scale_phase(
    gig: &Gigamcp,
    a: &RunArgs,
    opts: &OptsFn<'_>,
) -> anyhow::Result<(ScaleReport, Vec<Stats>)> {
    let root = a.work_dir.join(format!(
        "scale-d{}-s{}-g{}",
        a.scale_documents,
        a.seed,
        corpus::GENERATION
    ));
    let corpus0 = root.join("corpus");
    let corpus1 = root.join("corpus-r1");
    let data = root.join("data");
    let mut rep = ScaleReport {
        documents: a.scale_documents,
        ..ScaleReport::default()
    };
    let spec = corpus::Spec::new(a.scale_documents, a.seed);
    let t = Instant::now();
    let summary = match std::fs::read(corpus0.join("needles.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<corpus::Summary>(&b).ok())
    {
        Some(s) => s,
        None => {
            let _ = std::fs::remove_dir_all(&corpus0);
            corpus::generate(&spec, &corpus0)?
        }
    };
    let mut spec1 = spec.clone();
    spec1.revision = 1;
    spec1.changed = a.changed;
    let summary1 = match std::fs::read(corpus1.join("needles.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<corpus::Summary>(&b).ok())
        .filter(|s| s.changed.len() == a.changed.min(a.scale_documents))
    {
        Some(s) => s,
        None => {
            let _ = std::fs::remove_dir_all(&corpus1);
            corpus::generate(&spec1, &corpus1)?
        }
    };
    rep.generate_s = t.elapsed().as_secs_f64();
    rep.estimated_passages = summary.estimated_passages;
    rep.corpus_mib = summary.bytes as f64 / (1024.0 * 1024.0);
    rep.needles = summary.needles.len();
    eprintln!(
        "  scale corpus: {} documents, ~{} passages ({:.1} MiB) in {}",
        summary.documents,
        summary.estimated_passages,
        rep.corpus_mib,
        root.display()
    );

    let stamp = data.join("bench-ingested");
    if !stamp.is_file() {
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data)?;
        gig.admin(
            &data,
            &["workspace", "create", "scale", "--name", "Scale"],
            None,
        )?;
        gig.admin(
            &data,
            &["user", "create", "alice", "--password-stdin"],
            Some(DEMO_PASSWORD),
        )?;
        gig.admin(&data, &["member", "add", "scale", "alice"], None)?;
        let t = Instant::now();
        gig.admin(
            &data,
            &["ingest", "scale", &corpus0.display().to_string()],
            None,
        )?;
        let s = t.elapsed().as_secs_f64();
        eprintln!("  admin ingest of the full corpus: {s:.2} s");
        rep.ingest_s = Some(s);
        std::fs::write(&stamp, b"ok")?;
    }

    let needle = summary
        .needles
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("corpus has no needles"))?;
    // First start (whatever the data directory holds), then a warm restart.
    let (p, ready, token) = start_scale(gig, &data, &needle).await?;
    rep.first_start_ready_s = ready;
    p.stop();
    let (p, ready, token2) = start_scale(gig, &data, &needle).await?;
    let _ = token;
    let token = token2;
    rep.warm_start_ready_s = ready;
    eprintln!(
        "  serve ready: first start {:.2} s, warm restart {:.2} s",
        rep.first_start_ready_s, rep.warm_start_ready_s
    );
    if let Some((rss, _)) = p.memory_mib() {
        rep.rss_ready_mib = rss;
    }

    // Relevance: every needle first.
    for n in &summary.needles {
        let hits = search_ids(&p.addr, &token, &n.query).await?;
        if hits.first() == Some(&n.doc_id) {
            rep.needles_at_rank_1 += 1;
        } else {
            eprintln!(
                "  needle {:?}: expected {} first, got {hits:?}",
                n.query, n.doc_id
            );
        }
    }

    // Search under load, queries rotating through the corpus's vocabulary.
    let mut stats = Vec::new();
    let scale_docs = a.scale_documents;
    for (tool, label) in [
        ("search_company_rag", "scale: search_company_rag"),
        ("search", "scale: search (ChatGPT)"),
    ] {
        let bodies: Vec<Req> = summary
            .queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let args = if tool == "search" {
                    json!({"query": q})
                } else {
                    json!({"query": q, "limit": 5})
                };
                mcp_req(
                    "/t/scale/mcp",
                    &token,
                    None,
                    rpc_body(
                        i as u64,
                        "tools/call",
                        json!({"name": tool, "arguments": args}),
                    ),
                )
            })
            .collect();
        let bodies = Arc::new(bodies);
        let s = Scenario {
            name: format!("{label} ({scale_docs} docs)"),
            make: Box::new(move |c: &mut Conn| {
                Some(bodies[(c.index * 7 + c.sent as usize) % bodies.len()].clone())
            }),
            expect: StatusCode::OK,
            check: Box::new(|_, _, h, b| check_rpc(h, b, false).map(|_| ())),
            check_every_body: false,
        };
        let st = load::run(Arc::new(s), &opts(&p)).await;
        print_progress(&st);
        stats.push(st);
    }
    if let Some((rss, hwm)) = p.memory_mib() {
        rep.rss_after_load_mib = rss;
        rep.peak_rss_mib = hwm;
    }

    // Incremental ingest: revision 1 changes `changed` documents; measure until the running
    // server finds one of them by its new marker; then restore revision 0.
    rep.incremental_changed = summary1.changed.len();
    if let Some(changed) = summary1.changed.first() {
        let (marker, changed_id) = (&changed.query, &changed.doc_id);
        let t = Instant::now();
        gig.admin(
            &data,
            &["ingest", "scale", &corpus1.display().to_string()],
            None,
        )?;
        rep.incremental_ingest_s = t.elapsed().as_secs_f64();
        loop {
            let hits = search_ids(&p.addr, &token, marker).await?;
            if hits.first() == Some(changed_id) {
                break;
            }
            if t.elapsed() > Duration::from_secs(120) {
                anyhow::bail!("changed document {changed_id} not visible after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rep.incremental_visible_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        gig.admin(
            &data,
            &["ingest", "scale", &corpus0.display().to_string()],
            None,
        )?;
        rep.restore_ingest_s = t.elapsed().as_secs_f64();
        eprintln!(
            "  incremental ingest of {} changed documents: {:.2} s, visible after {:.2} s",
            rep.incremental_changed, rep.incremental_ingest_s, rep.incremental_visible_s
        );
    }
    if let Some((rss, hwm)) = p.memory_mib() {
        rep.rss_after_load_mib = rep.rss_after_load_mib.max(rss);
        rep.peak_rss_mib = hwm;
    }
    p.stop();
    Ok((rep, stats))
}

async fn start_scale(
    gig: &Gigamcp,
    data: &Path,
    needle: &corpus::Needle,
) -> anyhow::Result<(Proc, f64, String)> {
    let port = procs::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let token = gig.admin(
        data,
        &[
            "token",
            "issue",
            "--workspace",
            "scale",
            "--user",
            "alice",
            "--public-url",
            &base,
            "--ttl",
            "86400",
        ],
        None,
    )?;
    let t0 = Instant::now();
    let mut cmd = std::process::Command::new(&gig.bin);
    cmd.arg("serve")
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .env_remove("GIGAMCP_DATABASE_URL")
        .env_remove("GIGAMCP_PUBLIC_URL");
    let mut p = Proc::spawn(
        cmd,
        format!("127.0.0.1:{port}"),
        data.join(format!("server-{port}.log")),
    )?;
    p.wait_listening(Duration::from_secs(600))?;
    loop {
        if let Ok(ids) = search_ids(&p.addr, &token, &needle.query).await
            && ids.first() == Some(&needle.doc_id)
        {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("scale server never answered the needle query");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((p, t0.elapsed().as_secs_f64(), token))
}

/// Document ids `search_company_rag` returns for `query` in workspace `scale`.
async fn search_ids(addr: &str, token: &str, query: &str) -> anyhow::Result<Vec<String>> {
    let (st, h, b) = load::once(
        addr,
        mcp_req(
            "/t/scale/mcp",
            token,
            None,
            rpc_body(
                1,
                "tools/call",
                json!({"name": "search_company_rag", "arguments": {"query": query, "limit": 5}}),
            ),
        ),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(st == StatusCode::OK, "search: HTTP {st}");
    let r = check_rpc(&h, &b, false).map_err(anyhow::Error::msg)?;
    Ok(r.pointer("/structuredContent/results")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.get("doc_id")
                        .or_else(|| x.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(name: &str, rps: f64) -> Stats {
        Stats {
            name: name.into(),
            requests: 1,
            requests_per_second: rps,
            ..Stats::default()
        }
    }

    /// The machine slows to half speed after the first echo run: a scenario measured then is
    /// given against the echo measured in turns with it, not against the fast first one.
    #[test]
    fn a_scenario_s_ratio_is_to_the_echo_runs_around_it() {
        let echoes = vec![
            stats("echo", 100_000.0),
            stats("echo", 50_000.0),
            stats("echo", 50_000.0),
        ];
        let mut first = echoes[0].clone();
        first.baseline_rps = first.requests_per_second;
        let mut ping = stats("ping", 30_000.0);
        ping.baseline_rps = (100_000.0 + 50_000.0) / 2.0;
        let mut fetch = stats("fetch", 25_000.0);
        fetch.baseline_rps = 50_000.0;
        // Measured on another server after the echo stopped: no echo runs of its own.
        let scale = stats("scale search", 20_000.0);
        let mut all = vec![first, ping, fetch, scale];
        set_ratios(&mut all, &echoes);
        let ratios: Vec<f64> = all
            .iter()
            .map(|s| (s.ratio * 1000.0).round() / 10.0)
            .collect();
        assert_eq!(ratios, vec![100.0, 40.0, 50.0, 30.0]);
        assert_eq!(all[3].baseline_rps.round(), 66_667.0);
    }

    /// `--compare` reads files saved before the echo ran between scenarios.
    #[test]
    fn a_report_saved_without_echo_runs_still_loads() {
        let old = json!({
            "command": "gigamcp-bench run", "loadavg_before": "0", "loadavg_after": "0",
            "connections": 16, "duration_s": 5.0,
            "scenarios": [{"name": "ping", "requests": 10, "errors": 0, "seconds": 1.0,
                           "requests_per_second": 10.0, "p50_us": 1, "p99_us": 2, "max_us": 3,
                           "ratio": 0.5, "exhausted": false}],
            "conformance_wall_s": null, "conformance_exit": null, "scale": null
        });
        let r: Report = serde_json::from_value(old).unwrap();
        assert!(r.echoes.is_empty());
        assert_eq!(r.scenarios[0].baseline_rps, 0.0);
        assert_eq!(r.scenarios[0].ratio, 0.5);
    }
}
