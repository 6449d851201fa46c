//! What the server's protections cost, measured against the same server without them or at
//! rest, in the same invocation:
//!
//! - **Metrics overhead** (issue 10): authenticated `tools/call fetch` on `serve --demo` with
//!   Prometheus metrics on (the default) and with `--metrics off`, run alternately so drift in
//!   the machine's load hits both sides equally. Target: under 5 % of throughput.
//! - **Sign-in under attack** (issue 8): a correct sign-in's latency at rest, then while 50 wrong
//!   attempts arrive at the same moment, (a) from one address, (b) from 50 addresses. Target for
//!   (a): within 2× of the idle figure. (b) is reported as it is: a distributed flood competes
//!   for the same two argon2 slots, and the bounded queue answers the overflow 503 at once.
use crate::load::{self, Stats};
use crate::procs::{DEMO_PASSWORD, Gigamcp, Proc};
use crate::run::{
    Demo, OptsFn, cookie_header, cookies_from, form_req, fresh_dir, get_req, hidden_inputs,
};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricsOverhead {
    pub rounds: usize,
    pub on_rps: f64,
    pub off_rps: f64,
    /// (off − on) / off, in percent (negative: noise in favour of metrics on).
    pub overhead_pct: f64,
    pub errors: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginUnderAttack {
    pub rounds: usize,
    pub idle_p50_ms: f64,
    /// One attacking address, 50 wrong attempts per round.
    pub one_address_p50_ms: f64,
    pub one_address_max_ms: f64,
    /// Correct sign-ins that did not succeed during the one-address flood.
    pub one_address_refused: usize,
    /// 50 attacking addresses, one wrong attempt each per round.
    pub distributed_p50_ms: f64,
    pub distributed_max_ms: f64,
    pub distributed_refused: usize,
    /// Statuses the wrong attempts got, over every round (e.g. "401": 12, "429": 480).
    pub attack_statuses: HashMap<String, usize>,
}

impl LoginUnderAttack {
    /// The worst sign-in during the one-address flood, over the idle median.
    pub fn ratio(&self) -> f64 {
        self.one_address_max_ms / self.idle_p50_ms.max(1e-9)
    }
}

/// Alternates the fetch scenario between a server with metrics and one without.
pub async fn metrics_overhead(
    gig: &Gigamcp,
    work_dir: &Path,
    opts: &OptsFn<'_>,
    rounds: usize,
) -> anyhow::Result<(MetricsOverhead, Vec<Stats>)> {
    let mut on = gig.serve(&fresh_dir(&work_dir.join("metrics-on"))?, true, &[])?;
    let mut off = gig.serve(
        &fresh_dir(&work_dir.join("metrics-off"))?,
        true,
        &["--metrics", "off"],
    )?;
    on.wait_listening(Duration::from_secs(120))?;
    off.wait_listening(Duration::from_secs(120))?;
    let on_demo = Demo::setup(gig, &work_dir.join("metrics-on"), &on).await?;
    let off_demo = Demo::setup(gig, &work_dir.join("metrics-off"), &off).await?;
    let mut report = MetricsOverhead {
        rounds,
        ..MetricsOverhead::default()
    };
    let mut kept = Vec::new();
    for round in 0..rounds {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        let sides: [(&Demo, &Proc, bool); 2] = if round % 2 == 0 {
            [(&on_demo, &on, true), (&off_demo, &off, false)]
        } else {
            [(&off_demo, &off, false), (&on_demo, &on, true)]
        };
        for (demo, server, metrics) in sides {
            let name = format!(
                "tools/call fetch, metrics {}",
                if metrics { "on" } else { "off" }
            );
            let st = load::run(Arc::new(demo.fetch_scenario(&name)), &opts(server)).await;
            crate::run::print_progress(&st);
            report.errors += st.errors;
            if metrics {
                report.on_rps += st.requests_per_second / rounds as f64;
            } else {
                report.off_rps += st.requests_per_second / rounds as f64;
            }
            if round + 1 == rounds {
                kept.push(st);
            }
        }
    }
    report.overhead_pct = (report.off_rps - report.on_rps) / report.off_rps.max(1e-9) * 100.0;
    on.stop();
    off.stop();
    Ok((report, kept))
}

/// One sign-in through the real form: GET /login (CSRF cookie and field), then the timed POST.
struct Attempt {
    addr: String,
    pairs: Vec<(String, String)>,
    cookie: String,
    forwarded_for: String,
}

impl Attempt {
    async fn prepare(
        addr: &str,
        forwarded_for: &str,
        user: &str,
        password: &str,
    ) -> anyhow::Result<Self> {
        let get = get_req("/login?next=%2F", None).header("x-forwarded-for", forwarded_for);
        let (st, h, b) = load::once(addr, get).await.map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "login form: HTTP {st}");
        let mut jar = HashMap::new();
        cookies_from(&h, &mut jar);
        let mut pairs = hidden_inputs(&String::from_utf8_lossy(&b));
        pairs.push(("username".into(), user.into()));
        pairs.push(("password".into(), password.into()));
        Ok(Self {
            addr: addr.to_string(),
            pairs,
            cookie: cookie_header(&jar),
            forwarded_for: forwarded_for.to_string(),
        })
    }

    /// Posts the form: the status and how long the POST took.
    async fn post(self) -> (StatusCode, Duration) {
        let pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = form_req("/login", &pairs, Some(&self.cookie))
            .header("x-forwarded-for", &self.forwarded_for);
        let started = Instant::now();
        let status = match load::once(&self.addr, req).await {
            Ok((st, _, _)) => st,
            Err(_) => StatusCode::BAD_GATEWAY,
        };
        (status, started.elapsed())
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One round: the wrong attempts from `attackers` addresses, and the owner's correct sign-in a
/// moment later (so the flood is already in the queue).
async fn attack_round(
    addr: &str,
    round: usize,
    attackers: usize,
    statuses: &mut HashMap<String, usize>,
) -> anyhow::Result<(StatusCode, Duration)> {
    let mut flood = Vec::new();
    for i in 0..50 {
        // Fresh attacker addresses each round: an address already over its limit would be
        // refused before any password work, which would flatter the figure.
        let from = format!("203.0.{}.{}", round % 250, 1 + (i % attackers));
        let user = format!("sprayed{round}x{i}");
        flood.push(Attempt::prepare(addr, &from, &user, "wrong-password").await?);
    }
    let owner = Attempt::prepare(
        addr,
        &format!("198.51.100.{}", 1 + round % 250),
        "alice",
        DEMO_PASSWORD,
    )
    .await?;
    let flood: Vec<_> = flood.into_iter().map(|a| tokio::spawn(a.post())).collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let result = owner.post().await;
    for f in flood {
        let (st, _) = f.await?;
        *statuses.entry(st.as_u16().to_string()).or_default() += 1;
    }
    // Let the queue drain before the next round.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(result)
}

pub async fn login_under_attack(
    gig: &Gigamcp,
    work_dir: &Path,
    rounds: usize,
) -> anyhow::Result<LoginUnderAttack> {
    let dir = fresh_dir(&work_dir.join("login"))?;
    // The bench is the trusted proxy: each attempt names its client in X-Forwarded-For.
    let mut p = gig.serve(&dir, true, &["--trusted-proxy", "127.0.0.1"])?;
    p.wait_listening(Duration::from_secs(120))?;
    let addr = p.addr.clone();
    let mut r = LoginUnderAttack {
        rounds,
        ..LoginUnderAttack::default()
    };
    let mut idle = Vec::new();
    // One unmeasured sign-in warms the dummy hash and the connection pool.
    let _ = Attempt::prepare(&addr, "198.51.100.250", "alice", DEMO_PASSWORD)
        .await?
        .post()
        .await;
    for i in 0..rounds.max(5) {
        let (st, took) = Attempt::prepare(
            &addr,
            &format!("198.51.100.{}", 1 + i % 250),
            "alice",
            DEMO_PASSWORD,
        )
        .await?
        .post()
        .await;
        anyhow::ensure!(st == StatusCode::SEE_OTHER, "idle sign-in: HTTP {st}");
        idle.push(millis(took));
    }
    r.idle_p50_ms = median(&mut idle);
    for (attackers, p50, max, refused) in [
        (
            1,
            &mut r.one_address_p50_ms,
            &mut r.one_address_max_ms,
            &mut r.one_address_refused,
        ),
        (
            50,
            &mut r.distributed_p50_ms,
            &mut r.distributed_max_ms,
            &mut r.distributed_refused,
        ),
    ] {
        let mut took = Vec::new();
        for round in 0..rounds {
            let tag = round + if attackers == 1 { 0 } else { 100 };
            let (st, t) = attack_round(&addr, tag, attackers, &mut r.attack_statuses).await?;
            if st == StatusCode::SEE_OTHER {
                took.push(millis(t));
            } else {
                *refused += 1;
            }
        }
        *max = took.iter().copied().fold(0.0, f64::max);
        *p50 = median(&mut took);
    }
    p.stop();
    eprintln!(
        "  sign-in: idle p50 {:.1} ms; 50 wrong attempts from one address: p50 {:.1} ms, max {:.1} ms, {} refused; from 50 addresses: p50 {:.1} ms, max {:.1} ms, {} refused",
        r.idle_p50_ms,
        r.one_address_p50_ms,
        r.one_address_max_ms,
        r.one_address_refused,
        r.distributed_p50_ms,
        r.distributed_max_ms,
        r.distributed_refused
    );
    Ok(r)
}
