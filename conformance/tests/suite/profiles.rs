//! Client profiles: `compat/connects` per client, the "refuses custom-scheme redirect URIs"
//! fault (Cursor cannot connect, the spec checks are unchanged), CIMD chosen by `auto` the way
//! the real clients choose it, and `run --profile all`.

use super::{cfg, detail, problems, verdict};
use crate::fixture::{self, Fault, Opts, PASSWORD, USER};
use clap::Parser;
use gigamcp_conformance::cli::Cli;
use gigamcp_conformance::config::Registration;
use gigamcp_conformance::model::Verdict;
use gigamcp_conformance::profile::{self, Profile};
use std::collections::BTreeMap;

async fn run(p: Profile, faults: &[Fault]) -> gigamcp_conformance::flow::RunResult {
    let fx = fixture::start(Opts {
        faults: faults.to_vec(),
        ..Opts::default()
    })
    .await;
    let mut c = cfg(&fx, p);
    c.registration = Registration::Auto;
    c.skip.push("mcp/robustness".into());
    gigamcp_conformance::flow::run(c).await.unwrap()
}

fn verdicts(r: &gigamcp_conformance::flow::RunResult) -> BTreeMap<&'static str, Verdict> {
    r.outcomes
        .iter()
        .filter(|o| o.id != "compat/connects")
        .map(|o| (o.id, o.verdict))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_custom_scheme_fails_cursor_compat_naming_the_uri_and_no_spec_check() {
    let ok = run(profile::CURSOR, &[]).await;
    assert_eq!(
        verdict(&ok, "compat/connects"),
        Verdict::Pass,
        "{}",
        detail(&ok, "compat/connects")
    );
    assert!(
        detail(&ok, "compat/connects").contains(profile::CURSOR_SCHEME_REDIRECT),
        "the conforming run used Cursor's own callback: {}",
        detail(&ok, "compat/connects")
    );
    let bad = run(profile::CURSOR, &[Fault::RefusesCustomSchemeRedirects]).await;
    assert_eq!(verdict(&bad, "compat/connects"), Verdict::Fail);
    let why = detail(&bad, "compat/connects");
    assert!(
        why.contains(profile::CURSOR_SCHEME_REDIRECT) && why.contains("RFC 8252 §7.1"),
        "names the refused URI and the fix: {why}"
    );
    // Refusing a private-use scheme is the server's policy, not a spec violation: the harness
    // registers without it and every spec check ends as in the conforming run.
    assert_eq!(verdicts(&ok), verdicts(&bad), "{:#?}", problems(&bad));
    let left = problems(&bad);
    assert!(
        left.len() == 1 && left[0].starts_with("fail compat/connects — Cursor cannot register"),
        "{left:#?}"
    );
}

/// VS Code's body (microsoft/vscode `oauth.ts`) has no private-use URI: the fault does not stop
/// it, and its callback is the loopback one on port 33418.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vscode_registers_https_and_loopback_uris_only() {
    let r = run(profile::VSCODE, &[Fault::RefusesCustomSchemeRedirects]).await;
    assert!(problems(&r).is_empty(), "{:#?}", problems(&r));
    assert!(
        detail(&r, "compat/connects").contains("http://127.0.0.1:33418/"),
        "{}",
        detail(&r, "compat/connects")
    );
    let body = profile::VSCODE.dcr_body_for(&profile::DcrInput {
        redirect_uris: &profile::VSCODE.dcr_redirect_uris("http://127.0.0.1:33418/"),
        scope: Some("mcp:read mcp:tools"),
        as_grant_types: Some(&["authorization_code".into(), "refresh_token".into()]),
    });
    assert_eq!(
        body["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["scope"], "mcp:read mcp:tools");
    assert_eq!(body["redirect_uris"].as_array().unwrap().len(), 4);
}

/// `auto` picks what the client picks: ChatGPT and Claude Code use their metadata documents
/// (served by the harness on loopback), their `-dcr` twins and Cursor register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_registration_follows_each_client() {
    for (p, cimd) in [
        (profile::CHATGPT, true),
        (profile::CLAUDE_CODE, true),
        (profile::CHATGPT_DCR, false),
        (profile::CURSOR, false),
    ] {
        let r = run(p, &[]).await;
        assert!(problems(&r).is_empty(), "{}: {:#?}", p.name, problems(&r));
        let (used, unused) = if cimd {
            ("registration/cimd/accepted", "registration/dcr/accepted")
        } else {
            ("registration/dcr/accepted", "registration/cimd/accepted")
        };
        assert_eq!(verdict(&r, used), Verdict::Pass, "{}", p.name);
        assert_eq!(verdict(&r, unused), Verdict::NotApplicable, "{}", p.name);
    }
    // A target that never fetches the harness's loopback document (an SSRF guard; here: every
    // URL client id refused before any fetch): the run falls back to DCR and says why.
    let r = run(profile::CHATGPT, &[Fault::CimdRejected]).await;
    assert!(problems(&r).is_empty(), "{:#?}", problems(&r));
    assert_eq!(verdict(&r, "registration/dcr/accepted"), Verdict::Pass);
    assert_eq!(
        verdict(&r, "registration/cimd/accepted"),
        Verdict::NotApplicable
    );
    assert!(detail(&r, "registration/cimd/accepted").contains("never fetched"));
    assert_eq!(verdict(&r, "compat/connects"), Verdict::Pass);
    // Without the advertisement ChatGPT falls back to DCR.
    let r = run(profile::CHATGPT, &[Fault::CimdNotAdvertised]).await;
    assert_eq!(verdict(&r, "registration/dcr/accepted"), Verdict::Pass);
    assert_eq!(verdict(&r, "compat/connects"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_all_passes_for_every_profile_and_writes_the_table() {
    let fx = fixture::start(Opts::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("all.md");
    let json = dir.path().join("all.json");
    let url = fx.mcp_url("acme");
    let second = fx.mcp_url("globex");
    let args = [
        "gigamcp-conformance",
        "run",
        &url,
        "--profile",
        "all",
        "--login",
        "form",
        "--username",
        USER,
        "--password",
        PASSWORD,
        "--second-resource",
        &second,
        "--expiry-wait",
        "3",
        "--revocation-wait",
        "1",
        "--skip",
        "mcp/robustness",
        "--report",
        &format!("md={}", md.display()),
        "--report",
        &format!("json={}", json.display()),
    ];
    let code = gigamcp_conformance::app::main_with(Cli::try_parse_from(args).unwrap()).await;
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cols = j["deployments"].as_array().unwrap();
    let failing: Vec<_> = cols.iter().filter(|c| c["exit_code"] != 0).collect();
    assert!(failing.is_empty(), "{failing:#?}");
    assert_eq!(code, 0);
    assert_eq!(cols.len(), profile::ALL.len());
    let compat = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "compat/connects")
        .unwrap();
    for p in profile::ALL {
        assert_eq!(compat["verdicts"][p.name], "pass", "{}", p.name);
    }
    let table = std::fs::read_to_string(&md).unwrap();
    assert!(table.contains("| `compat/connects` |") && table.contains(" cursor |"));
}
