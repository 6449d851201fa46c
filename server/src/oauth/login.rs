//! Signing users in for the authorization flow: password check (argon2id, off the async
//! workers), throttling per account and per client IP, and server-side browser sessions of which
//! only a hash is stored. The HTTP side (cookies, forms) is in `web`.
use super::audit;
use super::context::{Ctx, internal};
use crate::auth::password;
use crate::error::OAuthError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::UserRecord;
use crate::store::audit::AuditEntry;
use std::sync::OnceLock;

pub const SESSION_PREFIX: &str = "gmcp_ss_";
/// Long enough that ChatGPT's frequent re-authorizations (quirk Q27) stay silent.
pub const SESSION_TTL: i64 = 7 * 24 * 3600;
/// Throttling window and limits: failures per account, and per client address (higher, since
/// many users may share one address behind a proxy).
pub const THROTTLE_WINDOW: i64 = 15 * 60;
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in; `session` is the new session id (goes into the cookie, never stored).
    SignedIn { user: UserRecord, session: String },
    /// Unknown user or wrong password; the caller shows one generic message for both.
    Failed,
    /// Too many recent failures for this account or address.
    Throttled,
}

/// A fixed argon2id hash to verify against when the user does not exist, so both failures cost
/// the same time.
async fn dummy_hash() -> Result<String, OAuthError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = password::hash_password("gigamcp-no-such-user".into())
        .await
        .map_err(internal)?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

fn subjects(ctx: &Ctx<'_>, username: &str) -> (String, Option<String>) {
    (
        format!("user:{}", username.to_ascii_lowercase()),
        ctx.ip.as_ref().map(|ip| format!("ip:{ip}")),
    )
}

pub async fn login(
    ctx: &Ctx<'_>,
    username: &str,
    password: &str,
) -> Result<LoginOutcome, OAuthError> {
    let username = username.trim();
    let (user_subject, ip_subject) = subjects(ctx, username);
    let since = ctx.now - THROTTLE_WINDOW;
    let account_failures = ctx
        .store
        .login_failures_since(&user_subject, since)
        .await
        .map_err(internal)?;
    let ip_failures = match &ip_subject {
        Some(s) => ctx
            .store
            .login_failures_since(s, since)
            .await
            .map_err(internal)?,
        None => 0,
    };
    if account_failures >= MAX_FAILURES_PER_ACCOUNT || ip_failures >= MAX_FAILURES_PER_IP {
        audit::record(
            ctx,
            AuditEntry {
                username: Some(username.into()),
                ..AuditEntry::new("login_throttled", "too many failed sign-ins")
            },
        )
        .await;
        return Ok(LoginOutcome::Throttled);
    }
    let user = if crate::names::valid_username(username) {
        ctx.store
            .user_by_username(username)
            .await
            .map_err(internal)?
    } else {
        None
    };
    let stored = match &user {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash().await?,
    };
    let ok = password::verify_password(password.to_string(), stored).await && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        ctx.store
            .record_login_failure(&user_subject, ctx.now)
            .await
            .map_err(internal)?;
        if let Some(s) = &ip_subject {
            ctx.store
                .record_login_failure(s, ctx.now)
                .await
                .map_err(internal)?;
        }
        audit::record(
            ctx,
            AuditEntry {
                username: Some(username.into()),
                ..AuditEntry::new("login_failed", "wrong username or password")
            },
        )
        .await;
        return Ok(LoginOutcome::Failed);
    };
    ctx.store
        .clear_login_failures(&user_subject)
        .await
        .map_err(internal)?;
    let session = new_secret(SESSION_PREFIX);
    ctx.store
        .create_session(&hash_secret(&session), &user.id, ctx.now, SESSION_TTL)
        .await
        .map_err(internal)?;
    audit::record(
        ctx,
        AuditEntry {
            user_id: Some(user.id.clone()),
            username: Some(user.username.clone()),
            ..AuditEntry::new("login", "signed in")
        },
    )
    .await;
    Ok(LoginOutcome::SignedIn { user, session })
}

/// The signed-in user of a session cookie value.
pub async fn session_user(ctx: &Ctx<'_>, session: &str) -> Result<Option<UserRecord>, OAuthError> {
    if !session.starts_with(SESSION_PREFIX) {
        return Ok(None);
    }
    ctx.store
        .session_user(&hash_secret(session), ctx.now)
        .await
        .map_err(internal)
}

pub async fn logout(ctx: &Ctx<'_>, session: &str) -> Result<(), OAuthError> {
    ctx.store
        .delete_session(&hash_secret(session))
        .await
        .map_err(internal)
}

/// The CSRF token of a session: derived from the session id, so nothing extra is stored and a
/// token is useless without the cookie it belongs to.
pub fn csrf_for_session(session: &str) -> String {
    hash_secret(&format!("csrf\0{session}"))
}
