//! HTML pages: sign-in, the authorization endpoint's consent screen, Connected apps, the
//! workspace dashboard and wiki view, the audit log and the docs.
//!
//! Pages are askama templates rendered to a `String` and sent with a strict per-response
//! Content-Security-Policy (a fresh nonce for the one inline style sheet and script), `no-store`,
//! and `frame-ancestors 'none'`. Every form carries a CSRF token: derived from the session for
//! signed-in users, double-submitted against a pre-session cookie on the sign-in form.
pub mod apps;
pub mod authorize;
pub mod docs;
pub mod login;
pub mod markdown;
pub mod routes;
pub mod templates;
pub mod workspace;

use crate::error::{AppResult, PageError};
use crate::oauth::{Ctx, login as session_flow};
use crate::secrets::{ct_eq, random_token};
use crate::state::AppState;
use crate::store::UserRecord;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

// ---- cookies ----

/// The device cookie (`oauth::login::DEVICE_PREFIX`): `__Host-` on https like the session's.
pub fn device_cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-gigamcp_device"
    } else {
        "gigamcp_device"
    }
}

pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-gigamcp_session"
    } else {
        "gigamcp_session"
    }
}

pub fn login_cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-gigamcp_login"
    } else {
        "gigamcp_login"
    }
}

/// A `Set-Cookie` value: host-only, whole site, HttpOnly, SameSite=Lax, Secure on https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

// ---- sessions ----

/// A signed-in browser.
pub struct Session {
    pub user: UserRecord,
    pub id: String,
    pub csrf: String,
}

pub async fn current_session(state: &AppState, headers: &HeaderMap) -> AppResult<Option<Session>> {
    let Some(id) = cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    let ctx = Ctx::new(state, None);
    Ok(session_flow::session_user(&ctx, id)
        .await?
        .map(|user| Session {
            user,
            id: id.to_string(),
            csrf: session_flow::csrf_for_session(id),
        }))
}

impl Session {
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|s| ct_eq(s, &self.csrf))
    }

    pub fn viewer(&self) -> templates::Viewer {
        templates::Viewer {
            username: Some(self.user.username.clone()),
            csrf: self.csrf.clone(),
        }
    }
}

pub fn anonymous() -> templates::Viewer {
    templates::Viewer {
        username: None,
        csrf: String::new(),
    }
}

pub fn viewer_of(session: &Option<Session>) -> templates::Viewer {
    session
        .as_ref()
        .map(Session::viewer)
        .unwrap_or_else(anonymous)
}

// ---- responses ----

/// A fresh nonce for one page's inline style sheet and script.
pub fn nonce() -> String {
    random_token(16)
}

/// An HTML page with the security headers every page gets.
pub fn html(status: StatusCode, body: String, nonce: &str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self' data:; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// Renders a template (a render failure is an internal error, logged by `error.rs`).
pub fn render<T: askama::Template>(
    status: StatusCode,
    page: &T,
    nonce: &str,
) -> AppResult<Response> {
    let body = page
        .render()
        .map_err(|e| anyhow::anyhow!("rendering template: {e}"))?;
    Ok(html(status, body, nonce))
}

/// A simple message page (errors, not-a-member, throttling …).
pub fn message(
    status: StatusCode,
    viewer: templates::Viewer,
    title: &str,
    text: &str,
    links: Vec<(String, String)>,
) -> AppResult<Response> {
    let n = nonce();
    render(
        status,
        &templates::MessagePage {
            nonce: n.clone(),
            viewer,
            title: title.into(),
            text: text.into(),
            links,
        },
        &n,
    )
}

/// The one way a page refuses a request: an HTML message page whose status `error.rs` maps from
/// the [`PageError`] (pages are HTML even when they fail; API paths never are).
pub fn error_page(
    why: PageError,
    viewer: templates::Viewer,
    title: &str,
    text: &str,
    links: Vec<(String, String)>,
) -> AppResult<Response> {
    message(why.status(), viewer, title, text, links)
}

/// An error page that says when to come back (`Retry-After`, RFC 6585 §4, RFC 9110 §10.2.3):
/// for [`PageError::Throttled`] (429) and [`PageError::Busy`] (503).
pub fn error_page_retry_after(
    why: PageError,
    retry_after: i64,
    viewer: templates::Viewer,
    title: &str,
    text: &str,
) -> AppResult<Response> {
    let mut resp = error_page(why, viewer, title, text, vec![])?;
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    Ok(resp)
}

/// 303 See Other to a path on this site.
pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Longest accepted post-login destination.
pub const MAX_NEXT: usize = 16 * 1024;

/// The post-login destination: a path on this site, or `/`. `next` is resolved with a URL parser
/// against the public origin and accepted only when it stays on that origin as an absolute path;
/// control characters, whitespace and backslashes (raw or percent-encoded once) are refused, since
/// browsers strip or reinterpret them (`/\t/evil.example` is `//evil.example` to a browser).
/// What is returned is the parser's serialisation of path and query, never the raw input.
pub fn safe_next(public_url: &str, next: Option<&str>) -> String {
    let fallback = || "/".to_string();
    let Some(n) = next else { return fallback() };
    let bad_char = |c: char| c.is_control() || c.is_whitespace() || c == '\\';
    let decoded = percent_encoding::percent_decode_str(n).decode_utf8_lossy();
    if n.len() > MAX_NEXT
        || !n.starts_with('/')
        || n.starts_with("//")
        || n.chars().any(bad_char)
        || decoded.chars().any(bad_char)
        || decoded.starts_with("//")
    {
        return fallback();
    }
    let Ok(base) = url::Url::parse(public_url) else {
        return fallback();
    };
    let Ok(joined) = base.join(n) else {
        return fallback();
    };
    if joined.origin() != base.origin() || !joined.username().is_empty() {
        return fallback();
    }
    let mut out = joined.path().to_string();
    if out.starts_with("//") {
        return fallback();
    }
    if let Some(q) = joined.query() {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `/login?next=…` for a local path.
pub fn login_url(next: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/login?next={enc}")
}

/// UTC date and time for pages (`2026-03-01 14:05 UTC`).
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_790_000_000), "2026-09-21 14:13 UTC");
        let o = "https://mcp.example.com";
        assert_eq!(safe_next(o, Some("/t/acme")), "/t/acme");
        assert_eq!(safe_next(o, Some("//evil.example")), "/");
        assert_eq!(safe_next(o, Some("https://evil.example")), "/");
        assert_eq!(safe_next(o, None), "/");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gigamcp_session=xyz"),
        );
        assert_eq!(cookie(&h, "gigamcp_session"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
