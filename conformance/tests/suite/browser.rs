//! A real Chromium: the `browser` login driver against the fixture's pages, and the HTML report
//! opened the way a person opens it. Skipped with a message when no Chromium is installed, but a
//! failure when `CI=true` (`.ci/run` installs the `chromium` package).

use super::cfg;
use crate::fixture::{self, Fault, Opts, PASSWORD, USER};
use gigamcp_conformance::browser::{Chromium, Options, find_chromium};
use gigamcp_conformance::config::Login;
use gigamcp_conformance::flow::browser::{BrowserLogin, Script};
use gigamcp_conformance::model::Verdict;
use gigamcp_conformance::{profile, report};
use std::path::PathBuf;
use std::time::Duration;

/// `true` when the test can run; `false` (with a message) when it must be skipped here.
pub fn have_chromium(test: &str) -> bool {
    if find_chromium(None).is_some() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: no Chromium on a CI machine (.ci/run installs the `chromium` package)");
    }
    eprintln!("skipping {test}: no Chromium or Chrome installed (apt-get install chromium)");
    false
}

/// `target/` of this workspace (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
}

fn browser_login(script: &str) -> BrowserLogin {
    BrowserLogin {
        script: Some(Script::parse(script).expect("script")),
        headed: false,
        chromium: None,
        step_timeout: Duration::from_secs(15),
        callback_timeout: Duration::from_secs(15),
    }
}

#[tokio::test]
async fn browser_login_signs_in_through_the_fixture_pages_and_keeps_the_code_from_the_callback() {
    if !have_chromium("browser_login_signs_in_through_the_fixture_pages") {
        return;
    }
    // SAFETY: the variable name is unique to this test; no other thread reads it.
    unsafe { std::env::set_var("GIGAMCP_TEST_BROWSER_PW", PASSWORD) };
    let fx = fixture::start(Opts::default()).await;
    let mut c = cfg(&fx, profile::CHATGPT);
    c.login = Login::Browser(browser_login(&format!(
        "fill \"input[name=username]\" {USER}\nfill \"input[type=password]\" env:GIGAMCP_TEST_BROWSER_PW\nclick \"button[type=submit]\"\nclick \"button[value=approve]\"\n"
    )));
    // One authorization is enough to prove the driver; the rest of the matrix is the form
    // driver's job and would start Chromium a dozen times.
    c.only = vec![
        "authorize/code-issued".into(),
        "authorize/state-echoed".into(),
        "token/response-json".into(),
        "mcp/tools/list".into(),
    ];
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    for id in [
        "authorize/code-issued",
        "authorize/state-echoed",
        "token/response-json",
        "mcp/tools/list",
    ] {
        assert_eq!(
            super::verdict(&r, id),
            Verdict::Pass,
            "{id}: {}",
            super::detail(&r, id)
        );
    }
    let browser: Vec<_> = r
        .exchanges
        .iter()
        .filter(|e| e.step.starts_with("authorize (browser)"))
        .collect();
    assert!(
        browser.len() >= 3,
        "the browser's navigations are evidence: {browser:#?}"
    );
    let evidence = serde_json::to_string(&r.exchanges).unwrap();
    assert!(
        !evidence.contains(PASSWORD),
        "the password from the environment leaked into the evidence"
    );
    // The callback was stopped inside the browser: it is in the evidence without a response,
    // and its code is redacted.
    let cb = browser
        .iter()
        .find(|e| e.url.starts_with("https://chatgpt.com/"))
        .expect("the callback navigation is recorded");
    assert_eq!(cb.status, None, "{cb:#?}");
    assert!(cb.url.contains("code=[redacted:"), "{}", cb.url);
}

#[tokio::test]
async fn a_failing_script_step_names_its_line_and_the_page() {
    if !have_chromium("a_failing_script_step_names_its_line_and_the_page") {
        return;
    }
    let fx = fixture::start(Opts::default()).await;
    let mut c = cfg(&fx, profile::CHATGPT);
    let mut b = browser_login("fill \"input[name=username]\" alice\nclick \"#no-such-button\"\n");
    b.step_timeout = Duration::from_secs(2);
    c.login = Login::Browser(b);
    c.only = vec!["authorize/code-issued".into()];
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_eq!(
        super::verdict(&r, "authorize/code-issued"),
        Verdict::CouldNotRun
    );
    let d = super::detail(&r, "authorize/code-issued");
    assert!(d.contains("login script line 2"), "{d}");
    assert!(d.contains("#no-such-button"), "{d}");
}

#[tokio::test]
async fn the_html_report_opens_in_chromium_without_console_errors_or_network_requests() {
    if !have_chromium("the_html_report_opens_in_chromium") {
        return;
    }
    let fx = fixture::start(Opts {
        faults: vec![Fault::RsNoAudienceCheck, Fault::TokenNoExpiresIn],
        ..Opts::default()
    })
    .await;
    let r = gigamcp_conformance::flow::run(cfg(&fx, profile::CHATGPT))
        .await
        .unwrap();
    assert_eq!(
        super::verdict(&r, "rs/audience/cross-workspace"),
        Verdict::Fail
    );
    let dir = target_dir().join("conformance-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("html-report.html");
    report::write_report("html", &path, &r, None).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    for needle in [
        "<script src",
        "<link rel=\"stylesheet\"",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(needle), "the report references {needle}");
    }

    let chromium = Chromium::launch(&Options::default()).await.unwrap();
    let tab = chromium.tab().await.unwrap();
    let url = format!("file://{}", path.display());
    tab.goto(&url, Duration::from_secs(20)).await.unwrap();
    tab.wait_for("#verdict", Duration::from_secs(10))
        .await
        .unwrap();
    let text = tab.text().await;
    assert!(text.contains("a MUST fails"), "{text}");
    assert!(text.contains("What a ChatGPT user sees"), "hints are shown");
    // The failing check is open and carries a curl reproducing its exchange.
    let open_fail = tab
        .eval("document.querySelector('details.v-fail[open] pre.curl') !== null")
        .await
        .unwrap();
    assert_eq!(open_fail, serde_json::json!(true));
    // Filters: hiding passes leaves no visible pass.
    tab.click("button[data-value=pass]").await.unwrap();
    let visible_passes = tab
        .eval("[...document.querySelectorAll('details.v-pass')].filter(d => !d.classList.contains('hidden')).length")
        .await
        .unwrap();
    assert_eq!(visible_passes, serde_json::json!(0));
    // An arrow in the sequence diagram opens its exchange.
    let seq = r.exchanges[3].seq;
    tab.click(&format!("svg.seq a[data-ex='{seq}']"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let opened = tab
        .eval(&format!("document.getElementById('ex-{seq}').open"))
        .await
        .unwrap();
    assert_eq!(opened, serde_json::json!(true));
    tab.screenshot(&dir.join("html-report-full.png"), true)
        .await
        .unwrap();
    tab.eval("window.scrollTo(0, 0)").await.unwrap();
    tab.screenshot(&dir.join("html-report.png"), false)
        .await
        .unwrap();

    let errors = tab.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let external: Vec<String> = tab
        .requests()
        .into_iter()
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:") && u != "about:blank")
        .collect();
    assert!(external.is_empty(), "the report fetched {external:#?}");
    drop(tab);
    chromium.close().await;
    eprintln!(
        "HTML report screenshot: {}",
        dir.join("html-report.png").display()
    );
}

#[tokio::test]
async fn a_javascript_only_login_page_is_signed_in_through_by_the_browser_not_the_form_driver() {
    if !have_chromium("a_javascript_only_login_page") {
        return;
    }
    // SAFETY: the variable name is unique to this test; no other thread reads it.
    unsafe { std::env::set_var("GIGAMCP_TEST_BROWSER_JS_PW", PASSWORD) };
    let fx = fixture::start(Opts {
        js_login: true,
        ..Opts::default()
    })
    .await;
    let only = vec![
        "authorize/code-issued".to_string(),
        "token/response-json".to_string(),
    ];
    // The form driver finds no form to submit.
    let mut c = cfg(&fx, profile::CHATGPT);
    c.only = only.clone();
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    assert_ne!(
        super::verdict(&r, "authorize/code-issued"),
        Verdict::Pass,
        "the form driver cannot pass a JavaScript-only page"
    );
    // A real browser runs the page's script and signs in through its JSON API.
    let mut c = cfg(&fx, profile::CHATGPT);
    c.only = only;
    c.login = Login::Browser(browser_login(
        "fill #user alice\nfill #pass env:GIGAMCP_TEST_BROWSER_JS_PW\nclick #go\nclick \"button[value=approve]\"\n",
    ));
    let r = gigamcp_conformance::flow::run(c).await.unwrap();
    for id in ["authorize/code-issued", "token/response-json"] {
        assert_eq!(
            super::verdict(&r, id),
            Verdict::Pass,
            "{id}: {}",
            super::detail(&r, id)
        );
    }
}
