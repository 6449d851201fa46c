//! `--report html=PATH`: one self-contained page for people.
//!
//! Inline CSS and JavaScript only, no fonts, images or scripts from anywhere (a test opens it in
//! Chromium and fails on any request or console error). It shows the verdict summary, the
//! checks grouped by phase with filters, and a sequence diagram (inline SVG) of the flow as it
//! happened: every exchange between the client (the harness), the authorization server and the
//! resource server, each clickable to its redacted request and response. Every failing or
//! warning check says what a ChatGPT user would see, the requirement broken, how to fix it, and
//! gives a `curl` command reproducing the exchange behind the verdict.

use super::baseline::{BaselineDiff, exit_code};
use super::curl;
use crate::flow::RunResult;
use crate::hints;
use crate::http::Exchange;
use crate::model::{Outcome, Tally, Verdict};

/// HTML-escapes text (also for attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Who answered an exchange in the diagram.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Party {
    Client,
    As,
    Rs,
}

/// The resource server serves the MCP URL (and its variants) and its protected resource
/// metadata; everything else the client talks to belongs to the authorization server side
/// (metadata, registration, authorization, token, revocation, login pages).
pub fn party(mcp_url: &str, ex: &Exchange) -> Party {
    let strip = |u: &str| -> String {
        let u = u.split(['?', '#']).next().unwrap_or("");
        u.trim_end_matches('/').to_string()
    };
    let url = strip(&ex.url);
    if url == strip(mcp_url) || ex.url.contains("/.well-known/oauth-protected-resource") {
        Party::Rs
    } else {
        Party::As
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Warn => "warn",
        Verdict::NotApplicable => "na",
        Verdict::CouldNotRun => "skip",
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Warn => "WARN",
        Verdict::NotApplicable => "N/A",
        Verdict::CouldNotRun => "COULD NOT RUN",
    }
}

fn status_class(ex: &Exchange) -> &'static str {
    match ex.status {
        None => "s-err",
        Some(s) if s >= 500 => "s-5xx",
        Some(s) if s >= 400 => "s-4xx",
        Some(s) if s >= 300 => "s-3xx",
        Some(_) => "s-2xx",
    }
}

fn short_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let mut p = u.path().to_string();
            if let Some(q) = u.query() {
                let q: String = q.chars().take(40).collect();
                p.push('?');
                p.push_str(&q);
                if u.query().is_some_and(|full| full.len() > 40) {
                    p.push('…');
                }
            }
            p
        }
        Err(_) => url.chars().take(60).collect(),
    }
}

/// The exchange a failing check's `curl` should reproduce: its first evidence with a request.
pub fn repro<'a>(r: &'a RunResult, o: &Outcome) -> Option<&'a Exchange> {
    o.evidence
        .iter()
        .filter_map(|i| r.exchanges.get(*i))
        .find(|e| !e.method.is_empty())
}

const LANE_X: [f64; 3] = [90.0, 430.0, 770.0];
const ROW: f64 = 26.0;

/// The sequence diagram as inline SVG: one row per exchange, request arrow and response arrow.
pub fn sequence_svg(r: &RunResult) -> String {
    let h = 70.0 + ROW * r.exchanges.len() as f64 + 20.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"seq\" width=\"860\" height=\"{h}\" viewBox=\"0 0 860 {h}\" role=\"img\" aria-label=\"Sequence of HTTP exchanges\">"
    );
    for (i, name) in [
        "Client (harness)",
        "Authorization server",
        "Resource server (MCP)",
    ]
    .iter()
    .enumerate()
    {
        let x = LANE_X[i];
        s.push_str(&format!(
            "<rect x=\"{}\" y=\"8\" width=\"170\" height=\"30\" rx=\"6\" class=\"lane-head\"/><text x=\"{x}\" y=\"28\" text-anchor=\"middle\" class=\"lane-name\">{}</text><line x1=\"{x}\" y1=\"38\" x2=\"{x}\" y2=\"{}\" class=\"lifeline\"/>",
            x - 85.0,
            esc(name),
            h - 8.0
        ));
    }
    for (n, ex) in r.exchanges.iter().enumerate() {
        let y = 60.0 + ROW * n as f64;
        let to = match party(&r.target, ex) {
            Party::Rs => LANE_X[2],
            _ => LANE_X[1],
        };
        let from = LANE_X[0];
        let status = ex
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no response".into());
        let label = format!(
            "#{} {} {} → {}",
            ex.seq,
            ex.method,
            short_path(&ex.url),
            status
        );
        let label: String = if label.chars().count() > 64 {
            format!("{}…", label.chars().take(63).collect::<String>())
        } else {
            label
        };
        s.push_str(&format!(
            "<a href=\"#ex-{seq}\" class=\"arrow {cls}\" data-ex=\"{seq}\"><title>{title}</title><line x1=\"{from}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\"/><polygon points=\"{x2},{y} {xb},{ya} {xb},{yb}\"/><line class=\"resp\" x1=\"{x2}\" y1=\"{yr}\" x2=\"{from2}\" y2=\"{yr}\"/><text x=\"{tx}\" y=\"{ty}\">{label}</text></a>",
            seq = ex.seq,
            cls = status_class(ex),
            title = esc(&format!("{} — {} {}", ex.step, ex.method, ex.url)),
            x2 = to - 4.0,
            xb = to - 12.0,
            ya = y - 4.0,
            yb = y + 4.0,
            yr = y + 7.0,
            from2 = from + 4.0,
            tx = from + 8.0,
            ty = y - 4.0,
            label = esc(&label),
        ));
    }
    s.push_str("</svg>");
    s
}

fn exchange_html(ex: &Exchange) -> String {
    let headers = |h: &[(String, String)]| -> String {
        h.iter()
            .map(|(k, v)| format!("{}: {}\n", esc(k), esc(v)))
            .collect()
    };
    let mut req = format!(
        "{} {}\n{}",
        esc(&ex.method),
        esc(&ex.url),
        headers(&ex.request_headers)
    );
    if let Some(b) = &ex.request_body {
        req.push('\n');
        req.push_str(&esc(b));
    }
    let mut resp = match ex.status {
        Some(s) => format!("HTTP {s}\n{}", headers(&ex.response_headers)),
        None => String::new(),
    };
    if let Some(b) = &ex.response_body {
        resp.push('\n');
        resp.push_str(&esc(b));
    }
    if let Some(e) = &ex.error {
        resp.push_str(&format!("\n[{}]", esc(e)));
    }
    format!(
        "<details class=\"exchange\" id=\"ex-{seq}\"><summary><span class=\"st {cls}\">{status}</span> <code>#{seq}</code> {step} <span class=\"muted\">{ms} ms</span></summary><div class=\"pair\"><div><h4>Request</h4><pre>{req}</pre></div><div><h4>Response</h4><pre>{resp}</pre></div></div><details class=\"curl\"><summary>curl</summary><pre>{curl}</pre></details></details>",
        seq = ex.seq,
        cls = status_class(ex),
        status = ex
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "—".into()),
        step = esc(&ex.step),
        ms = ex.elapsed_ms,
        curl = esc(&curl::command(ex)),
    )
}

fn check_html(r: &RunResult, o: &Outcome, baselined: bool) -> String {
    let mut s = format!(
        "<details class=\"check v-{cls} l-{lvl}\" data-verdict=\"{cls}\" data-level=\"{lvl}\" data-id=\"{id}\"{open}><summary><span class=\"badge {cls}\">{label}</span> <span class=\"lvl\">{level}</span> <code>{id}</code>{base} <span class=\"title\">{title}</span></summary><div class=\"body\"><p class=\"detail\">{detail}</p><p class=\"refs\">Requirement: {level} — {title}<br>References: {refs}</p>",
        cls = verdict_class(o.verdict),
        lvl = o.level.to_string().to_ascii_lowercase(),
        label = verdict_label(o.verdict),
        level = o.level,
        id = esc(o.id),
        base = if baselined {
            " <span class=\"muted\">(baselined)</span>"
        } else {
            ""
        },
        title = esc(o.title),
        detail = esc(&o.detail),
        refs = esc(&o.refs.join("; ")),
        open = if o.verdict == Verdict::Fail {
            " open"
        } else {
            ""
        },
    );
    if matches!(o.verdict, Verdict::Fail | Verdict::Warn)
        && let Some(h) = hints::find(o.id)
    {
        s.push_str(&format!(
            "<div class=\"hint\"><p><strong>What a ChatGPT user sees:</strong> {}</p><p><strong>How to fix it:</strong> {}</p><p><strong>How it is tested:</strong> {}</p></div>",
            esc(h.user_sees),
            esc(h.fix),
            esc(h.how)
        ));
        if let Some(ex) = repro(r, o) {
            s.push_str(&format!(
                "<p class=\"muted\">Reproduce exchange <a href=\"#ex-{}\">#{}</a>:</p><pre class=\"curl\">{}</pre>",
                ex.seq,
                ex.seq,
                esc(&curl::command(ex))
            ));
        }
    }
    if !o.evidence.is_empty() {
        s.push_str("<p class=\"ev\">Evidence: ");
        for i in &o.evidence {
            s.push_str(&format!("<a href=\"#ex-{i}\">#{i}</a> "));
        }
        s.push_str("</p>");
    }
    s.push_str("</div></details>");
    s
}

const CSS: &str = r#"
:root{--fg:#1d2330;--muted:#5b6475;--bg:#f5f6fa;--card:#fff;--border:#dde2ec;--pass:#067647;--fail:#b42318;--warn:#b54708;--na:#667085;--skip:#6941c6}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:1rem 1.5rem;background:var(--card);border-bottom:1px solid var(--border)}h1{font-size:1.3rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.5rem 0 .6rem}h3{font-size:1rem;margin:1.2rem 0 .4rem;text-transform:capitalize}h4{margin:.2rem 0;font-size:.85rem;color:var(--muted)}
main{max-width:1150px;margin:0 auto;padding:0 1rem 3rem}.muted{color:var(--muted)}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
pre{background:#eef1f7;padding:.6rem .8rem;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-all;max-height:420px}
.verdict{display:inline-block;font-weight:700;padding:.2rem .7rem;border-radius:6px;color:#fff}.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}.verdict.incomplete{background:var(--skip)}
.tally span{margin-right:1rem}.cause{margin:.4rem 0 0}
.filters{position:sticky;top:0;background:var(--bg);padding:.6rem 0;z-index:2;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
.filters button{border:1px solid var(--border);background:var(--card);border-radius:999px;padding:.2rem .7rem;cursor:pointer;font:inherit}.filters button[aria-pressed=false]{opacity:.45}.filters input{padding:.25rem .5rem;border:1px solid var(--border);border-radius:6px;font:inherit;min-width:14rem}
details.check{background:var(--card);border:1px solid var(--border);border-left:4px solid var(--na);border-radius:6px;margin:.3rem 0}details.check>summary{cursor:pointer;padding:.35rem .6rem;list-style:none}details.check .body{padding:0 .8rem .6rem}
details.v-pass{border-left-color:var(--pass)}details.v-fail{border-left-color:var(--fail)}details.v-warn{border-left-color:var(--warn)}details.v-skip{border-left-color:var(--skip)}
.badge{display:inline-block;min-width:3.2rem;text-align:center;font-size:.75rem;font-weight:700;border-radius:4px;padding:0 .3rem;color:#fff;background:var(--na)}.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.warn{background:var(--warn)}.badge.skip{background:var(--skip)}
.lvl{font-size:.75rem;color:var(--muted);display:inline-block;width:3.5rem}.title{color:var(--muted)}.hint{background:#fff8eb;border:1px solid #f5d9a8;border-radius:6px;padding:.3rem .8rem;margin:.5rem 0}.hint p{margin:.3rem 0}
.hidden{display:none}.seqbox{background:var(--card);border:1px solid var(--border);border-radius:6px;overflow:auto;max-height:720px}
svg.seq text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:var(--fg)}svg.seq .lane-head{fill:#e8ecf6;stroke:#b9c2d6}svg.seq .lane-name{font:600 12px system-ui,sans-serif}svg.seq .lifeline{stroke:#b9c2d6;stroke-dasharray:4 4}
svg.seq a line{stroke-width:1.6}svg.seq a .resp{stroke-dasharray:3 3}svg.seq a:hover text{font-weight:700}
.s-2xx line{stroke:var(--pass)}.s-2xx polygon{fill:var(--pass)}.s-3xx line{stroke:#175cd3}.s-3xx polygon{fill:#175cd3}.s-4xx line{stroke:var(--warn)}.s-4xx polygon{fill:var(--warn)}.s-5xx line{stroke:var(--fail)}.s-5xx polygon{fill:var(--fail)}.s-err line{stroke:var(--na)}.s-err polygon{fill:var(--na)}
details.exchange{background:var(--card);border:1px solid var(--border);border-radius:6px;margin:.25rem 0}details.exchange>summary{cursor:pointer;padding:.3rem .6rem}details.exchange:target,details.exchange.flash{outline:2px solid #175cd3}
.st{display:inline-block;min-width:2.6rem;text-align:center;border-radius:4px;color:#fff;font-size:.75rem;font-weight:700}.st.s-2xx{background:var(--pass)}.st.s-3xx{background:#175cd3}.st.s-4xx{background:var(--warn)}.st.s-5xx{background:var(--fail)}.st.s-err{background:var(--na)}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.6rem;padding:0 .6rem}.curl>summary{padding:0 .6rem;cursor:pointer;color:var(--muted)}
"#;

const JS: &str = r#"
(function(){
  var state={verdict:{},level:{},q:''};
  function apply(){
    document.querySelectorAll('details.check').forEach(function(d){
      var show=state.verdict[d.dataset.verdict]!==false&&state.level[d.dataset.level]!==false&&(state.q===''||d.dataset.id.indexOf(state.q)>=0||d.textContent.toLowerCase().indexOf(state.q)>=0);
      d.classList.toggle('hidden',!show);
    });
    document.querySelectorAll('section.phase').forEach(function(s){
      s.classList.toggle('hidden',s.querySelectorAll('details.check:not(.hidden)').length===0);
    });
  }
  document.querySelectorAll('.filters button').forEach(function(b){
    b.addEventListener('click',function(){
      var on=b.getAttribute('aria-pressed')!=='true';
      b.setAttribute('aria-pressed',on?'true':'false');
      state[b.dataset.kind][b.dataset.value]=on;apply();
    });
  });
  var q=document.getElementById('q');
  if(q){q.addEventListener('input',function(){state.q=q.value.trim().toLowerCase();apply();});}
  function openTarget(){
    var id=location.hash.slice(1);if(!id)return;
    var el=document.getElementById(id);if(!el)return;
    if(el.tagName==='DETAILS'){el.open=true;}
    el.classList.add('flash');setTimeout(function(){el.classList.remove('flash');},1500);
    el.scrollIntoView({block:'center'});
  }
  window.addEventListener('hashchange',openTarget);openTarget();
})();
"#;

/// The toolbar that filters checks by verdict, level and text.
fn filters_html() -> String {
    let mut s = String::from("<div class=\"filters\" role=\"toolbar\" aria-label=\"Filters\">");
    for (v, label) in [
        ("fail", "Failed"),
        ("warn", "Warnings"),
        ("pass", "Passed"),
        ("skip", "Could not run"),
        ("na", "Not applicable"),
    ] {
        s.push_str(&format!(
            "<button type=\"button\" data-kind=\"verdict\" data-value=\"{v}\" aria-pressed=\"true\">{label}</button>"
        ));
    }
    for l in ["must", "should", "may"] {
        s.push_str(&format!(
            "<button type=\"button\" data-kind=\"level\" data-value=\"{l}\" aria-pressed=\"true\">{}</button>",
            l.to_ascii_uppercase()
        ));
    }
    s.push_str("<input id=\"q\" type=\"search\" placeholder=\"Filter by id or text\" aria-label=\"Filter by id or text\"></div>");
    s
}

/// The whole page.
pub fn html(r: &RunResult, baseline: Option<&BaselineDiff>) -> String {
    let t = Tally::of(&r.outcomes);
    let code = exit_code(r, baseline);
    let (vclass, vtext) = match code {
        0 => ("pass", "every MUST holds"),
        1 => ("fail", "a MUST fails"),
        _ => ("incomplete", "could not complete"),
    };
    let baselined = |id: &str| baseline.is_some_and(|b| b.expected.iter().any(|e| e == id));
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">",
    );
    s.push_str(&format!(
        "<title>MCP conformance: {}</title><style>{CSS}</style></head><body>",
        esc(&r.target)
    ));
    s.push_str(&format!(
        "<header><h1>MCP conformance: <code>{}</code></h1><div>Profile <strong>{}</strong>, spec <strong>{}</strong>{}{} — <span class=\"verdict {vclass}\" id=\"verdict\">{}</span> <span class=\"muted\">(exit code {code})</span></div><div class=\"tally\"><span><strong>{}</strong> passed</span><span><strong>{}</strong> failed</span><span>{} warnings</span><span>{} not applicable</span><span>{} could not run</span><span class=\"muted\">{} HTTP exchanges</span></div>",
        esc(&r.target),
        esc(r.profile),
        esc(&r.spec),
        r.negotiated
            .as_ref()
            .map(|n| format!(" (negotiated <strong>{}</strong>)", esc(n)))
            .unwrap_or_default(),
        if r.strict { ", strict" } else { "" },
        vtext,
        t.passed,
        t.failed,
        t.warnings,
        t.not_applicable,
        t.could_not_run,
        r.exchanges.len()
    ));
    if let Some(f) = &r.fatal {
        s.push_str(&format!(
            "<p class=\"cause\"><strong>The run could not proceed:</strong> {}</p>",
            esc(f)
        ));
    } else if let Some(first) = r.outcomes.iter().find(|o| o.verdict == Verdict::Fail) {
        s.push_str(&format!(
            "<p class=\"cause\">First failure: <a href=\"#check-{}\"><code>{}</code></a> — {}</p>",
            esc(first.id),
            esc(first.id),
            esc(&first.detail)
        ));
    }
    if let Some(ms) = r.revocation_latency_ms {
        s.push_str(&format!(
            "<p class=\"muted\">Revocation took effect at the MCP endpoint after {ms} ms.</p>"
        ));
    }
    s.push_str("</header><main>");
    s.push_str("<h2>Checks</h2>");
    s.push_str(&filters_html());
    let mut phases: Vec<&str> = Vec::new();
    for o in &r.outcomes {
        let p = o.id.split('/').next().unwrap_or("");
        if !phases.contains(&p) {
            phases.push(p);
        }
    }
    for p in phases {
        let of: Vec<&Outcome> = r
            .outcomes
            .iter()
            .filter(|o| o.id.split('/').next() == Some(p))
            .collect();
        let pt = Tally::of(&of.iter().map(|o| (*o).clone()).collect::<Vec<_>>());
        s.push_str(&format!(
            "<section class=\"phase\"><h3>{} <span class=\"muted\">— {} passed, {} failed, {} warnings, {} skipped</span></h3>",
            esc(p),
            pt.passed,
            pt.failed,
            pt.warnings,
            pt.not_applicable + pt.could_not_run
        ));
        // Failures first within a phase, then warnings, then the rest in run order.
        let mut sorted = of.clone();
        sorted.sort_by_key(|o| match o.verdict {
            Verdict::Fail => 0,
            Verdict::Warn => 1,
            Verdict::CouldNotRun => 2,
            _ => 3,
        });
        for o in sorted {
            s.push_str(&format!("<div id=\"check-{}\">", esc(o.id)));
            s.push_str(&check_html(r, o, baselined(o.id)));
            s.push_str("</div>");
        }
        s.push_str("</section>");
    }
    s.push_str("<h2>The flow as it happened</h2><p class=\"muted\">Every HTTP exchange of the run, in order. Solid arrows are requests, dashed arrows responses; click one for its redacted request and response.</p><div class=\"seqbox\">");
    s.push_str(&sequence_svg(r));
    s.push_str("</div><h2>Exchanges</h2>");
    for ex in &r.exchanges {
        s.push_str(&exchange_html(ex));
    }
    s.push_str(&format!(
        "<p class=\"muted\">gigamcp-conformance {} — secrets in this report are redacted as <code>[redacted:hash]</code>.</p></main><script>{JS}</script></body></html>\n",
        env!("CARGO_PKG_VERSION")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }

    #[test]
    fn exchanges_are_placed_on_the_right_lifeline() {
        let ex = |url: &str| Exchange {
            seq: 0,
            step: String::new(),
            method: "GET".into(),
            url: url.into(),
            request_headers: vec![],
            request_body: None,
            status: Some(200),
            response_headers: vec![],
            response_body: None,
            error: None,
            elapsed_ms: 0,
        };
        let mcp = "https://h.example/t/acme/mcp";
        assert_eq!(party(mcp, &ex("https://h.example/t/acme/mcp")), Party::Rs);
        assert_eq!(party(mcp, &ex("https://h.example/t/acme/mcp/")), Party::Rs);
        assert_eq!(
            party(
                mcp,
                &ex("https://h.example/.well-known/oauth-protected-resource/t/acme/mcp")
            ),
            Party::Rs
        );
        assert_eq!(
            party(mcp, &ex("https://h.example/api/oauth/server/token")),
            Party::As
        );
        assert_eq!(
            party(
                mcp,
                &ex("https://h.example/.well-known/oauth-authorization-server")
            ),
            Party::As
        );
    }
}
