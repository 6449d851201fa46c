//! The load generator: N keep-alive HTTP/1.1 connections (one hyper client connection each),
//! each sending its next request as soon as the previous response is read, for a fixed time.
//!
//! Every response's status is checked; every `sample_every`-th body (and every body of a
//! scenario that needs it, such as refresh-token chains) goes through the scenario's checker.
//! A wrong status or body is an error: it is counted, the first few are kept for the report,
//! and a scenario with any error is marked failed, so an error storm can never look fast.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request.
#[derive(Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// Per-connection state a scenario may use (e.g. the current refresh token of a chain).
#[derive(Default)]
pub struct Conn {
    pub index: usize,
    pub sent: u64,
    pub data: Option<String>,
}

pub type MakeFn = dyn Fn(&mut Conn) -> Option<Req> + Send + Sync;
pub type CheckFn =
    dyn Fn(&mut Conn, StatusCode, &HeaderMap, &[u8]) -> Result<(), String> + Send + Sync;

pub struct Scenario {
    pub name: String,
    /// The next request of a connection; `None` ends that connection (a pool ran out).
    pub make: Box<MakeFn>,
    /// Status check, applied to every response.
    pub expect: StatusCode,
    /// Body check, applied to sampled responses (always, when `check_every_body`).
    pub check: Box<CheckFn>,
    pub check_every_body: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Share of the baseline's requests/s measured in the same run: for a scenario on the demo
    /// deployment, of the mean of the echo runs just before and just after it (`baseline_rps`).
    pub ratio: f64,
    /// The echo's requests/s that `ratio` is taken against.
    #[serde(default)]
    pub baseline_rps: f64,
    /// The run ended early because a request pool (e.g. authorization codes) ran out.
    pub exhausted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_errors: Vec<String>,
}

pub struct Options {
    pub addr: String,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub sample_every: u64,
}

struct Shared {
    errors: Mutex<Vec<String>>,
}

async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on its own connection (setup steps).
pub async fn once(addr: &str, req: Req) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let mut s = connect(addr).await?;
    send(&mut s, addr, &req).await
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    req: &Req,
) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let mut b = Request::builder()
        .method(req.method.clone())
        .uri(&req.path)
        .header("host", host);
    for (k, v) in &req.headers {
        b = b.header(*k, v);
    }
    let request = b
        .body(Full::new(req.body.clone()))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

/// Runs `s` with `o.connections` connections: a warm-up, then the measured window.
pub async fn run(s: Arc<Scenario>, o: &Options) -> Stats {
    let shared = Arc::new(Shared {
        errors: Mutex::new(Vec::new()),
    });
    let start = Instant::now();
    let measure_from = start + o.warmup;
    let end = measure_from + o.duration;
    let mut tasks = Vec::new();
    for index in 0..o.connections {
        let (s, shared, addr, sample) = (s.clone(), shared.clone(), o.addr.clone(), o.sample_every);
        tasks.push(tokio::spawn(async move {
            worker(index, &s, &shared, &addr, sample, measure_from, end).await
        }));
    }
    let mut lat: Vec<u32> = Vec::new();
    let (mut errors, mut measured_errors) = (0u64, 0u64);
    let (mut exhausted, mut last) = (false, measure_from);
    for t in tasks {
        match t.await {
            Ok(w) => {
                lat.extend(w.latencies);
                errors += w.errors;
                measured_errors += w.measured_errors;
                exhausted |= w.exhausted;
                last = last.max(w.finished);
            }
            Err(e) => {
                errors += 1;
                shared.errors.lock().unwrap().push(format!("worker: {e}"));
            }
        }
    }
    // A run that ran out of requests early is measured over the time it actually ran.
    let seconds = last
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-6);
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            0
        } else {
            lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1] as u64
        }
    };
    let ok = lat.len() as u64 - measured_errors.min(lat.len() as u64);
    let first_errors = shared.errors.lock().unwrap().clone();
    Stats {
        name: s.name.clone(),
        requests: lat.len() as u64,
        errors,
        seconds,
        requests_per_second: ok as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: lat.last().copied().unwrap_or(0) as u64,
        ratio: 0.0,
        baseline_rps: 0.0,
        exhausted,
        first_errors,
    }
}

struct WorkerResult {
    latencies: Vec<u32>,
    /// Every error, warm-up included (any error fails the scenario).
    errors: u64,
    /// Errors inside the measured window (not counted as throughput).
    measured_errors: u64,
    exhausted: bool,
    finished: Instant,
}

async fn worker(
    index: usize,
    s: &Scenario,
    shared: &Shared,
    addr: &str,
    sample_every: u64,
    measure_from: Instant,
    end: Instant,
) -> WorkerResult {
    let mut r = WorkerResult {
        latencies: Vec::with_capacity(1 << 16),
        errors: 0,
        measured_errors: 0,
        exhausted: false,
        finished: measure_from,
    };
    let mut conn = Conn {
        index,
        ..Conn::default()
    };
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let note = |msg: String| {
        let mut e = shared.errors.lock().unwrap();
        if e.len() < 5 {
            e.push(msg);
        }
    };
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let Some(req) = (s.make)(&mut conn) else {
            r.exhausted = true;
            break;
        };
        if sender.is_none() {
            match connect(addr).await {
                Ok(c) => sender = Some(c),
                Err(e) => {
                    r.errors += 1;
                    note(e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let t0 = Instant::now();
        let result = send(sender.as_mut().expect("connected"), addr, &req).await;
        let t1 = Instant::now();
        let measured = t0 >= measure_from;
        let n = conn.sent;
        conn.sent += 1;
        let verdict = match result {
            Err(e) => {
                sender = None; // reconnect
                Err(format!("transport: {e}"))
            }
            Ok((status, headers, body)) => {
                if status != s.expect {
                    Err(format!(
                        "expected HTTP {}, got {status}: {}",
                        s.expect.as_u16(),
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    ))
                } else if s.check_every_body || n.is_multiple_of(sample_every) {
                    (s.check)(&mut conn, status, &headers, &body)
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = verdict {
            r.errors += 1;
            if measured {
                r.measured_errors += 1;
            }
            note(e);
        }
        if measured {
            r.latencies
                .push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
            r.finished = t1;
        }
    }
    r
}
