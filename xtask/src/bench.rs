//! `cargo xtask bench`: hot-path throughput against a release `gigamcp serve --demo`, reported as
//! ratios to a baseline (the server's JSON 404: routing and serialisation, no auth, no database)
//! measured in the same invocation, so the numbers compare across machines. Bounded: a fixed
//! number of requests per scenario, loopback only.
use crate::util::{Server, build_bins, target_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Scenario {
    name: &'static str,
    method: &'static str,
    path: String,
    body: String,
    auth: bool,
    expect: u16,
}

fn rpc(id: u32, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let requests: usize = args
        .iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    build_bins(true)?;
    let server = Server::start("release", &[])?;
    let token = server.admin(
        "release",
        &[
            "token",
            "issue",
            "--workspace",
            "acme",
            "--user",
            "alice",
            "--public-url",
            &server.base,
        ],
    )?;
    let mcp = "/t/acme/mcp".to_string();
    let scenarios = vec![
        Scenario {
            name: "baseline: JSON 404",
            method: "GET",
            path: "/bench-baseline".into(),
            body: String::new(),
            auth: false,
            expect: 404,
        },
        Scenario {
            name: "401 challenge (no token)",
            method: "POST",
            path: mcp.clone(),
            body: rpc(1, "ping", "{}"),
            auth: false,
            expect: 401,
        },
        Scenario {
            name: "bearer validation + ping",
            method: "POST",
            path: mcp.clone(),
            body: rpc(1, "ping", "{}"),
            auth: true,
            expect: 200,
        },
        Scenario {
            name: "tools/list",
            method: "POST",
            path: mcp.clone(),
            body: rpc(2, "tools/list", "{}"),
            auth: true,
            expect: 200,
        },
        Scenario {
            name: "tools/call search_company_rag",
            method: "POST",
            path: mcp.clone(),
            body: rpc(
                3,
                "tools/call",
                r#"{"name":"search_company_rag","arguments":{"query":"incident response runbook","limit":5}}"#,
            ),
            auth: true,
            expect: 200,
        },
        Scenario {
            name: "tools/call search (ChatGPT)",
            method: "POST",
            path: mcp.clone(),
            body: rpc(
                4,
                "tools/call",
                r#"{"name":"search","arguments":{"query":"refresh token rotation"}}"#,
            ),
            auth: true,
            expect: 200,
        },
    ];
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut rows = Vec::new();
    for s in &scenarios {
        // Warm up, then measure with two keep-alive connections (one per core).
        measure(&addr, s, &token, 200, 1)?;
        let rps = measure(&addr, s, &token, requests, 2)?;
        rows.push((s.name, rps));
    }
    let baseline = rows[0].1;
    println!("\n{:<34} {:>12} {:>10}", "scenario", "requests/s", "ratio");
    let mut json = Vec::new();
    for (name, rps) in &rows {
        println!("{name:<34} {rps:>12.0} {:>10.3}", rps / baseline);
        json.push(format!(
            r#"{{"scenario":"{name}","requests_per_second":{rps:.1},"ratio_to_baseline":{:.4}}}"#,
            rps / baseline
        ));
    }
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), format!("[{}]\n", json.join(",\n")))
        .map_err(|e| e.to_string())?;
    println!("\n(report: {})", out.join("report.json").display());
    Ok(())
}

fn measure(
    addr: &str,
    s: &Scenario,
    token: &str,
    total: usize,
    conns: usize,
) -> Result<f64, String> {
    let per = total.div_ceil(conns);
    let start = Instant::now();
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..conns)
            .map(|_| scope.spawn(|| worker(addr, s, token, per)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect()
    });
    for r in results {
        r?;
    }
    Ok((per * conns) as f64 / start.elapsed().as_secs_f64())
}

fn worker(addr: &str, s: &Scenario, token: &str, n: usize) -> Result<(), String> {
    let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut writer = stream;
    let mut req = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json, text/event-stream\r\n",
        s.method, s.path
    );
    if s.auth {
        req.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if s.method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n",
            s.body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&s.body);
    for _ in 0..n {
        writer
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| e.to_string())?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("bad status line")?;
        if status != s.expect {
            return Err(format!(
                "{}: expected HTTP {}, got {status_line:?}",
                s.name, s.expect
            ));
        }
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().map_err(|_| "bad content-length")?;
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(())
}
