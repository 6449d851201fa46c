//! The `browser` login driver: a real Chromium walks the authorization URL.
//!
//! Headless with a login script (`--login-script FILE`) for CI against any identity provider,
//! or headed (`--headed`) for a person who signs in through SSO and MFA while the harness waits.
//! Either way the request to the client's callback is paused inside the browser and failed
//! (see [`crate::browser::Tab::intercept`]): the harness reads the code from its URL, and the
//! browser never delivers it to the real callback.
//!
//! # Login scripts
//! One step per line; `#` starts a comment; arguments may be quoted (`"…"` or `'…'`).
//!
//! ```text
//! goto {authorization_url}          # optional: the driver opens the authorization URL first
//! fill #username env:IDP_USERNAME   # a value is `env:NAME` or a literal
//! fill #password env:IDP_PASSWORD   # password fields only take env:NAME
//! click button[type=submit]
//! wait selector "button[value=approve]"
//! select #workspace acme
//! click-if-present "button[value=approve]"
//! wait url https://idp.example.com/consent*
//! ```
//!
//! Values from the environment are registered as secrets (masked in every report and in the
//! evidence) and never printed; a script that names an unset variable is a usage error.

use super::authz::AuthzEnd;
use crate::browser::{Chromium, Navigation, Options, Tab};
use crate::http::{Exchange, Http};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use url::Url;

/// Settings of the `browser` driver.
#[derive(Clone, Debug)]
pub struct BrowserLogin {
    pub script: Option<Script>,
    pub headed: bool,
    pub chromium: Option<PathBuf>,
    /// Per step (headless), or for the whole sign-in (headed, without a script).
    pub step_timeout: Duration,
    /// How long to wait for the callback after the script (headed: for the person).
    pub callback_timeout: Duration,
}

/// A value typed into a field.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Literal(String),
    /// Read from this environment variable at run time; never printed.
    Env(String),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Literal(s) => write!(f, "{s:?}"),
            Value::Env(n) => write!(f, "env:{n}"),
        }
    }
}

/// One step of a login script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `goto URL`; `{authorization_url}` is replaced.
    Goto(String),
    Fill(String, Value),
    Select(String, Value),
    Click(String),
    /// `click-if-present SELECTOR`: click when it appears within a few seconds, else go on.
    ClickIfPresent(String),
    WaitSelector(String),
    /// `wait url PATTERN`: `*` matches anything.
    WaitUrl(String),
}

/// A parsed login script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<(usize, Step)>,
}

/// Splits a line into words, honouring single and double quotes.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // `#` starts a comment at the start of a line or as a word of its own (`# …`); a
        // selector such as `#username` is not a comment.
        let comment = c == '#'
            && quote.is_none()
            && !in_word
            && (out.is_empty() || chars.get(i + 1).is_none_or(|n| n.is_whitespace()));
        if comment {
            break;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn value(s: &str) -> Result<Value, String> {
    match s.strip_prefix("env:") {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Ok(Value::Env(n.to_string()))
        }
        Some(n) => Err(format!("{n:?} is not an environment variable name")),
        None => Ok(Value::Literal(s.to_string())),
    }
}

impl Script {
    pub fn parse(text: &str) -> Result<Script, String> {
        let mut steps = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let w = words(line).map_err(|e| format!("line {n}: {e}"))?;
            let Some(cmd) = w.first() else { continue };
            let arity = |k: usize| -> Result<(), String> {
                if w.len() == k + 1 {
                    Ok(())
                } else {
                    Err(format!(
                        "line {n}: `{cmd}` takes {k} argument{} (got {})",
                        if k == 1 { "" } else { "s" },
                        w.len() - 1
                    ))
                }
            };
            let step = match cmd.as_str() {
                "goto" => {
                    arity(1)?;
                    Step::Goto(w[1].clone())
                }
                "fill" => {
                    arity(2)?;
                    Step::Fill(
                        w[1].clone(),
                        value(&w[2]).map_err(|e| format!("line {n}: {e}"))?,
                    )
                }
                "select" => {
                    arity(2)?;
                    Step::Select(
                        w[1].clone(),
                        value(&w[2]).map_err(|e| format!("line {n}: {e}"))?,
                    )
                }
                "click" => {
                    arity(1)?;
                    Step::Click(w[1].clone())
                }
                "click-if-present" => {
                    arity(1)?;
                    Step::ClickIfPresent(w[1].clone())
                }
                "wait" => {
                    arity(2)?;
                    match w[1].as_str() {
                        "selector" => Step::WaitSelector(w[2].clone()),
                        "url" => Step::WaitUrl(w[2].clone()),
                        other => {
                            return Err(format!(
                                "line {n}: `wait {other}`: expected `wait selector SELECTOR` or `wait url PATTERN`"
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "line {n}: unknown step {other:?} (goto, fill, select, click, click-if-present, wait)"
                    ));
                }
            };
            steps.push((n, step));
        }
        if steps.is_empty() {
            return Err("the login script has no steps".into());
        }
        Ok(Script { steps })
    }

    /// Environment variables the script reads.
    pub fn env_vars(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|(_, s)| match s {
                Step::Fill(_, Value::Env(n)) | Step::Select(_, Value::Env(n)) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Checks that every variable the script reads is set (a usage error otherwise).
    pub fn check_env(&self) -> Result<(), String> {
        for n in self.env_vars() {
            if std::env::var_os(n).is_none_or(|v| v.is_empty()) {
                return Err(format!(
                    "the login script reads ${n}, which is not set (secrets come from the environment)"
                ));
            }
        }
        Ok(())
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn resolve(http: &Http, v: &Value) -> Result<String, String> {
    match v {
        Value::Literal(s) => Ok(s.clone()),
        Value::Env(n) => {
            let s = std::env::var(n).map_err(|_| format!("${n} is not set"))?;
            http.secret(&s);
            Ok(s)
        }
    }
}

/// What stopped a sign-in before the callback.
enum Stop {
    Captured,
    Failed(String),
}

/// Waits for `fut` unless the callback is captured first.
async fn or_captured<T>(
    rx: &mut tokio::sync::watch::Receiver<Option<Url>>,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, Stop> {
    if rx.borrow().is_some() {
        return Err(Stop::Captured);
    }
    let done = tokio::select! {
        r = fut => Some(r),
        _ = rx.wait_for(Option::is_some) => None,
    };
    match done {
        // A click that navigated to the callback may finish before the watch is read.
        Some(_) if rx.borrow().is_some() => Err(Stop::Captured),
        Some(r) => r.map_err(Stop::Failed),
        None => Err(Stop::Captured),
    }
}

async fn run_step(
    http: &Http,
    tab: &Tab,
    step: &Step,
    authorize_url: &Url,
    t: Duration,
) -> Result<(), String> {
    match step {
        Step::Goto(u) => {
            let u = u.replace("{authorization_url}", authorize_url.as_str());
            tab.goto(&u, t).await
        }
        Step::Fill(sel, v) => {
            tab.wait_for(sel, t).await?;
            let ty = tab.attribute(sel, "type").await?.unwrap_or_default();
            if ty.eq_ignore_ascii_case("password") && matches!(v, Value::Literal(_)) {
                return Err(format!(
                    "{sel:?} is a password field: give its value as env:NAME, never in the script"
                ));
            }
            let text = resolve(http, v)?;
            tab.fill(sel, &text).await
        }
        Step::Select(sel, v) => {
            tab.wait_for(sel, t).await?;
            let text = resolve(http, v)?;
            let js = format!(
                "(() => {{ const e = document.querySelector({}); e.value = {}; e.dispatchEvent(new Event('change', {{bubbles: true}})); return e.value; }})()",
                serde_json::to_string(sel).unwrap_or_default(),
                serde_json::to_string(&text).unwrap_or_default()
            );
            let got = tab.eval(&js).await?;
            if got.as_str() != Some(text.as_str()) {
                return Err(format!("{sel:?} has no option with that value"));
            }
            Ok(())
        }
        Step::Click(sel) => {
            tab.wait_for(sel, t).await?;
            tab.click(sel).await
        }
        Step::ClickIfPresent(sel) => {
            if tab
                .wait_for(sel, t.min(Duration::from_secs(3)))
                .await
                .is_ok()
            {
                tab.click(sel).await?;
            }
            Ok(())
        }
        Step::WaitSelector(sel) => tab.wait_for(sel, t).await,
        Step::WaitUrl(p) => {
            let deadline = Instant::now() + t;
            loop {
                if let Some(u) = tab.url().await
                    && glob_match(p, &u)
                {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "the page never reached a URL matching {p:?} (at {})",
                        tab.url().await.unwrap_or_default()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Copies the browser's top-level navigations into the run's evidence.
fn record(http: &Http, navs: Vec<Navigation>) -> Vec<usize> {
    navs.into_iter()
        .map(|n| {
            http.record(Exchange {
                seq: 0,
                step: "authorize (browser): navigate".into(),
                method: n.method,
                url: n.url,
                request_headers: n.request_headers,
                request_body: n.request_body,
                status: n.status,
                response_headers: n.response_headers,
                response_body: None,
                error: n.error.or_else(|| {
                    n.status
                        .is_none()
                        .then(|| "stopped inside the browser (callback intercepted)".into())
                }),
                elapsed_ms: n.elapsed_ms,
            })
        })
        .collect()
}

/// Plays the user's part for `authorize_url` in Chromium, stopping at any of `callbacks`.
pub async fn drive(
    http: &Http,
    b: &BrowserLogin,
    authorize_url: &Url,
    callbacks: &[Url],
) -> AuthzEnd {
    let chromium = match Chromium::launch(&Options {
        executable: b.chromium.clone(),
        headed: b.headed,
        ..Options::default()
    })
    .await
    {
        Ok(c) => c,
        Err(e) => return AuthzEnd::Broken(e),
    };
    let end = sign_in(http, &chromium, b, authorize_url, callbacks).await;
    chromium.close().await;
    end
}

/// Tells the person at a headed browser what to do.
fn announce_headed(b: &BrowserLogin) {
    if b.headed {
        eprintln!(
            "\nSign in and approve in the browser window; the harness waits up to {} s for the redirect to the client's callback.",
            b.callback_timeout.as_secs()
        );
    }
}

async fn sign_in(
    http: &Http,
    chromium: &Chromium,
    b: &BrowserLogin,
    authorize_url: &Url,
    callbacks: &[Url],
) -> AuthzEnd {
    let mut tab = match chromium.tab().await {
        Ok(t) => t,
        Err(e) => return AuthzEnd::Broken(e),
    };
    let mut rx = match tab.intercept(callbacks).await {
        Ok(rx) => rx,
        Err(e) => return AuthzEnd::Broken(e),
    };
    let t = b.step_timeout;
    announce_headed(b);
    let mut failure: Option<String> = None;
    let starts_with_goto = b
        .script
        .as_ref()
        .is_some_and(|s| matches!(s.steps.first(), Some((_, Step::Goto(_)))));
    let mut stop = None;
    if !starts_with_goto {
        match or_captured(&mut rx, tab.goto(authorize_url.as_str(), t)).await {
            Ok(()) => {}
            Err(s) => stop = Some(s),
        }
    }
    if stop.is_none()
        && let Some(script) = &b.script
    {
        for (line, step) in &script.steps {
            match or_captured(&mut rx, run_step(http, &tab, step, authorize_url, t)).await {
                Ok(()) => {}
                Err(Stop::Captured) => {
                    stop = Some(Stop::Captured);
                    break;
                }
                Err(Stop::Failed(e)) => {
                    stop = Some(Stop::Failed(format!("login script line {line}: {e}")));
                    break;
                }
            }
        }
    }
    if let Some(Stop::Failed(e)) = stop {
        failure = Some(e);
    }
    let captured = if failure.is_none() {
        tokio::time::timeout(b.callback_timeout, rx.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|v| v.clone()))
    } else {
        rx.borrow().clone()
    };
    if let Some(location) = &captured
        && let Some(code) = crate::urls::single_param(location, "code").ok().flatten()
    {
        http.secret(&code);
    }
    // Let the last navigation events arrive before they become evidence.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let evidence = record(http, tab.navigations());
    match captured {
        Some(location) => AuthzEnd::Callback { location, evidence },
        None => {
            let url = tab.url().await.unwrap_or_default();
            let text = tab.text().await;
            let status = tab.navigations().last().and_then(|n| n.status);
            if let (Some(why), Some(status)) = (&failure, status.filter(|s| *s >= 400)) {
                // The script could not go on because the authorization server answered the
                // authorization request itself with an error document (4xx/5xx): that is the
                // server's answer (e.g. an unregistered redirect_uri refused before sign-in),
                // which the checks grade, not a driver problem.
                return AuthzEnd::Page {
                    status,
                    body: format!(
                        "{why}; the browser shows an error page (HTTP {status}) at {url}:\n{}",
                        http.redactor.text(&text)
                    ),
                    evidence,
                };
            }
            if let Some(why) = failure {
                // The script could not go on: the driver's problem until shown otherwise, so
                // "could not run", with what the browser shows for the person to judge.
                let snippet = snippet(http, &text);
                return AuthzEnd::Broken(format!("{why} (the browser shows {url}: {snippet:?})"));
            }
            let why = format!(
                "no redirect to the client's callback within {} s",
                b.callback_timeout.as_secs()
            );
            if text.trim().is_empty() {
                AuthzEnd::Broken(format!("{why} (page {url})"))
            } else {
                let status = status.unwrap_or(200);
                AuthzEnd::Page {
                    status,
                    body: format!(
                        "{why}; the browser shows {url}:\n{}",
                        http.redactor.text(&text)
                    ),
                    evidence,
                }
            }
        }
    }
}

/// The start of a page's text, redacted, on one line.
fn snippet(http: &Http, text: &str) -> String {
    http.redactor
        .text(text.trim())
        .chars()
        .take(240)
        .collect::<String>()
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_with_quotes_comments_and_env_values() {
        let s = Script::parse(
            "# sign in\ngoto {authorization_url}\nfill #username alice\nfill '#password' env:PW # secret\n\nclick \"button[type=submit]\"\nwait selector 'button[value=approve]'\nselect #workspace acme\nclick-if-present x\nwait url https://idp/*\n",
        )
        .unwrap();
        assert_eq!(
            s.steps.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
            vec![
                Step::Goto("{authorization_url}".into()),
                Step::Fill("#username".into(), Value::Literal("alice".into())),
                Step::Fill("#password".into(), Value::Env("PW".into())),
                Step::Click("button[type=submit]".into()),
                Step::WaitSelector("button[value=approve]".into()),
                Step::Select("#workspace".into(), Value::Literal("acme".into())),
                Step::ClickIfPresent("x".into()),
                Step::WaitUrl("https://idp/*".into()),
            ]
        );
        assert_eq!(s.steps[2].0, 4, "line numbers are kept");
        assert_eq!(s.env_vars(), vec!["PW"]);
    }

    #[test]
    fn bad_scripts_name_the_line() {
        for (text, needle) in [
            ("click", "line 1: `click` takes 1 argument"),
            ("\nfill #a", "line 2"),
            ("hover #a", "unknown step"),
            ("fill #a env:", "not an environment variable"),
            ("wait for #a", "wait selector"),
            ("click 'x", "unterminated quote"),
            ("# nothing\n", "no steps"),
        ] {
            let e = Script::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn unset_variables_are_a_usage_error_that_never_shows_a_value() {
        let s = Script::parse("fill #p env:GIGAMCP_TEST_SURELY_UNSET_VAR").unwrap();
        let e = s.check_env().unwrap_err();
        assert!(e.contains("$GIGAMCP_TEST_SURELY_UNSET_VAR"), "{e}");
    }

    #[test]
    fn debug_output_of_an_env_value_names_the_variable_only() {
        assert_eq!(format!("{:?}", Value::Env("PW".into())), "env:PW");
    }

    #[test]
    fn url_globs() {
        assert!(glob_match("https://a/*", "https://a/b?c"));
        assert!(glob_match("*consent*", "https://a/consent?x"));
        assert!(glob_match("https://a/b", "https://a/b"));
        assert!(!glob_match("https://a/b", "https://a/bc"));
        assert!(!glob_match("https://a/*/z", "https://a/z"));
        assert!(glob_match("https://a/*/z", "https://a/y/z"));
    }
}
