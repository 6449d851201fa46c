//! The load generator: N keep-alive HTTP/1.1 connections (one hyper client connection each),
//! each sending its next request as soon as the previous response is read, for a fixed time.
//!
//! Every response's status is checked; every `sample_every`-th body (and every body of a
//! scenario that needs it, such as refresh-token chains) goes through the scenario's checker.
//! A wrong status or body is an error: it is counted, the first few are kept for the report,
//! and a scenario with any error is marked failed, so an error storm can never look fast.
//!
//! [`run_alternating`] measures two scenarios (a scenario and the echo baseline) in turns of
//! [`TURN`]: each keeps its own connections and per-connection state throughout, and sends only
//! during its own turns, so both are measured under the same moments of a machine whose speed
//! drifts.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request, its head parsed once when it is made: sending it again clones reference-counted
/// parts (a scenario that sends the same request every time clones one `Req`), so the load
/// generator spends no time per request parsing the header names and values it already knows.
#[derive(Clone)]
pub struct Req {
    /// The method, URI and headers, or why they are not a valid HTTP request head (reported as
    /// a transport error when the request is sent, as a request builder would).
    head: Result<Head, String>,
    body: Bytes,
}

#[derive(Clone)]
struct Head {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Req {
    /// A request for `path` (origin form: path and query) with these headers, in order (names
    /// as in [`Req::header`]).
    pub fn new<V: AsRef<str>>(
        method: Method,
        path: &str,
        headers: &[(&'static str, V)],
        body: Bytes,
    ) -> Req {
        let head = Uri::try_from(path)
            .map_err(|e| format!("{path}: {e}"))
            .map(|uri| Head {
                method,
                uri,
                headers: HeaderMap::with_capacity(headers.len() + 1),
            });
        headers
            .iter()
            .fold(Req { head, body }, |r, (k, v)| r.header(k, v.as_ref()))
    }

    /// This request with one more header (appended after any of the same name); `name` is a
    /// lower-case constant, as `http` stores header names.
    pub fn header(mut self, name: &'static str, value: &str) -> Req {
        if let Ok(head) = &mut self.head {
            match HeaderValue::from_str(value) {
                Ok(v) => {
                    head.headers.append(HeaderName::from_static(name), v);
                }
                Err(e) => self.head = Err(format!("header {name}: {e}")),
            }
        }
        self
    }

    /// This request with the header when there is a value ([`Req::header`]), else as it is.
    pub fn header_if(self, name: &'static str, value: Option<&str>) -> Req {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }

    /// The request as hyper sends it, with `host` as its `Host` header.
    fn into_request(self, host: &HeaderValue) -> Result<Request<Full<Bytes>>, String> {
        let Head {
            method,
            uri,
            mut headers,
        } = self.head?;
        headers.insert(HOST, host.clone());
        let mut request = Request::new(Full::new(self.body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
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
    /// deployment, of the echo's in the turns alternating with it (`baseline_rps`).
    pub ratio: f64,
    /// The echo's requests/s that `ratio` is taken against.
    #[serde(default)]
    pub baseline_rps: f64,
    /// CPU time the server process used over the measured window (all its threads, user and
    /// system, background tasks included), per measured request, in µs; 0 when not measured.
    /// Unlike requests/s it hardly depends on what else the machine runs meanwhile.
    #[serde(default)]
    pub cpu_us: f64,
    /// The echo's `cpu_us` in the turns alternating with this scenario; 0 when not measured.
    #[serde(default)]
    pub baseline_cpu_us: f64,
    /// Like `cpu_us`, for the database's processes on this machine (`Options::database`).
    #[serde(default)]
    pub db_cpu_us: f64,
    /// The load generator's own CPU time per request (this process, all threads): over the
    /// window, or for a side of an alternating run over its own turns only.
    #[serde(default)]
    pub loadgen_cpu_us: f64,
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
    /// The server's process, whose CPU time is measured over the window (`Stats::cpu_us`).
    pub cpu_of: Option<u32>,
    /// The name of the database's processes on this machine (`Stats::db_cpu_us`).
    pub database: Option<String>,
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
    send(&mut s, &host_header(addr)?, req).await
}

/// `addr` as a `Host` header value.
fn host_header(addr: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(addr).map_err(|e| format!("host {addr}: {e}"))
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &HeaderValue,
    req: Req,
) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let request = req.into_request(host)?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

/// How long each side of [`run_alternating`] sends before the other takes over.
pub const TURN: Duration = Duration::from_millis(250);

/// Alternating turns of equal length from `from`: turn `k` belongs to side `k % 2`.
#[derive(Debug, Clone, Copy)]
struct Turns {
    from: Instant,
    turn: Duration,
    side: u128,
}

impl Turns {
    fn index(&self, t: Instant) -> u128 {
        t.saturating_duration_since(self.from).as_nanos() / self.turn.as_nanos().max(1)
    }

    fn start_of(&self, k: u128) -> Instant {
        self.from + Duration::from_nanos((self.turn.as_nanos() * k) as u64)
    }

    /// The first moment at or after `t` inside one of this side's turns.
    fn next_own(&self, t: Instant) -> Instant {
        let k = self.index(t);
        if k % 2 == self.side {
            t.max(self.from)
        } else {
            self.start_of(k + 1)
        }
    }

    /// How much of `[a, b]` falls inside this side's turns.
    fn own_time(&self, a: Instant, b: Instant) -> Duration {
        let mut total = Duration::ZERO;
        if b <= a {
            return total;
        }
        let (first, last) = (self.index(a), self.index(b));
        for k in (first..=last).filter(|k| k % 2 == self.side) {
            let (lo, hi) = (self.start_of(k).max(a), self.start_of(k + 1).min(b));
            total += hi.saturating_duration_since(lo);
        }
        total
    }
}

/// Runs `s` with `o.connections` connections: a warm-up, then the measured window.
pub async fn run(s: Arc<Scenario>, o: &Options) -> Stats {
    let start = Instant::now();
    let measure_from = start + o.warmup;
    let end = measure_from + o.duration;
    let side = spawn_side(s, o, measure_from, end, None);
    let ledger = own_cpu_by_turn(measure_from, end, None);
    let mut st = side.finish(measure_from, end).await;
    let used = ledger.await.unwrap_or_default();
    st.loadgen_cpu_us = per_request(Some(used[0]), st.requests);
    st
}

/// This process's CPU time from `from` to `to`, split by whose turn it was ([0] alone when
/// there are no turns), read at every turn's boundary.
fn own_cpu_by_turn(
    from: Instant,
    to: Instant,
    turns: Option<Turns>,
) -> tokio::task::JoinHandle<[Duration; 2]> {
    tokio::spawn(async move {
        let mut used = [Duration::ZERO; 2];
        tokio::time::sleep_until(from.into()).await;
        let (mut at, mut cpu) = (from, crate::procs::own_cpu_time());
        while at < to {
            let (side, next) = match turns {
                Some(t) => {
                    let k = t.index(at);
                    ((k % 2) as usize, t.start_of(k + 1).min(to))
                }
                None => (0, to),
            };
            tokio::time::sleep_until(next.into()).await;
            let now = crate::procs::own_cpu_time();
            used[side] += now.saturating_sub(cpu);
            (at, cpu) = (next, now);
        }
        used
    })
}

/// `used` spread over `requests`, in µs; 0 when either is missing.
fn per_request(used: Option<Duration>, requests: u64) -> f64 {
    match used {
        Some(c) if requests > 0 => c.as_secs_f64() * 1e6 / requests as f64,
        _ => 0.0,
    }
}

/// Runs `a` and `b` in alternating turns ([`TURN`], or a quarter of the shorter duration if
/// that is less), each with its own options and connections, until each has had its warm-up
/// and its measured duration of turns. Returns their stats in that order.
pub async fn run_alternating(
    a: Arc<Scenario>,
    oa: &Options,
    b: Arc<Scenario>,
    ob: &Options,
) -> (Stats, Stats) {
    let turn = TURN.min(oa.duration.min(ob.duration) / 4);
    let start = Instant::now();
    // Each side gets half of the wall time: twice its warm-up and duration.
    let measure_from = start + 2 * oa.warmup.max(ob.warmup);
    let end = measure_from + 2 * oa.duration.max(ob.duration);
    let turns = |side| Turns {
        from: start,
        turn,
        side,
    };
    let (ta, tb) = (turns(0), turns(1));
    let sa = spawn_side(a, oa, measure_from, end, Some(ta));
    let sb = spawn_side(b, ob, measure_from, end, Some(tb));
    let ledger = own_cpu_by_turn(measure_from, end, Some(ta));
    let mut sa = sa.finish(measure_from, end).await;
    let mut sb = sb.finish(measure_from, end).await;
    let used = ledger.await.unwrap_or_default();
    sa.loadgen_cpu_us = per_request(Some(used[0]), sa.requests);
    sb.loadgen_cpu_us = per_request(Some(used[1]), sb.requests);
    (sa, sb)
}

struct Side {
    name: String,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<WorkerResult>>,
    turns: Option<Turns>,
    cpu: tokio::task::JoinHandle<CpuUsed>,
}

/// CPU time used over a window: by the server's process, by the database's processes.
#[derive(Default)]
struct CpuUsed {
    server: Option<Duration>,
    database: Option<Duration>,
}

/// The CPU time the processes of `o` use from `from` to `to`, read when each comes.
fn cpu_between(o: &Options, from: Instant, to: Instant) -> tokio::task::JoinHandle<CpuUsed> {
    let (pid, database) = (o.cpu_of, o.database.clone());
    let read = move || {
        (
            pid.and_then(crate::procs::cpu_time),
            database.as_deref().and_then(crate::procs::cpu_time_named),
        )
    };
    tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let before = read();
        tokio::time::sleep_until(to.into()).await;
        let after = read();
        let used = |a: Option<Duration>, b: Option<Duration>| b?.checked_sub(a?);
        CpuUsed {
            server: used(before.0, after.0),
            database: used(before.1, after.1),
        }
    })
}

fn spawn_side(
    s: Arc<Scenario>,
    o: &Options,
    measure_from: Instant,
    end: Instant,
    turns: Option<Turns>,
) -> Side {
    let shared = Arc::new(Shared {
        errors: Mutex::new(Vec::new()),
    });
    let mut tasks = Vec::new();
    for index in 0..o.connections {
        let (s, shared, addr, sample) = (s.clone(), shared.clone(), o.addr.clone(), o.sample_every);
        let window = Window {
            measure_from,
            end,
            turns,
        };
        tasks.push(tokio::spawn(async move {
            worker(index, &s, &shared, &addr, sample, window).await
        }));
    }
    Side {
        name: s.name.clone(),
        shared,
        tasks,
        turns,
        cpu: cpu_between(o, measure_from, end),
    }
}

impl Side {
    /// Waits for the side's workers and sums them up.
    async fn finish(self, measure_from: Instant, end: Instant) -> Stats {
        let Side {
            name,
            shared,
            tasks,
            turns,
            cpu,
        } = self;
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
        // A run that ran out of requests early is measured over the time it actually ran; a side
        // of an alternating run over its own turns only.
        let until = if exhausted { last } else { end.max(last) };
        let seconds = match turns {
            Some(t) => t.own_time(measure_from, until.min(end)),
            None => until.saturating_duration_since(measure_from),
        }
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
        // A side that ran out of requests early: its sampler still ran to `end`, over time
        // the process spent idle, so the figure stays per request.
        let cpu = cpu.await.unwrap_or_default();
        let requests = lat.len() as u64;
        Stats {
            name,
            requests,
            errors,
            seconds,
            requests_per_second: ok as f64 / seconds,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            max_us: lat.last().copied().unwrap_or(0) as u64,
            ratio: 0.0,
            baseline_rps: 0.0,
            cpu_us: per_request(cpu.server, requests),
            baseline_cpu_us: 0.0,
            db_cpu_us: per_request(cpu.database, requests),
            loadgen_cpu_us: 0.0,
            exhausted,
            first_errors,
        }
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

/// When a worker sends: from the start until `end`, only inside its turns if it has any;
/// requests begun from `measure_from` on are measured.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
    turns: Option<Turns>,
}

async fn worker(
    index: usize,
    s: &Scenario,
    shared: &Shared,
    addr: &str,
    sample_every: u64,
    Window {
        measure_from,
        end,
        turns,
    }: Window,
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
    let host = match host_header(addr) {
        Ok(h) => h,
        Err(e) => {
            r.errors += 1;
            note(e);
            return r;
        }
    };
    loop {
        let mut now = Instant::now();
        if let Some(t) = turns {
            let next = t.next_own(now);
            if next > now {
                if next >= end {
                    break;
                }
                tokio::time::sleep_until(next.into()).await;
                now = Instant::now();
            }
        }
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
        let result = send(sender.as_mut().expect("connected"), &host, req).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_tests::burn;

    #[test]
    fn turns_alternate_and_each_side_owns_half_of_any_whole_number_of_pairs() {
        let from = Instant::now();
        let ms = Duration::from_millis;
        let (a, b) = (
            Turns {
                from,
                turn: ms(100),
                side: 0,
            },
            Turns {
                from,
                turn: ms(100),
                side: 1,
            },
        );
        // Side 0 owns [0, 100), side 1 [100, 200), side 0 [200, 300) …
        assert_eq!(a.next_own(from + ms(50)), from + ms(50));
        assert_eq!(b.next_own(from + ms(50)), from + ms(100));
        assert_eq!(a.next_own(from + ms(150)), from + ms(200));
        assert_eq!(b.next_own(from + ms(150)), from + ms(150));
        assert_eq!(a.own_time(from, from + ms(400)), ms(200));
        assert_eq!(b.own_time(from, from + ms(400)), ms(200));
        // Partial turns at both ends: [50, 100) and [200, 250) for side 0, [100, 200) for 1.
        assert_eq!(a.own_time(from + ms(50), from + ms(250)), ms(100));
        assert_eq!(b.own_time(from + ms(50), from + ms(250)), ms(100));
        assert_eq!(a.own_time(from + ms(250), from + ms(250)), Duration::ZERO);
    }

    /// A server on loopback in this process: `POST /` logs when it arrived, burns `cost` of CPU,
    /// waits `wait` (using none) and answers `ok`.
    async fn server(log: Arc<Mutex<Vec<Instant>>>, cost: Duration, wait: Duration) -> String {
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(Instant::now());
                    burn(cost);
                    tokio::time::sleep(wait).await;
                    "ok"
                }
            }),
        );
        listen(app).await
    }

    /// Serves `app` on a loopback port of its own; returns its address.
    async fn listen(app: axum::Router) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    }

    /// A request made once and sent twice arrives both times with its method, path and query,
    /// headers (repeated ones in order), `Host` and body; one with a header value HTTP does not
    /// allow is an error and never reaches the server.
    #[tokio::test]
    async fn a_request_is_sent_as_made_and_a_bad_one_never_leaves() {
        type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, Bytes)>>>;
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let headers = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                    .collect();
                log.lock().unwrap().push((
                    format!("{} {}", parts.method, parts.uri),
                    headers,
                    body,
                ));
                "ok"
            }
        });
        let addr = listen(app).await;

        let req = Req::new(
            Method::PUT,
            "/a/b?c=d%20e",
            &[("x-one", "1"), ("x-two", "2")],
            Bytes::from_static(b"payload"),
        )
        .header("x-one", "again");
        for _ in 0..2 {
            let (st, _, b) = once(&addr, req.clone()).await.unwrap();
            assert_eq!((st, &b[..]), (StatusCode::OK, &b"ok"[..]));
        }
        let bad = Req::new(Method::GET, "/", &[("x-ok", "fine")], Bytes::new())
            .header("x-bad", "line\r\nbreak");
        let e = once(&addr, bad).await.unwrap_err();
        assert!(e.starts_with("header x-bad:"), "{e}");
        let bad_path = Req::new::<&str>(Method::GET, "/a path", &[], Bytes::new());
        assert!(
            once(&addr, bad_path)
                .await
                .unwrap_err()
                .starts_with("/a path:")
        );

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "only the two good requests arrived");
        for (line, headers, body) in seen.iter() {
            assert_eq!(line, "PUT /a/b?c=d%20e");
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(k, _)| k != "content-length")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                pairs,
                [
                    ("x-one", "1"),
                    ("x-one", "again"),
                    ("x-two", "2"),
                    ("host", addr.as_str())
                ]
            );
            assert_eq!(&body[..], b"payload");
        }
    }

    /// `POST /` with no body, every answer checked to be `ok`.
    fn scenario(name: &str) -> Arc<Scenario> {
        Arc::new(Scenario {
            name: name.into(),
            make: Box::new(|_| Some(Req::new::<&str>(Method::POST, "/", &[], Bytes::new()))),
            expect: StatusCode::OK,
            check: Box::new(|_, _, _, b| (b == b"ok").then_some(()).ok_or("body".into())),
            check_every_body: true,
        })
    }

    /// Two real servers on loopback, each recording when requests reach it: the two sides of an
    /// alternating run never send in each other's turns, and each is measured over its own.
    /// Side a's server (in this process, like the load generator) burns 1 ms of CPU per
    /// request, side b's waits 1 ms using none: this process's CPU time is charged to the side
    /// whose turn it was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alternating_sides_send_only_in_their_own_turns() {
        let _alone = crate::cpu_tests::ALONE.lock().await;
        let (la, lb) = (Arc::default(), Arc::default());
        let ms = Duration::from_millis;
        let (aa, ab) = (
            server(Arc::clone(&la), ms(1), Duration::ZERO).await,
            server(Arc::clone(&lb), Duration::ZERO, ms(1)).await,
        );
        let o = |addr: String| Options {
            addr,
            connections: 4,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(800),
            sample_every: 1,
            cpu_of: None,
            database: None,
        };
        let start = Instant::now();
        let (sa, sb) = run_alternating(scenario("a"), &o(aa), scenario("b"), &o(ab)).await;
        let wall = start.elapsed();
        assert_eq!((sa.errors, sb.errors), (0, 0));
        assert!(sa.requests > 0 && sb.requests > 0);
        // 2 × (warm-up + duration) of wall time, each side measured over half of the window.
        assert!(wall >= Duration::from_millis(1_800), "{wall:?}");
        for s in [&sa, &sb] {
            assert!(
                (0.75..0.85).contains(&s.seconds),
                "{}: {} s",
                s.name,
                s.seconds
            );
        }
        assert!(
            sa.loadgen_cpu_us > 900.0 && sb.loadgen_cpu_us < sa.loadgen_cpu_us / 2.0,
            "CPU per request in a's turns {} µs, in b's {} µs",
            sa.loadgen_cpu_us,
            sb.loadgen_cpu_us
        );
        // Turns of 200 ms (a quarter of the duration) from `start`: side a owns even ones. A
        // request may reach its server a little after it was sent at the end of a turn.
        let turn = 200u128;
        let late = Duration::from_millis(20);
        for (side, log) in [(0, &la), (1, &lb)] {
            let log: &Mutex<Vec<Instant>> = log;
            let times = log.lock().unwrap().clone();
            assert!(!times.is_empty());
            for t in times {
                let k = t.saturating_duration_since(start).as_millis() / turn;
                let sent = (t - late).saturating_duration_since(start).as_millis() / turn;
                assert!(
                    k % 2 == side || sent % 2 == side,
                    "side {side} reached its server in turn {k}"
                );
            }
        }
    }

    /// A server that burns 2 ms of CPU per request, in this process: the CPU time measured over
    /// the window, per request, is at least that and not wildly more (the load generator and
    /// any test running alongside share the process).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_s_cpu_time_is_given_per_request() {
        let _alone = crate::cpu_tests::ALONE.lock().await;
        const BURN: Duration = Duration::from_millis(2);
        let addr = server(Arc::default(), BURN, Duration::ZERO).await;
        let s = scenario("burn");
        let o = Options {
            addr,
            connections: 2,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(1_000),
            sample_every: 1,
            cpu_of: Some(std::process::id()),
            database: None,
        };
        let st = run(s, &o).await;
        assert_eq!(st.errors, 0);
        assert!(st.requests > 20, "{} requests", st.requests);
        let burn_us = BURN.as_secs_f64() * 1e6;
        // The server is this process, so the two figures count the same CPU time.
        for cpu in [st.cpu_us, st.loadgen_cpu_us] {
            assert!(
                (0.9 * burn_us..4.0 * burn_us).contains(&cpu),
                "{cpu} µs of CPU per request, {} requests",
                st.requests
            );
        }
    }
}
