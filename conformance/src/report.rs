//! Reports: terminal summary, JSON, JUnit, SARIF, Markdown, HTML ([`html`]), the evidence
//! bundle, and the expected-failures baseline. [`curl`] turns an exchange into a command that
//! reproduces it; [`crate::hints`] says what a failure means to a user and how to fix it.

mod baseline;
pub mod curl;
pub mod html;

pub use baseline::{Baseline, BaselineDiff, exit_code, incomplete_musts};

use crate::checks::CHECKS;
use crate::flow::RunResult;
use crate::model::{Tally, Verdict};
use serde_json::json;
use std::path::Path;

/// Clients the run registered (2xx answers to registration requests), and registration requests.
pub fn registrations(r: &RunResult) -> (usize, usize) {
    let reqs: Vec<_> = r
        .exchanges
        .iter()
        .filter(|e| e.step.starts_with("register") && e.method == "POST")
        .collect();
    let ok = reqs
        .iter()
        .filter(|e| e.status.is_some_and(|s| (200..300).contains(&s)))
        .count();
    (ok, reqs.len())
}

/// What stopped the run from completing, in one line: the fatal error, else the first failure,
/// else the first MUST that could not run (with its reason). `None` for a complete clean run.
pub fn first_cause(r: &RunResult, baseline: Option<&BaselineDiff>) -> Option<String> {
    if let Some(f) = &r.fatal {
        return Some(format!("the run could not proceed: {f}"));
    }
    let expected = |id: &str| baseline.is_some_and(|b| b.expected.iter().any(|e| e == id));
    if let Some(o) = r
        .outcomes
        .iter()
        .find(|o| o.verdict == Verdict::Fail && !expected(o.id))
    {
        return Some(format!("first failure: {} — {}", o.id, o.detail));
    }
    let inc = incomplete_musts(r, baseline);
    let first = inc.first()?;
    // The first MUST that failed to run for its own reason names the cause better than the
    // many that only lacked a prerequisite.
    let cause = inc
        .iter()
        .find(|o| !o.detail.contains("prerequisite"))
        .unwrap_or(first);
    Some(format!(
        "{} MUST check{} could not run{}; first cause: {} — {}",
        inc.len(),
        if inc.len() == 1 { "" } else { "s" },
        if r.allow_incomplete {
            " (allowed by --allow-incomplete)"
        } else {
            ""
        },
        cause.id,
        cause.detail
    ))
}

fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Warn => "WARN",
        Verdict::NotApplicable => "N/A ",
        Verdict::CouldNotRun => "SKIP",
    }
}

/// The terminal summary. The last line is exactly `N passed, N failed, N skipped` (skipped = not
/// applicable + could not run); above it a line with warnings and the breakdown of skipped, and
/// above that, when the run is not a clean pass, the first cause.
pub fn terminal(r: &RunResult, baseline: Option<&BaselineDiff>) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "gigamcp-conformance {} — profile {}, spec {}",
        r.target, r.profile, r.spec
    ));
    if let Some(n) = &r.negotiated {
        s.push_str(&format!(" (negotiated {n})"));
    }
    if r.strict {
        s.push_str(", strict");
    }
    s.push('\n');
    let mut areas: Vec<&str> = Vec::new();
    for o in &r.outcomes {
        let a = o.id.split('/').next().unwrap_or("");
        if !areas.contains(&a) {
            areas.push(a);
        }
    }
    let grouped = areas.iter().flat_map(|a| {
        r.outcomes
            .iter()
            .filter(move |o| o.id.split('/').next() == Some(*a))
    });
    let mut area = "";
    for o in grouped {
        let a = o.id.split('/').next().unwrap_or("");
        if a != area {
            s.push_str(&format!("\n{a}\n"));
            area = a;
        }
        let base = baseline.is_some_and(|b| b.expected.iter().any(|e| e == o.id));
        s.push_str(&format!(
            "  {} {:<6} {}{} — {}\n",
            tag(o.verdict),
            o.level.to_string(),
            o.id,
            if base { " (baselined)" } else { "" },
            o.detail
        ));
    }
    if let Some(ms) = r.revocation_latency_ms {
        s.push_str(&format!(
            "\nrevocation took effect at the MCP endpoint after {ms} ms\n"
        ));
    }
    if let Some(f) = &r.fatal {
        s.push_str(&format!("\nthe run could not proceed: {f}\n"));
    }
    if let Some(b) = baseline {
        s.push_str(&format!(
            "\nbaseline: {} expected failures, {} stale entries{}{}\n",
            b.expected.len(),
            b.stale.len(),
            if b.stale.is_empty() {
                String::new()
            } else {
                format!(" ({})", b.stale.join(", "))
            },
            if b.unknown.is_empty() {
                String::new()
            } else {
                format!(", unknown ids: {}", b.unknown.join(", "))
            }
        ));
    }
    for w in &r.rate_limit_waits {
        s.push_str(&format!(
            "\nrate limited: exchange #{} ({}) answered 429; waited {} s (Retry-After) and retried\n",
            w.exchange, w.url, w.waited_secs
        ));
    }
    let (clients, reqs) = registrations(r);
    if reqs > 0 {
        s.push_str(&format!(
            "\nregistered {clients} client{} ({reqs} registration request{})\n",
            if clients == 1 { "" } else { "s" },
            if reqs == 1 { "" } else { "s" }
        ));
    }
    let t = Tally::of(&r.outcomes);
    if let Some(c) = first_cause(r, baseline) {
        s.push_str(&format!("\n{c}\n"));
    }
    let code = exit_code(r, baseline);
    if code == 2 && r.fatal.is_none() {
        s.push_str("could not complete (exit 2): baseline the checks or pass --allow-incomplete to accept that\n");
    }
    s.push_str(&format!(
        "\n{} warnings, {} not applicable, {} could not run\n",
        t.warnings, t.not_applicable, t.could_not_run
    ));
    s.push_str(&format!(
        "{} passed, {} failed, {} skipped\n",
        t.passed,
        t.failed,
        t.not_applicable + t.could_not_run
    ));
    s
}

pub fn json_report(r: &RunResult, baseline: Option<&BaselineDiff>) -> serde_json::Value {
    json!({
        "tool": {"name": "gigamcp-conformance", "version": env!("CARGO_PKG_VERSION")},
        "target": r.target, "profile": r.profile, "spec": r.spec, "negotiated": r.negotiated, "strict": r.strict,
        "tally": Tally::of(&r.outcomes),
        "revocation_latency_ms": r.revocation_latency_ms,
        "fatal": r.fatal,
        "first_cause": first_cause(r, baseline),
        "rate_limit_waits": r.rate_limit_waits,
        "registered_clients": registrations(r).0,
        "registration_requests": registrations(r).1,
        "baseline": baseline,
        "exit_code": exit_code(r, baseline),
        "outcomes": r.outcomes,
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn junit(r: &RunResult) -> String {
    let t = Tally::of(&r.outcomes);
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"gigamcp-conformance\">\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
        xml(&format!("{} ({})", r.target, r.profile)),
        r.outcomes.len(),
        t.failed,
        t.could_not_run,
        t.not_applicable
    );
    for o in &r.outcomes {
        let class = o.id.rsplit_once('/').map(|(a, _)| a).unwrap_or(o.id);
        s.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml(class),
            xml(o.id)
        ));
        let msg = xml(&format!(
            "[{}] {} — {} ({})",
            o.level,
            o.title,
            o.detail,
            o.refs.join("; ")
        ));
        match o.verdict {
            Verdict::Fail => s.push_str(&format!("<failure message=\"{msg}\"/>")),
            Verdict::CouldNotRun => {
                s.push_str(&format!("<error message=\"could not run: {msg}\"/>"))
            }
            Verdict::NotApplicable => s.push_str(&format!("<skipped message=\"{msg}\"/>")),
            Verdict::Warn => s.push_str(&format!("<system-out>WARN {msg}</system-out>")),
            Verdict::Pass => {}
        }
        s.push_str("</testcase>\n");
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}

pub fn sarif(r: &RunResult) -> serde_json::Value {
    let rules: Vec<_> = CHECKS
        .iter()
        .map(|c| json!({"id": c.id, "shortDescription": {"text": c.title}, "fullDescription": {"text": format!("{} {} ({})", c.level, c.title, c.refs.join("; "))},
            "defaultConfiguration": {"level": match c.level { crate::model::Level::Must => "error", _ => "warning" }}, "properties": {"level": c.level, "references": c.refs}}))
        .collect();
    let results: Vec<_> = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail | Verdict::Warn))
        .map(|o| {
            json!({"ruleId": o.id, "level": if o.verdict == Verdict::Fail { "error" } else { "warning" },
               "message": {"text": format!("{} — {}", o.title, o.detail)},
               "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.target}}}],
               "properties": {"evidence": o.evidence}})
        })
        .collect();
    json!({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "gigamcp-conformance", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}]})
}

pub fn markdown(r: &RunResult) -> String {
    let t = Tally::of(&r.outcomes);
    let mut s = format!(
        "# MCP conformance: {}\n\nProfile `{}`, spec `{}`{}.\n\n**{} passed, {} failed, {} skipped**; {} warnings, {} not applicable, {} could not run.\n\n{}",
        r.target,
        r.profile,
        r.spec,
        r.negotiated
            .as_ref()
            .map(|n| format!(" (negotiated `{n}`)"))
            .unwrap_or_default(),
        t.passed,
        t.failed,
        t.not_applicable + t.could_not_run,
        t.warnings,
        t.not_applicable,
        t.could_not_run,
        first_cause(r, None)
            .map(|c| format!("{c}\n\n"))
            .unwrap_or_default()
    );
    s.push_str("| Verdict | Level | Check | Detail | References |\n|---|---|---|---|---|\n");
    for o in &r.outcomes {
        let esc = |x: &str| x.replace('|', "\\|").replace('\n', " ");
        s.push_str(&format!(
            "| {} | {} | `{}` | {} | {} |\n",
            o.verdict,
            o.level,
            o.id,
            esc(&o.detail),
            esc(&o.refs.join("; "))
        ));
    }
    if let Some(ms) = r.revocation_latency_ms {
        s.push_str(&format!("\nRevocation took effect after {ms} ms.\n"));
    }
    s.push_str(&markdown_hints(r));
    s
}

/// "What to fix": every failing or warning check with what a ChatGPT user sees, the requirement,
/// the fix and a `curl` reproducing the exchange behind the verdict.
pub fn markdown_hints(r: &RunResult) -> String {
    let bad: Vec<_> = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail | Verdict::Warn))
        .collect();
    if bad.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n## What to fix\n");
    for o in bad {
        s.push_str(&format!(
            "\n### {} `{}`\n\n{}\n\n- **Requirement** ({}): {} — {}\n",
            if o.verdict == Verdict::Fail {
                "FAIL"
            } else {
                "WARN"
            },
            o.id,
            o.detail,
            o.level,
            o.title,
            o.refs.join("; ")
        ));
        if let Some(h) = crate::hints::find(o.id) {
            s.push_str(&format!(
                "- **What a ChatGPT user sees**: {}\n- **How to fix it**: {}\n- **How it is tested**: {}\n",
                h.user_sees, h.fix, h.how
            ));
        }
        if let Some(ex) = html::repro(r, o) {
            s.push_str(&format!(
                "\nReproduce (exchange #{}):\n\n```sh\n{}\n```\n",
                ex.seq,
                curl::command(ex)
            ));
        }
    }
    s
}

/// Writes every exchange as redacted JSON (`NNNN.json`) plus `outcomes.json`.
pub fn write_evidence(dir: &Path, r: &RunResult) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in &r.exchanges {
        std::fs::write(
            dir.join(format!("{:04}.json", e.seq)),
            serde_json::to_string_pretty(e)?,
        )?;
    }
    std::fs::write(
        dir.join("outcomes.json"),
        serde_json::to_string_pretty(&json_report(r, None))?,
    )?;
    Ok(())
}

/// Writes one `--report kind=PATH`.
pub fn write_report(
    kind: &str,
    path: &Path,
    r: &RunResult,
    baseline: Option<&BaselineDiff>,
) -> Result<(), String> {
    let text = match kind {
        "json" => {
            serde_json::to_string_pretty(&json_report(r, baseline)).map_err(|e| e.to_string())?
        }
        "junit" => junit(r),
        "sarif" => serde_json::to_string_pretty(&sarif(r)).map_err(|e| e.to_string())?,
        "md" | "markdown" => markdown(r),
        "html" => html::html(r, baseline),
        other => {
            return Err(format!(
                "unknown report kind {other:?} (json, junit, sarif, md, html)"
            ));
        }
    };
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
