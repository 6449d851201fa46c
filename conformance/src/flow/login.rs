//! Login drivers: how the user's part of an authorization request is played.
//!
//! `form` walks real HTML (login form, then consent form) with a cookie-keeping client, follows
//! redirects inside the authorization server, and stops at the first redirect to a client
//! callback without following it. `command` hands the URL to an external program (for third-
//! party IdPs, e.g. a headless-browser script). `manual` asks the person at the terminal.

pub use super::authz::AuthzEnd;
use crate::config::Login;
use crate::form;
use crate::http::{Http, Req};
use crate::urls;
use std::io::Write;
use url::Url;

const MAX_STEPS: usize = 12;

/// Plays the user's part for `authorize_url`, stopping at any of `callbacks`.
pub async fn drive(http: &Http, login: &Login, authorize_url: &Url, callbacks: &[Url]) -> AuthzEnd {
    match login {
        Login::Form { username, password } => {
            form_driver(http, authorize_url, callbacks, username, password).await
        }
        Login::Command(cmd) => command_driver(cmd, authorize_url, callbacks).await,
        Login::Manual => manual_driver(authorize_url, callbacks).await,
        Login::Browser(b) => super::browser::drive(http, b, authorize_url, callbacks).await,
        Login::None => AuthzEnd::Broken(
            "no login driver configured (use --login form|browser|command|manual)".into(),
        ),
    }
}

async fn form_driver(
    http: &Http,
    start: &Url,
    callbacks: &[Url],
    username: &str,
    password: &str,
) -> AuthzEnd {
    let mut evidence = Vec::new();
    let mut req = Req::get("authorize: open authorization URL", start.as_str()).browser();
    let mut current = start.clone();
    let mut submitted_login = 0;
    let mut submitted_consent = 0;
    for _ in 0..MAX_STEPS {
        let r = match http.send(req.clone()).await {
            Ok(r) => r,
            Err(e) => return AuthzEnd::Broken(format!("authorization request failed: {e}")),
        };
        evidence.push(r.id);
        if r.is_redirect() {
            let loc = r.header("location").unwrap_or_default();
            let Ok(next) = current.join(loc) else {
                return AuthzEnd::Broken(format!("unparseable Location {loc:?}"));
            };
            if callbacks.iter().any(|cb| urls::is_callback(&next, cb)) {
                if let Some(code) = urls::single_param(&next, "code").ok().flatten() {
                    http.secret(&code);
                }
                return AuthzEnd::Callback {
                    location: next,
                    evidence,
                };
            }
            if next.scheme() != "http" && next.scheme() != "https" {
                return AuthzEnd::Broken(format!("redirect to a non-HTTP URL {next}"));
            }
            current = next.clone();
            req = Req::get("authorize: follow redirect", next.as_str()).browser();
            continue;
        }
        if r.status != 200 {
            return AuthzEnd::Page {
                status: r.status,
                body: r.body,
                evidence,
            };
        }
        let forms = form::forms(&r.body, &current);
        let Some(f) = form::pick(&forms) else {
            return AuthzEnd::Page {
                status: r.status,
                body: r.body,
                evidence,
            };
        };
        let (fields, step) = match f.kind {
            form::FormKind::Login => {
                submitted_login += 1;
                if submitted_login > 2 {
                    return AuthzEnd::Broken(
                        "the login form came back twice: wrong username or password?".into(),
                    );
                }
                (
                    f.login_fields(username, password),
                    "authorize: submit login form",
                )
            }
            _ => {
                submitted_consent += 1;
                if submitted_consent > 2 {
                    return AuthzEnd::Broken("the consent form came back twice".into());
                }
                match f.decision_fields(true) {
                    Some(fields) => (fields, "authorize: approve consent"),
                    None => {
                        return AuthzEnd::Broken("consent form without an approve button".into());
                    }
                }
            }
        };
        for (k, v) in &fields {
            // CSRF tokens and request handles are secrets; URLs and scopes in hidden fields
            // (resource, redirect_uri) are evidence and must stay readable.
            if looks_secret(k) && url::Url::parse(v).is_err() {
                http.secret(v);
            }
        }
        let action = f.action.clone();
        req = if f.method == "POST" {
            Req::post(step, action.as_str()).form(fields).browser()
        } else {
            let mut u = action.clone();
            u.query_pairs_mut().clear().extend_pairs(fields.iter());
            Req::get(step, u.as_str()).browser()
        };
        current = action;
    }
    AuthzEnd::Broken(format!(
        "gave up after {MAX_STEPS} steps without reaching the callback"
    ))
}

/// Field names whose values are credentials or one-time handles.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "csrf", "xsrf", "token", "nonce", "secret", "password", "session", "request", "code",
        "handle", "ticket",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn parse_callback(text: &str, callbacks: &[Url]) -> AuthzEnd {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    match Url::parse(line) {
        Ok(u) if callbacks.iter().any(|cb| urls::is_callback(&u, cb)) => AuthzEnd::Callback {
            location: u,
            evidence: vec![],
        },
        Ok(u) => AuthzEnd::Broken(format!("{u} is not one of the callbacks {callbacks:?}")),
        Err(_) => AuthzEnd::Broken(format!("expected the callback URL, got {line:?}")),
    }
}

async fn command_driver(cmd: &str, url: &Url, callbacks: &[Url]) -> AuthzEnd {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c").arg(cmd).arg("gigamcp-login").arg(url.as_str());
    c.env("GIGAMCP_AUTHORIZATION_URL", url.as_str());
    if let Some(cb) = callbacks.first() {
        c.env("GIGAMCP_REDIRECT_URI", cb.as_str());
    }
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => return AuthzEnd::Broken(format!("could not start login command: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(format!("{url}\n").as_bytes()).await;
    }
    match tokio::time::timeout(
        std::time::Duration::from_secs(300),
        child.wait_with_output(),
    )
    .await
    {
        Err(_) => AuthzEnd::Broken("login command timed out after 300 s".into()),
        Ok(Err(e)) => AuthzEnd::Broken(format!("login command failed: {e}")),
        Ok(Ok(out)) if !out.status.success() => {
            AuthzEnd::Broken(format!("login command exited with {}", out.status))
        }
        Ok(Ok(out)) => parse_callback(&String::from_utf8_lossy(&out.stdout), callbacks),
    }
}

async fn manual_driver(url: &Url, callbacks: &[Url]) -> AuthzEnd {
    let url = url.clone();
    let callbacks = callbacks.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr();
        let _ = writeln!(err, "\nOpen this URL in a browser, log in and approve:\n\n  {url}\n\nThe browser will then fail to load the client's callback ({}). Paste that URL here and press Enter:", callbacks.first().map(Url::as_str).unwrap_or("?"));
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => AuthzEnd::Broken("no callback URL on stdin".into()),
            Ok(_) => parse_callback(&line, &callbacks),
        }
    })
    .await
    .unwrap_or_else(|e| AuthzEnd::Broken(format!("manual login: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_parsing_takes_the_last_line() {
        let cb = [Url::parse("https://chatgpt.com/connector_platform_oauth_redirect").unwrap()];
        match parse_callback(
            "opening browser…\nhttps://chatgpt.com/connector_platform_oauth_redirect?code=abc&state=s\n\n",
            &cb,
        ) {
            AuthzEnd::Callback { location, .. } => {
                assert_eq!(location.query(), Some("code=abc&state=s"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_callback("https://evil.example/cb?code=x", &cb),
            AuthzEnd::Broken(_)
        ));
        assert!(matches!(parse_callback("", &cb), AuthzEnd::Broken(_)));
    }

    #[tokio::test]
    async fn command_driver_passes_the_url_and_reads_stdout() {
        let cb = [Url::parse("http://127.0.0.1:8976/callback").unwrap()];
        let url = Url::parse("https://as.example/authorize?state=xyz").unwrap();
        let end = command_driver("echo \"$GIGAMCP_REDIRECT_URI?code=c1&from=$1\"", &url, &cb).await;
        match end {
            AuthzEnd::Callback { location, .. } => {
                assert!(
                    location.as_str().starts_with(
                        "http://127.0.0.1:8976/callback?code=c1&from=https://as.example/authorize"
                    ),
                    "{location}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(command_driver("exit 3", &url, &cb).await, AuthzEnd::Broken(m) if m.contains("exit"))
        );
    }
}
