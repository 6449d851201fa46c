//! HTML form detection for the generic `form` login driver.
//!
//! Reads real login and consent pages: finds the form to submit, keeps every hidden input
//! (CSRF tokens, request ids), fills username/password, and picks the approving submit button.
//! Nothing here is specific to one server.

use scraper::{ElementRef, Html, Selector};
use url::Url;

/// What kind of page a form belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormKind {
    Login,
    Consent,
    Other,
}

/// A form ready to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub method: String,
    pub action: Url,
    /// Successful controls in document order (name, value), submit button excluded.
    pub fields: Vec<(String, String)>,
    pub username_field: Option<String>,
    pub password_field: Option<String>,
    /// Submit buttons (name, value, label).
    pub buttons: Vec<(Option<String>, Option<String>, String)>,
}

const APPROVE: &[&str] = &[
    "approve",
    "allow",
    "accept",
    "authorize",
    "authorise",
    "yes",
    "grant",
    "consent",
    "continue",
    "confirm",
    "ok",
];
const DENY: &[&str] = &["deny", "reject", "cancel", "decline", "no", "refuse"];

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

fn words(s: &str) -> Vec<String> {
    s.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn matches_any(s: &str, list: &[&str]) -> bool {
    words(s).iter().any(|w| list.contains(&w.as_str()))
}

/// Finds all forms in a page, resolving actions against `page_url`.
pub fn forms(html: &str, page_url: &Url) -> Vec<Form> {
    let doc = Html::parse_document(html);
    let base = doc
        .select(&sel("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h).ok())
        .unwrap_or_else(|| page_url.clone());
    doc.select(&sel("form"))
        .filter_map(|f| read_form(f, &base, page_url))
        .collect()
}

fn read_form(f: ElementRef<'_>, base: &Url, page_url: &Url) -> Option<Form> {
    let action = match f.value().attr("action").map(str::trim) {
        None | Some("") => page_url.clone(),
        Some(a) => base.join(a).ok()?,
    };
    let method = f
        .value()
        .attr("method")
        .unwrap_or("get")
        .trim()
        .to_ascii_uppercase();
    let method = if method == "POST" {
        "POST".to_string()
    } else {
        "GET".to_string()
    };
    let mut c = Controls::default();
    for el in f.select(&sel("input, select, textarea, button")) {
        c.read(el);
    }
    if c.password_field.is_some() && c.username_field.is_none() {
        c.username_field = c.text_candidates.into_iter().next();
    }
    let kind = if c.password_field.is_some() {
        FormKind::Login
    } else if c.buttons.iter().any(|(n, v, l)| {
        matches_any(
            &format!(
                "{} {} {}",
                n.as_deref().unwrap_or(""),
                v.as_deref().unwrap_or(""),
                l
            ),
            APPROVE,
        )
    }) {
        FormKind::Consent
    } else {
        FormKind::Other
    };
    Some(Form {
        kind,
        method,
        action,
        fields: c.fields,
        username_field: c.username_field,
        password_field: c.password_field,
        buttons: c.buttons,
    })
}

/// What a form's controls contribute, in document order.
#[derive(Default)]
struct Controls {
    fields: Vec<(String, String)>,
    buttons: Vec<(Option<String>, Option<String>, String)>,
    username_field: Option<String>,
    password_field: Option<String>,
    text_candidates: Vec<String>,
}

impl Controls {
    /// One `input`, `select`, `textarea` or `button` (disabled controls are not successful).
    fn read(&mut self, el: ElementRef<'_>) {
        let v = el.value();
        let name = v.attr("name").map(str::to_string);
        if v.attr("disabled").is_some() {
            return;
        }
        match v.name() {
            "input" => self.input(el, name),
            "button" => {
                let ty = v.attr("type").unwrap_or("submit").to_ascii_lowercase();
                if ty == "submit" {
                    let label: String = el.text().collect::<String>().trim().to_string();
                    self.buttons
                        .push((name, v.attr("value").map(str::to_string), label));
                }
            }
            "select" => {
                if let Some(n) = name {
                    let opt = el
                        .select(&sel("option[selected]"))
                        .next()
                        .or_else(|| el.select(&sel("option")).next());
                    if let Some(o) = opt {
                        let val = o
                            .value()
                            .attr("value")
                            .map(str::to_string)
                            .unwrap_or_else(|| o.text().collect::<String>().trim().to_string());
                        self.fields.push((n, val));
                    }
                }
            }
            "textarea" => {
                if let Some(n) = name {
                    self.fields.push((n, el.text().collect()));
                }
            }
            _ => {}
        }
    }

    fn input(&mut self, el: ElementRef<'_>, name: Option<String>) {
        let v = el.value();
        let ty = v.attr("type").unwrap_or("text").to_ascii_lowercase();
        match ty.as_str() {
            "submit" | "image" => self.buttons.push((
                name,
                v.attr("value").map(str::to_string),
                v.attr("value").unwrap_or("").to_string(),
            )),
            "button" | "reset" | "file" => {}
            "checkbox" | "radio" => {
                if let Some(n) = name
                    && v.attr("checked").is_some()
                {
                    self.fields
                        .push((n, v.attr("value").unwrap_or("on").to_string()));
                }
            }
            "password" => {
                if let Some(n) = name {
                    if self.password_field.is_none() {
                        self.password_field = Some(n.clone());
                    }
                    self.fields
                        .push((n, v.attr("value").unwrap_or("").to_string()));
                }
            }
            _ => {
                if let Some(n) = name {
                    if matches!(ty.as_str(), "text" | "email" | "tel" | "") {
                        self.text_input(el, &n, &ty);
                    }
                    self.fields
                        .push((n, v.attr("value").unwrap_or("").to_string()));
                }
            }
        }
    }

    /// A text-like input: a username candidate, the username field if its name, id or
    /// autocomplete says so (or it is an e-mail input).
    fn text_input(&mut self, el: ElementRef<'_>, n: &str, ty: &str) {
        let v = el.value();
        self.text_candidates.push(n.to_string());
        let hint = format!(
            "{} {} {}",
            n,
            v.attr("id").unwrap_or(""),
            v.attr("autocomplete").unwrap_or("")
        );
        if self.username_field.is_none()
            && (matches_any(
                &hint,
                &[
                    "username",
                    "user",
                    "email",
                    "login",
                    "name",
                    "uid",
                    "identifier",
                ],
            ) || ty == "email")
        {
            self.username_field = Some(n.to_string());
        }
    }
}

impl Form {
    /// Fields for a login submission.
    pub fn login_fields(&self, username: &str, password: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .fields
            .iter()
            .map(|(k, v)| {
                if Some(k) == self.username_field.as_ref() {
                    (k.clone(), username.to_string())
                } else if Some(k) == self.password_field.as_ref() {
                    (k.clone(), password.to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        if let Some((Some(n), Some(v), _)) = self.buttons.first() {
            out.push((n.clone(), v.clone()));
        }
        out
    }

    /// Fields for approving (or denying) consent: hidden inputs plus the chosen button.
    pub fn decision_fields(&self, approve: bool) -> Option<Vec<(String, String)>> {
        let wanted = if approve { APPROVE } else { DENY };
        let avoid = if approve { DENY } else { APPROVE };
        let btn = self.buttons.iter().find(|(n, v, l)| {
            let text = format!("{} {}", v.as_deref().unwrap_or(""), l);
            matches_any(&text, wanted) && !matches_any(&text, avoid)
                || (text.trim().is_empty() && matches_any(n.as_deref().unwrap_or(""), wanted))
        })?;
        let mut out = self.fields.clone();
        if let (Some(n), Some(v)) = (&btn.0, &btn.1) {
            out.push((n.clone(), v.clone()));
        }
        Some(out)
    }
}

/// Picks the form to act on: a login form first, else a consent form.
pub fn pick(forms: &[Form]) -> Option<&Form> {
    forms
        .iter()
        .find(|f| f.kind == FormKind::Login)
        .or_else(|| forms.iter().find(|f| f.kind == FormKind::Consent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://app.example.io/api/oauth/server/authorize?client_id=x").unwrap()
    }

    #[test]
    fn login_form_with_csrf_and_labels() {
        let html = r#"<!doctype html><html><body>
          <form method="post" action="/login">
            <input type="hidden" name="csrf_token" value="tok-123">
            <input type="hidden" name="return_to" value="/api/oauth/server/authorize?client_id=x&amp;state=s">
            <label>Username <input name="username" autocomplete="username"></label>
            <label>Password <input type="password" name="password"></label>
            <input type="checkbox" name="remember" value="1">
            <button type="submit">Sign in</button>
          </form></body></html>"#;
        let fs = forms(html, &page());
        let f = pick(&fs).unwrap();
        assert_eq!(f.kind, FormKind::Login);
        assert_eq!(f.method, "POST");
        assert_eq!(f.action.as_str(), "https://app.example.io/login");
        let fields = f.login_fields("alice", "pw");
        assert_eq!(
            fields,
            vec![
                ("csrf_token".into(), "tok-123".into()),
                (
                    "return_to".into(),
                    "/api/oauth/server/authorize?client_id=x&state=s".into()
                ),
                ("username".into(), "alice".into()),
                ("password".into(), "pw".into())
            ]
        );
    }

    #[test]
    fn consent_form_picks_approve_not_deny() {
        let html = r#"<form method="POST"><input type="hidden" name="request_id" value="r1">
            <input type="checkbox" name="scope" value="mcp:read" checked>
            <button name="decision" value="deny">Deny</button>
            <button name="decision" value="approve">Allow access</button></form>"#;
        let fs = forms(html, &page());
        let f = pick(&fs).unwrap();
        assert_eq!(f.kind, FormKind::Consent);
        assert_eq!(f.action, page(), "empty action submits to the page URL");
        let approve = f.decision_fields(true).unwrap();
        assert!(approve.contains(&("decision".into(), "approve".into())));
        assert!(approve.contains(&("scope".into(), "mcp:read".into())));
        assert!(!approve.contains(&("decision".into(), "deny".into())));
        let deny = f.decision_fields(false).unwrap();
        assert!(deny.contains(&("decision".into(), "deny".into())));
    }

    #[test]
    fn input_submit_buttons_and_email_login() {
        let html = r#"<form action="https://idp.example/session" method="post">
            <input type="email" name="identifier"><input type="password" name="secret">
            <input type="submit" name="action" value="Log in"></form>
            <form action="/search"><input name="q"><input type="submit" value="Search"></form>"#;
        let fs = forms(html, &page());
        assert_eq!(fs.len(), 2);
        let f = pick(&fs).unwrap();
        assert_eq!(f.username_field.as_deref(), Some("identifier"));
        assert_eq!(f.password_field.as_deref(), Some("secret"));
        assert!(
            f.login_fields("a", "b")
                .contains(&("action".into(), "Log in".into()))
        );
        assert_eq!(fs[1].kind, FormKind::Other);
        assert_eq!(fs[1].method, "GET");
    }

    #[test]
    fn malformed_html_and_no_forms() {
        assert!(forms("", &page()).is_empty());
        assert!(forms("<html><body><p>Error: invalid_request</p>", &page()).is_empty());
        // Unclosed tags: html5ever recovers the form anyway.
        let fs = forms(
            r#"<form method=post action=/login><input type=hidden name=csrf value=a><input name=user><input type=password name=pw><button>Go"#,
            &page(),
        );
        assert_eq!(pick(&fs).unwrap().kind, FormKind::Login);
        // Consent form without a recognisable approve button is not a consent form.
        let fs = forms(
            r#"<form method=post><button name=x value=y>Frobnicate</button></form>"#,
            &page(),
        );
        assert!(pick(&fs).is_none());
    }

    #[test]
    fn base_href_and_select_and_disabled() {
        let html = r#"<base href="https://app.example.io/auth/"><form action="consent" method="post">
            <select name="workspace"><option value="acme">Acme</option><option value="globex" selected>Globex</option></select>
            <input name="ignored" disabled value="x"><button value="approve" name="decision">Approve</button></form>"#;
        let fs = forms(html, &page());
        let f = pick(&fs).unwrap();
        assert_eq!(f.action.as_str(), "https://app.example.io/auth/consent");
        assert!(f.fields.contains(&("workspace".into(), "globex".into())));
        assert!(!f.fields.iter().any(|(k, _)| k == "ignored"));
    }
}
