//! What the server's protections cost, measured against the same server without them or at
//! rest, in the same invocation:
//!
//! - **Metrics overhead** (issue 10): authenticated `tools/call fetch` on `serve --demo` with
//!   Prometheus metrics on (the default) and with `--metrics off`, the two in alternating turns
//!   of [`load::TURN`] (`load::run_alternating`), so the machine's drift, which moves by tens of
//!   percent within one run, hits both sides equally. Target: under 5 % of throughput. The
//!   servers' CPU time per request, with and without, is reported beside it.
//! - **Sign-in under attack** (issue 8): a correct sign-in's latency at rest, then while 50 wrong
//!   attempts arrive at the same moment, (a) from one address, (b) from 50 addresses. Target for
//!   (a): within 2× of the idle figure. (b) is reported as it is: a distributed flood competes
//!   for the same two argon2 slots, and the bounded queue answers the overflow 503 at once;
//!   then (c) as (b) with the owner's browser known (the device cookie of an earlier sign-in),
//!   which verifies in a lane of its own: none of its sign-ins may be refused.
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
    /// The server's CPU time per request with metrics and without (mean of the rounds, µs; 0
    /// in reports saved before it was measured).
    #[serde(default)]
    pub on_cpu_us: f64,
    #[serde(default)]
    pub off_cpu_us: f64,
}

impl MetricsOverhead {
    /// Adds one round: the two sides' stats over the same turns.
    fn add_round(&mut self, on: &Stats, off: &Stats) {
        let n = self.rounds.max(1) as f64;
        self.on_rps += on.requests_per_second / n;
        self.off_rps += off.requests_per_second / n;
        self.on_cpu_us += on.cpu_us / n;
        self.off_cpu_us += off.cpu_us / n;
        self.errors += on.errors + off.errors;
        self.overhead_pct = (self.off_rps - self.on_rps) / self.off_rps.max(1e-9) * 100.0;
    }

    /// (on − off) / off of the CPU time per request, in percent; `None` if either is unmeasured.
    pub fn cpu_overhead_pct(&self) -> Option<f64> {
        (self.on_cpu_us > 0.0 && self.off_cpu_us > 0.0)
            .then(|| (self.on_cpu_us - self.off_cpu_us) / self.off_cpu_us * 100.0)
    }
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
    /// 50 attacking addresses, the owner's browser known by its device cookie (0 in reports
    /// saved before it was measured).
    #[serde(default)]
    pub known_p50_ms: f64,
    #[serde(default)]
    pub known_max_ms: f64,
    #[serde(default)]
    pub known_refused: usize,
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
    let side = |demo: &Demo, server: &Proc, metrics: bool| {
        let name = format!(
            "tools/call fetch, metrics {}",
            if metrics { "on" } else { "off" }
        );
        (Arc::new(demo.fetch_scenario(&name)), opts(server))
    };
    for round in 0..rounds {
        let (mut first, mut second) = (side(&on_demo, &on, true), side(&off_demo, &off, false));
        // Alternate which side takes the first turn of a round.
        let swapped = round % 2 == 1;
        if swapped {
            std::mem::swap(&mut first, &mut second);
        }
        let (a, b) = load::run_alternating(first.0, &first.1, second.0, &second.1).await;
        let (st_on, st_off) = if swapped { (b, a) } else { (a, b) };
        crate::run::print_progress(&st_on);
        crate::run::print_progress(&st_off);
        report.add_round(&st_on, &st_off);
        if round + 1 == rounds {
            kept.extend([st_on, st_off]);
        }
    }
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

/// The device cookie among a response's cookies (name and value), if it set one.
fn device_cookie(headers: &hyper::HeaderMap) -> Option<(String, String)> {
    let mut jar = HashMap::new();
    cookies_from(headers, &mut jar);
    jar.into_iter().find(|(k, _)| k.ends_with("gigamcp_device"))
}

impl Attempt {
    async fn prepare(
        addr: &str,
        forwarded_for: &str,
        user: &str,
        password: &str,
    ) -> anyhow::Result<Self> {
        Self::prepare_from(addr, forwarded_for, user, password, None).await
    }

    /// As [`prepare`](Self::prepare), from a browser that holds `device` (a cookie).
    async fn prepare_from(
        addr: &str,
        forwarded_for: &str,
        user: &str,
        password: &str,
        device: Option<&(String, String)>,
    ) -> anyhow::Result<Self> {
        let get = get_req("/login?next=%2F", None).header("x-forwarded-for", forwarded_for);
        let (st, h, b) = load::once(addr, get).await.map_err(anyhow::Error::msg)?;
        anyhow::ensure!(st == StatusCode::OK, "login form: HTTP {st}");
        let mut jar = HashMap::new();
        cookies_from(&h, &mut jar);
        if let Some((k, v)) = device {
            jar.insert(k.clone(), v.clone());
        }
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
        let (status, _, took) = self.post_full().await;
        (status, took)
    }

    /// Posts the form: the status, the response's headers and how long the POST took.
    async fn post_full(self) -> (StatusCode, hyper::HeaderMap, Duration) {
        let pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let req = form_req("/login", &pairs, Some(&self.cookie))
            .header("x-forwarded-for", &self.forwarded_for);
        let started = Instant::now();
        let (status, headers) = match load::once(&self.addr, req).await {
            Ok((st, h, _)) => (st, h),
            Err(_) => (StatusCode::BAD_GATEWAY, hyper::HeaderMap::new()),
        };
        (status, headers, started.elapsed())
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
/// moment later (so the flood is already in the queue), from a browser holding `device` if
/// given.
async fn attack_round(
    addr: &str,
    round: usize,
    attackers: usize,
    device: Option<&(String, String)>,
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
    let owner = Attempt::prepare_from(
        addr,
        &format!("198.51.100.{}", 1 + round % 250),
        "alice",
        DEMO_PASSWORD,
        device,
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
    for (phase, (attackers, known, p50, max, refused)) in [
        (
            1,
            false,
            &mut r.one_address_p50_ms,
            &mut r.one_address_max_ms,
            &mut r.one_address_refused,
        ),
        (
            50,
            false,
            &mut r.distributed_p50_ms,
            &mut r.distributed_max_ms,
            &mut r.distributed_refused,
        ),
        (
            50,
            true,
            &mut r.known_p50_ms,
            &mut r.known_max_ms,
            &mut r.known_refused,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // The owner's browser, known: the device cookie of a sign-in just before the phase (each
        // sign-in without one gives out a new one, and the server keeps a user's newest 16).
        let device = if known {
            let (st, headers, _) =
                Attempt::prepare(&addr, "198.51.100.250", "alice", DEMO_PASSWORD)
                    .await?
                    .post_full()
                    .await;
            anyhow::ensure!(
                st == StatusCode::SEE_OTHER,
                "sign-in for the device cookie: HTTP {st}"
            );
            Some(device_cookie(&headers).ok_or_else(|| anyhow::anyhow!("no device cookie"))?)
        } else {
            None
        };
        let mut took = Vec::new();
        for round in 0..rounds {
            // Fresh attacker addresses for each phase's rounds.
            let tag = round + 100 * phase;
            let (st, t) = attack_round(
                &addr,
                tag,
                attackers,
                device.as_ref(),
                &mut r.attack_statuses,
            )
            .await?;
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
        "  sign-in: idle p50 {:.1} ms; 50 wrong attempts from one address: p50 {:.1} ms, max {:.1} ms, {} refused; from 50 addresses: p50 {:.1} ms, max {:.1} ms, {} refused; the same, the owner's browser known: p50 {:.1} ms, max {:.1} ms, {} refused",
        r.idle_p50_ms,
        r.one_address_p50_ms,
        r.one_address_max_ms,
        r.one_address_refused,
        r.distributed_p50_ms,
        r.distributed_max_ms,
        r.distributed_refused,
        r.known_p50_ms,
        r.known_max_ms,
        r.known_refused
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(rps: f64, cpu_us: f64, errors: u64) -> Stats {
        Stats {
            requests_per_second: rps,
            cpu_us,
            errors,
            ..Stats::default()
        }
    }

    /// The overhead is taken over the means of the rounds, each round's two sides measured in
    /// the same turns; the CPU figure is the same comparison per request.
    #[test]
    fn the_metrics_overhead_is_over_the_rounds_means() {
        let mut m = MetricsOverhead {
            rounds: 2,
            ..MetricsOverhead::default()
        };
        m.add_round(&side(900.0, 22.0, 0), &side(1000.0, 20.0, 1));
        m.add_round(&side(1100.0, 22.0, 2), &side(1000.0, 20.0, 0));
        assert_eq!((m.on_rps, m.off_rps), (1000.0, 1000.0));
        assert_eq!(m.overhead_pct, 0.0);
        assert_eq!(m.errors, 3);
        let cpu = m.cpu_overhead_pct().unwrap();
        assert!((cpu - 10.0).abs() < 1e-9, "{cpu}");

        let mut slow = MetricsOverhead {
            rounds: 1,
            ..MetricsOverhead::default()
        };
        slow.add_round(&side(900.0, 0.0, 0), &side(1000.0, 20.0, 0));
        assert!((slow.overhead_pct - 10.0).abs() < 1e-9);
        assert_eq!(
            slow.cpu_overhead_pct(),
            None,
            "one side's CPU was not measured"
        );
    }
}
