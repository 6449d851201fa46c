//! Whole runs: every profile × revision against the conforming fixture, the CLI surface,
//! reports, evidence redaction, baseline and exit codes.

use super::{cfg, problems, verdict};
use crate::fixture::{self, Fault, Opts, PASSWORD};
use clap::Parser;
use gigamcp_conformance::cli::{Cli, Command, config_from, main_with};
use gigamcp_conformance::config::Login;
use gigamcp_conformance::model::{Tally, Verdict};
use gigamcp_conformance::{profile, report};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_and_revision_passes_against_the_conforming_fixture() {
    for p in profile::ALL {
        for spec in [
            None,
            Some("2025-03-26"),
            Some("2025-06-18"),
            Some("2025-11-25"),
            Some("2026-07-28"),
        ] {
            let fx = fixture::start(Opts::default()).await;
            let mut c = cfg(&fx, *p);
            c.spec = spec.map(str::to_string);
            // As the client does: CIMD where its profile and the fixture allow, DCR otherwise.
            c.registration = gigamcp_conformance::config::Registration::Auto;
            let r = gigamcp_conformance::flow::run(c).await.unwrap();
            assert!(
                problems(&r).is_empty(),
                "{} {spec:?}: {:#?}",
                p.name,
                problems(&r)
            );
            let want = spec
                .map(str::to_string)
                .unwrap_or_else(|| p.initialize_version.into());
            assert_eq!(
                r.negotiated.as_deref(),
                Some(want.as_str()),
                "{} {spec:?}",
                p.name
            );
            let t = Tally::of(&r.outcomes);
            assert!(
                t.passed >= 60,
                "{} {spec:?}: only {} passed",
                p.name,
                t.passed
            );
            if spec == Some("2026-07-28") {
                assert_eq!(
                    verdict(&r, "mcp/transport/notification-202"),
                    Verdict::NotApplicable
                );
            }
        }
    }
}

#[tokio::test]
async fn access_token_mode_runs_resource_server_checks_only() {
    let fx = fixture::start(Opts {
        faults: vec![Fault::RsAcceptsGarbage],
        ..Opts::default()
    })
    .await;
    let mut c = cfg(&fx, profile::STRICT);
    c.login = Login::None;
    c.access_token = Some("pre-issued-token-accepted-by-the-garbage-fault".into());
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(verdict(&r, "rs/token/valid-accepted"), Verdict::Pass);
    assert_eq!(verdict(&r, "mcp/tools/list"), Verdict::Pass);
    assert_eq!(verdict(&r, "rs/token/garbage"), Verdict::Fail);
    assert_eq!(verdict(&r, "token/no-store"), Verdict::NotApplicable);
    assert_eq!(verdict(&r, "refresh/rotation"), Verdict::NotApplicable);
}

#[tokio::test]
async fn without_a_login_driver_authorization_checks_could_not_run_never_pass() {
    let fx = fixture::start(Opts::default()).await;
    let mut c = cfg(&fx, profile::CHATGPT);
    c.login = Login::None;
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(verdict(&r, "discovery/prm/path-inserted"), Verdict::Pass);
    for id in [
        "authorize/code-issued",
        "token/no-store",
        "rs/token/garbage",
        "mcp/tools/list",
        "refresh/rotation",
    ] {
        assert_eq!(verdict(&r, id), Verdict::CouldNotRun, "{id}");
    }
    assert_eq!(
        report::exit_code(&r, None),
        2,
        "a MUST that could not run makes the run incomplete, never a pass"
    );
    let t = report::terminal(&r, None);
    assert!(
        t.contains("MUST checks could not run; first cause: "),
        "the summary names the first cause:\n{t}"
    );
    let mut c = cfg(&fx, profile::CHATGPT);
    c.login = Login::None;
    c.allow_incomplete = true;
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(report::exit_code(&r, None), 0, "--allow-incomplete");
    // A baseline listing every MUST that could not run also accepts the incomplete run.
    let ids: Vec<String> = report::incomplete_musts(&r, None)
        .iter()
        .map(|o| o.id.to_string())
        .collect();
    let mut strict = r.clone();
    strict.allow_incomplete = false;
    let b = report::Baseline::parse(&ids.join("\n"));
    let diff = b.diff(&strict);
    assert_eq!(report::exit_code(&strict, Some(&diff)), 0);
}

/// A scripted "browser": curl with a cookie jar walks login and consent for the authorization
/// URL in `$1` and prints the callback URL it is redirected to (never following it).
fn curl_login_script(origin: &str) -> String {
    format!(
        r#"set -e; jar=$(mktemp); page=$(curl -s -c $jar -b $jar "$1");
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p');
rt=$(printf '%s' "$page" | sed -n 's/.*name="return_to" value="\([^"]*\)".*/\1/p' | sed 's/&amp;/\&/g');
curl -s -c $jar -b $jar -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "return_to=$rt" --data-urlencode "username=alice" --data-urlencode "password={PASSWORD}" {origin}/login;
page=$(curl -s -c $jar -b $jar "{origin}$rt");
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p');
req=$(printf '%s' "$page" | sed -n 's/.*name="request" value="\([^"]*\)".*/\1/p');
curl -s -c $jar -b $jar -o /dev/null -w '%{{redirect_url}}' --data-urlencode "csrf=$csrf" --data-urlencode "request=$req" --data-urlencode "decision=approve" {origin}/consent"#
    )
}

#[tokio::test]
async fn login_command_driver_completes_the_flow() {
    let fx = fixture::start(Opts::default()).await;
    let mut c = cfg(&fx, profile::STRICT);
    c.login = Login::Command(curl_login_script(&fx.origin));
    c.only = vec![
        "authorize/code-issued".into(),
        "token".into(),
        "mcp/tools".into(),
    ];
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(
        verdict(&r, "authorize/code-issued"),
        Verdict::Pass,
        "{:?}",
        problems(&r)
    );
    assert_eq!(verdict(&r, "mcp/tools/list"), Verdict::Pass);
    assert!(
        r.outcomes
            .iter()
            .all(|o| o.id.starts_with("authorize/code-issued")
                || o.id.starts_with("token/")
                || o.id.starts_with("mcp/tools/"))
    );
}

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("gigamcp-conformance").chain(args.iter().copied())).unwrap()
}

fn run_args(c: Cli) -> Box<gigamcp_conformance::cli::RunArgs> {
    match c.command {
        Command::Run(a) => a,
        _ => panic!("expected run"),
    }
}

#[test]
fn cli_usage_errors_are_reported() {
    for (args, needle) in [
        (
            vec!["run", "https://h/mcp", "--profile", "gemini"],
            "unknown profile",
        ),
        (
            vec!["run", "https://h/mcp", "--spec", "2024-11-05"],
            "unknown --spec",
        ),
        (vec!["run", "not-a-url"], "not an absolute URL"),
        (
            vec!["run", "https://h/mcp", "--login", "form", "--username", "a"],
            "--password",
        ),
        (
            vec!["run", "https://h/mcp", "--registration", "preregistered"],
            "--client-id",
        ),
        (
            vec![
                "run",
                "https://h/mcp",
                "--cimd-url",
                "https://c.example/c.json",
            ],
            "--registration cimd",
        ),
        (
            vec![
                "run",
                "https://h/mcp",
                "--registration",
                "cimd",
                "--cimd-url",
                "https://c.example/",
            ],
            "with a path",
        ),
        (vec!["run", "https://h/mcp", "--header", "nocolon"], "K:V"),
        (
            vec!["run", "https://h/mcp", "--only", "nosuch"],
            "no check id",
        ),
        (
            vec!["run", "https://h/mcp", "--report", "xml=out.xml"],
            "unknown report kind",
        ),
        (
            vec!["run", "https://h/mcp", "--call-args", "{not json"],
            "not JSON",
        ),
    ] {
        let err = config_from(&run_args(cli(&args))).unwrap_err();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let c = config_from(&run_args(cli(&[
        "run",
        "https://h/t/acme/mcp",
        "--profile",
        "claude",
        "--spec",
        "2025-06-18",
        "--header",
        "X-Test: 1",
        "--only",
        "rs/token",
        "--skip",
        "rs/token/expired",
        "--strict",
        "--call-tool",
        "search",
        "--call-args",
        r#"{"query":"q"}"#,
    ])))
    .unwrap();
    assert_eq!(c.profile.name, "claude");
    assert_eq!(c.spec.as_deref(), Some("2025-06-18"));
    assert_eq!(c.headers, vec![("X-Test".to_string(), "1".to_string())]);
    assert!(
        c.selected("rs/token/garbage")
            && !c.selected("rs/token/expired")
            && !c.selected("mcp/tools/list")
    );
    assert!(c.strict);
    let c = config_from(&run_args(cli(&[
        "run",
        "https://h/t/acme/mcp",
        "--registration",
        "cimd",
        "--cimd-url",
        "https://c.example/oauth/client.json",
    ])))
    .unwrap();
    assert!(matches!(
        c.registration,
        gigamcp_conformance::config::Registration::Cimd { url: Some(ref u) } if u == "https://c.example/oauth/client.json"
    ));
}

#[test]
fn list_marks_side_effects_and_honours_selection() {
    let all = gigamcp_conformance::cli::list(None);
    assert_eq!(
        all.lines().count(),
        gigamcp_conformance::checks::CHECKS.len()
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("registration/dcr/accepted") && l.contains("[side effect]"))
    );
    let c = config_from(&run_args(cli(&[
        "run",
        "https://h/mcp",
        "--only",
        "revocation",
        "--skip",
        "revocation/public-client",
    ])))
    .unwrap();
    let some = gigamcp_conformance::cli::list(Some(&c));
    assert!(some.lines().all(|l| l.starts_with("revocation/")), "{some}");
    assert!(!some.contains("revocation/public-client"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_evidence_baseline_and_exit_codes() {
    let fx = fixture::start(Opts {
        faults: vec![Fault::TokenNoStore],
        ..Opts::default()
    })
    .await;
    let dir = std::env::temp_dir().join(format!("gigamcp-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let url = fx.mcp_url("acme");
    let base = [
        "run",
        url.as_str(),
        "--login",
        "form",
        "--username",
        "alice",
        "--password",
        PASSWORD,
        "--revocation-wait",
        "1",
    ];
    let with = |extra: &[&str]| {
        cli(&base
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>())
    };

    // A MUST fails → exit 1; reports are written.
    let (json, junit, sarif, md, ev) = (
        p("r.json"),
        p("r.xml"),
        p("r.sarif"),
        p("r.md"),
        p("evidence"),
    );
    let rj = format!("json={json}");
    let rx = format!("junit={junit}");
    let rs = format!("sarif={sarif}");
    let rm = format!("md={md}");
    let code = main_with(with(&[
        "--report",
        &rj,
        "--report",
        &rx,
        "--report",
        &rs,
        "--report",
        &rm,
        "--evidence",
        &ev,
    ]))
    .await;
    assert_eq!(code, 1);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["tally"]["failed"], 1);
    assert!(
        j["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == "token/no-store" && o["verdict"] == "fail")
    );
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("<testcase classname=\"token\" name=\"token/no-store\"><failure"),
        "{x}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(s["version"], "2.1.0");
    assert!(
        s["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "token/no-store" && r["level"] == "error")
    );
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("| fail | MUST | `token/no-store` |")
    );

    // Evidence: every exchange written, and no secret survives.
    let files: Vec<_> = std::fs::read_dir(&ev)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() > 50, "{} evidence files", files.len());
    let all: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(!all.contains(PASSWORD), "password leaked into evidence");
    assert!(all.contains("[redacted:"));
    for secret_key in [
        "\"access_token\":\"at-",
        "\"refresh_token\":\"rt-",
        "code=",
        "sid=",
    ] {
        for line in all.lines().filter(|l| l.contains(secret_key)) {
            let after = &line[line.find(secret_key).unwrap() + secret_key.len()..];
            assert!(
                after.starts_with("[redacted") || after.starts_with("%5Bredacted"),
                "unredacted {secret_key}: {line}"
            );
        }
    }
    assert!(
        !all.contains("\"at-") && !all.contains("\"rt-") && !all.contains("Bearer at-"),
        "a token leaked into evidence"
    );

    // Baseline with the failure → exit 0; a stale entry → exit 1.
    let bl = p("baseline.txt");
    std::fs::write(&bl, "# known\ntoken/no-store\n").unwrap();
    assert_eq!(main_with(with(&["--baseline", &bl])).await, 0);
    std::fs::write(&bl, "token/no-store\ntoken/token-type # fixed long ago\n").unwrap();
    assert_eq!(
        main_with(with(&["--baseline", &bl])).await,
        1,
        "a baselined check that passes is stale"
    );

    // Usage error → 2; unreachable target → 2.
    assert_eq!(
        main_with(cli(&["run", "https://h/mcp", "--profile", "nope"])).await,
        2
    );
    assert_eq!(
        main_with(cli(&["run", "http://127.0.0.1:9/mcp", "--timeout", "2"])).await,
        2
    );
    // --list is a dry run.
    assert_eq!(main_with(with(&["--list"])).await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn should_violations_warn_unless_strict_and_terminal_ends_with_the_tally() {
    let fx = fixture::start(Opts {
        faults: vec![Fault::TokenNoExpiresIn],
        ..Opts::default()
    })
    .await;
    let r = gigamcp_conformance::flow::run(cfg(&fx, profile::CHATGPT))
        .await
        .unwrap();
    assert_eq!(verdict(&r, "token/expires-in"), Verdict::Warn);
    assert_eq!(report::exit_code(&r, None), 0);
    let t = report::terminal(&r, None);
    let lines: Vec<&str> = t.lines().collect();
    let tally = Tally::of(&r.outcomes);
    assert_eq!(
        lines[lines.len() - 1],
        format!(
            "{} passed, {} failed, {} skipped",
            tally.passed,
            tally.failed,
            tally.not_applicable + tally.could_not_run
        )
    );
    assert_eq!(
        lines[lines.len() - 2],
        format!(
            "{} warnings, {} not applicable, {} could not run",
            tally.warnings, tally.not_applicable, tally.could_not_run
        )
    );
    let mut c = cfg(&fx, profile::CHATGPT);
    c.strict = true;
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(verdict(&r, "token/expires-in"), Verdict::Fail);
    assert_eq!(report::exit_code(&r, None), 1);
}

#[tokio::test]
async fn rate_limited_registration_could_not_run_rather_than_fail() {
    let fx = fixture::start(Opts {
        faults: vec![Fault::RegisterRateLimited],
        ..Opts::default()
    })
    .await;
    let r = gigamcp_conformance::flow::run(cfg(&fx, profile::CHATGPT))
        .await
        .unwrap();
    for id in [
        "registration/dcr/accepted",
        "registration/dcr/reject-http-redirect",
        "authorize/code-issued",
    ] {
        assert_eq!(verdict(&r, id), Verdict::CouldNotRun, "{id}");
    }
    assert_eq!(verdict(&r, "discovery/asm/s256"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robustness_is_selectable_and_reports_the_shrunk_request() {
    for (fault, id, needle) in [
        (
            Fault::FuzzServerError,
            "mcp/robustness/no-5xx",
            "(id of a wrong type)",
        ),
        (
            Fault::FuzzHtmlError,
            "mcp/robustness/no-html",
            "header content-type",
        ),
        (Fault::FuzzWedged, "mcp/robustness/survives", "-32603"),
    ] {
        let fx = fixture::start(Opts {
            faults: vec![fault],
            ..Opts::default()
        })
        .await;
        let c = config_from(&run_args(cli(&[
            "run",
            &fx.mcp_url("acme"),
            "--login",
            "form",
            "--username",
            "alice",
            "--password",
            PASSWORD,
            "--only",
            "mcp/robustness",
            "--fuzz-cases",
            "48",
        ])))
        .unwrap();
        let r = gigamcp_conformance::flow::run(c).await.unwrap();
        assert!(
            r.outcomes
                .iter()
                .all(|o| o.id.starts_with("mcp/robustness/")),
            "--only mcp/robustness selects the fuzzer alone"
        );
        assert_eq!(r.outcomes.len(), 4);
        let o = r.outcomes.iter().find(|o| o.id == id).unwrap();
        assert_eq!(o.verdict, Verdict::Warn, "{fault:?}: {}", o.detail);
        assert!(o.detail.contains(needle), "{fault:?}: {}", o.detail);
        if id != "mcp/robustness/survives" {
            assert!(o.detail.contains("minimal request"), "{}", o.detail);
        }
        println!("{fault:?}: {}", o.detail);
    }
    // Deterministic: the same seed yields the same requests.
    let bodies = |r: &gigamcp_conformance::flow::RunResult| {
        r.exchanges
            .iter()
            .filter(|e| e.step.starts_with("robustness: generated"))
            .map(|e| e.request_body.clone())
            .collect::<Vec<_>>()
    };
    let fx = fixture::start(Opts::default()).await;
    let mut c = cfg(&fx, profile::CHATGPT);
    c.only = vec!["mcp/robustness".into()];
    let a = gigamcp_conformance::flow::run(c.clone()).await.unwrap();
    assert!(problems(&a).is_empty(), "{:#?}", problems(&a));
    let b = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(bodies(&a).len(), 64);
    assert_eq!(bodies(&a), bodies(&b));
}

/// `--login manual` end to end: the real binary prints the authorization URL, a tiny script
/// plays the person at the browser, and the pasted callback URL completes the flow via stdin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_manual_reads_the_pasted_callback_from_stdin() {
    use std::process::Stdio;
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let fx = fixture::start(Opts::default()).await;
    let dir = std::env::temp_dir().join(format!("gigamcp-manual-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let url = fx.mcp_url("acme");
    let report = format!("json={}", json.display());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gigamcp-conformance"))
        .args([
            "run",
            url.as_str(),
            "--profile",
            "strict",
            "--login",
            "manual",
            "--revocation-wait",
            "1",
            "--fuzz-cases",
            "8",
            "--report",
            report.as_str(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The prompt goes to stderr; the authorization URL is on a line of its own.
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let authorize = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = err.next_line().await.unwrap() {
            let l = line.trim();
            if l.starts_with(&fx.origin) && l.contains("code_challenge=") {
                return l.to_string();
            }
        }
        panic!("the binary exited without printing an authorization URL");
    })
    .await
    .expect("no authorization URL within 60 s");
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = err.next_line().await {} });

    let login = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(curl_login_script(&fx.origin))
        .arg("manual-login")
        .arg(&authorize)
        .output()
        .await
        .unwrap();
    let callback = String::from_utf8(login.stdout).unwrap();
    assert!(
        callback.starts_with("http://127.0.0.1:8976/callback?") && callback.contains("code="),
        "login script printed {callback:?}"
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", callback.trim()).as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the run did not finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One pasted callback authorizes once: the checks that need another authorization could not
    // run, so the run is honest about being incomplete (exit 2) and names the first cause.
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("could not run; first cause: "), "{stdout}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let v = |id: &str| {
        j["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .map(|o| o["verdict"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    for id in [
        "authorize/code-issued",
        "authorize/state-echoed",
        "token/no-store",
        "mcp/tools/list",
        "rs/token/valid-accepted",
    ] {
        assert_eq!(v(id), "pass", "{id}\n{stdout}");
    }
    // Anything needing a second authorization could not run: never a pass.
    assert_eq!(v("authorize/pkce-required"), "could-not-run");
    assert!(
        stdout.lines().last().unwrap().contains(" 0 failed, "),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
