//! Our HTML pages in a real Chromium (the harness's CDP client): sign-in, consent approve and
//! deny, the workspace picker, Connected apps revoke (the grant's token is refused afterwards),
//! sign-out and the non-member page; no console errors on any of them. Screenshots land in
//! `target/browser-pages/`. Skipped with a message when no Chromium is installed, a failure
//! when `CI=true` (`.ci/run` installs the `chromium` package).

use crate::support::TestApp;
use crate::support::oauth_client::*;
use gigamcp_conformance::browser::{Chromium, Options, Tab, find_chromium};
use reqwest::StatusCode;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

const T: Duration = Duration::from_secs(15);

fn shots() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
        .join("browser-pages")
}

async fn shot(tab: &Tab, name: &str) {
    tab.screenshot(&shots().join(name), false).await.unwrap();
}

/// Waits until the page's visible text contains `needle`.
async fn wait_text(tab: &Tab, needle: &str) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let text = tab.text().await;
        if text.contains(needle) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page never showed {needle:?}; it shows:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in_as(tab: &Tab, base: &str, user: &str) {
    tab.goto(&format!("{base}/login"), T).await.unwrap();
    tab.wait_for("#username", T).await.unwrap();
    tab.fill("#username", user).await.unwrap();
    tab.fill("#password", &format!("pw-{user}")).await.unwrap();
    tab.click("form[action='/login'] button[type=submit]")
        .await
        .unwrap();
    tab.wait_for("form[action='/logout']", T).await.unwrap();
}

/// The next callback the browser tried to deliver (stopped inside the browser).
async fn next_callback(cb: &mut tokio::sync::watch::Receiver<Option<Url>>) -> Url {
    tokio::time::timeout(T, cb.changed())
        .await
        .expect("no redirect to the callback")
        .unwrap();
    cb.borrow_and_update().clone().expect("a callback URL")
}

fn param(u: &Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn our_pages_work_in_a_real_browser() {
    if find_chromium(None).is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "no Chromium on a CI machine (.ci/run installs the `chromium` package)"
        );
        eprintln!("skipping our_pages_work_in_a_real_browser: no Chromium installed");
        return;
    }
    let t = TestApp::with_people().await;
    let base = t.serve().await;
    let b = Browser::new(&base);
    let c = register_chatgpt(&b).await;
    let chromium = Chromium::launch(&Options::default()).await.unwrap();
    let mut tab = chromium.tab().await.unwrap();
    let mut cb = tab
        .intercept(&[Url::parse(CHATGPT_REDIRECT).unwrap()])
        .await
        .unwrap();

    // Sign-in.
    tab.goto(&format!("{base}/login"), T).await.unwrap();
    tab.wait_for("#username", T).await.unwrap();
    shot(&tab, "01-sign-in.png").await;
    sign_in_as(&tab, &base, "alice").await;

    // Consent is remembered once approved (a reconnect skips it), so deny and the picker come
    // first.
    let authz = |challenge: &str, state: &str, extra: &[(&str, &str)]| {
        format!(
            "{base}{}",
            authorize_path(&c.id, &c.redirect, challenge, state, extra)
        )
    };
    let scoped = [("resource", ACME), ("scope", "mcp:read mcp:tools")];
    // Consent, denied: the callback says access_denied.
    let (_, challenge2) = pkce();
    tab.goto(&authz(&challenge2, "deny-state-1", &scoped), T)
        .await
        .unwrap();
    tab.wait_for("button[value=deny]", T).await.unwrap();
    tab.click("button[value=deny]").await.unwrap();
    let denied = next_callback(&mut cb).await;
    assert_eq!(
        param(&denied, "error").as_deref(),
        Some("access_denied"),
        "{denied}"
    );

    // Workspace picker: no `resource`, and alice belongs to two workspaces.
    let (_, challenge3) = pkce();
    tab.goto(
        &authz(&challenge3, "picker-state-1", &[("scope", "mcp:read")]),
        T,
    )
    .await
    .unwrap();
    tab.wait_for("select#workspace", T).await.unwrap();
    let options = tab
        .eval("[...document.querySelectorAll('#workspace option')].map(o => o.value)")
        .await
        .unwrap();
    assert_eq!(options, serde_json::json!(["acme", "globex"]));
    shot(&tab, "03-workspace-picker.png").await;

    // Consent, approved: the code reaches the (intercepted) callback and works.
    let (verifier, challenge) = pkce();
    let state = chatgpt_state();
    tab.goto(&authz(&challenge, &state, &scoped), T)
        .await
        .unwrap();
    tab.wait_for("button[value=approve]", T).await.unwrap();
    shot(&tab, "02-consent.png").await;
    tab.click("button[value=approve]").await.unwrap();
    let approved = next_callback(&mut cb).await;
    assert_eq!(param(&approved, "state").as_deref(), Some(state.as_str()));
    let code = param(&approved, "code").expect("code on the callback");
    let tok = exchange(&b, &c, &code, &verifier, ACME).await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.text);
    let access = tok.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_call(&b, "acme", &access).await.status, StatusCode::OK);

    // Connected apps: revoke every grant; the token from the approved consent is refused.
    tab.goto(&format!("{base}/settings/connected-apps"), T)
        .await
        .unwrap();
    tab.wait_for("button.danger", T).await.unwrap();
    shot(&tab, "04-connected-apps.png").await;
    while tab.page.find_element("button.danger").await.is_ok() {
        tab.click("button.danger").await.unwrap();
        wait_text(&tab, "Access revoked").await;
    }
    shot(&tab, "05-revoked.png").await;
    let after = mcp_call(&b, "acme", &access).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);

    // Sign-out.
    tab.click("form[action='/logout'] button").await.unwrap();
    tab.wait_for("header a[href='/login']", T).await.unwrap();
    shot(&tab, "06-signed-out.png").await;

    // The non-member page: bob is not in acme.
    sign_in_as(&tab, &base, "bob").await;
    let (_, challenge4) = pkce();
    tab.goto(&authz(&challenge4, "bob-state-1", &scoped), T)
        .await
        .unwrap();
    wait_text(&tab, "not a member of the workspace").await;
    shot(&tab, "07-not-a-member.png").await;

    let errors = tab.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    drop(tab);
    chromium.close().await;
    eprintln!("screenshots of our pages: {}", shots().display());
}
