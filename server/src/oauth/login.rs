//! Signing users in for the authorization flow: password check (argon2id, off the async
//! workers, through a bounded queue), throttling, and server-side browser sessions of which only
//! a hash is stored. The HTTP side (cookies, forms) is in `web`.
//!
//! Throttling is counted in the database (`store::counters`), so it holds across replicas: an
//! attempt reserves a hit on its address, its (account, address) pair and its account *before*
//! the password is checked, in one transaction, and hands them back when the password was right.
//! The address and the pair have hard limits (429 with `Retry-After`); the account has none, it
//! slows down instead ([`account_delay`]), so strangers cannot lock its owner out.
use super::audit;
use super::context::{Ctx, internal};
use crate::auth::password;
use crate::error::OAuthError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::UserRecord;
use crate::store::audit::AuditEntry;
use crate::store::counters::Reservation;

pub const SESSION_PREFIX: &str = "gmcp_ss_";
/// Long enough that ChatGPT's frequent re-authorizations (quirk Q27) stay silent.
pub const SESSION_TTL: i64 = 7 * 24 * 3600;
/// Device cookies: given to a browser at a successful sign-in, they let its next sign-ins to the
/// same account verify in a lane of their own (`auth::password`). Stored as SHA-256.
pub const DEVICE_PREFIX: &str = "gmcp_dv_";
/// How long a browser stays known without signing in again.
pub const DEVICE_TTL: i64 = 90 * 24 * 3600;
/// Throttling window: each counter's window starts with its first failure.
pub const THROTTLE_WINDOW: i64 = 15 * 60;
/// Hard limit of failures per (account, client address): a stranger's guesses never lock the
/// owner out from their own address.
pub const MAX_FAILURES_PER_PAIR: i64 = 5;
/// Hard limit of failures per client address, whatever the accounts (many users may share one
/// address behind a proxy).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Account-wide failures (from every address) before attempts on the account are slowed down.
pub const ACCOUNT_FREE_FAILURES: i64 = 5;
/// The longest account-wide delay, in seconds: failures slow an account down, never lock it.
pub const MAX_ACCOUNT_DELAY: u64 = 16;
/// Seconds a client is asked to wait when the password-verification queue is full.
pub const BUSY_RETRY_AFTER: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in; `session` is the new session id (goes into the cookie, never stored);
    /// `device` a new device cookie, unless the browser presented a live one of this account.
    SignedIn {
        user: UserRecord,
        session: String,
        device: Option<String>,
    },
    /// Unknown user or wrong password; the caller shows one generic message for both.
    Failed,
    /// Too many recent failures for this account from this address, or from this address.
    Throttled { retry_after: i64 },
    /// The password-verification queue is full (HTTP 503).
    Busy { retry_after: i64 },
}

/// A fixed argon2id hash at the default parameters (of a password nobody is given) to verify
/// against when the user does not exist, so both failures cost the same time. A constant, not
/// made at the first unknown name: a flood of unknown names arriving before it existed each
/// made one, outside the verification queue's bound.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$+LcUW5HB5axl9tudoSZgyA$poBhGbSvjfCtd3J5yjWnA+awITFH8LzH12t80nsdaO4";

/// The rate-counter subjects of a sign-in attempt.
pub struct Subjects {
    pub address: String,
    /// `None` when the name cannot be a user name (only the address is counted then).
    pub pair: Option<String>,
    pub account: Option<String>,
}

impl Subjects {
    pub fn new(username: &str, ip: Option<&str>) -> Self {
        let address = ip.unwrap_or("unknown");
        let user = crate::names::valid_username(username).then(|| username.to_ascii_lowercase());
        Self {
            address: format!("login:ip:{address}"),
            pair: user.as_ref().map(|u| format!("login:pair:{u}|{address}")),
            account: user.map(|u| format!("login:user:{u}")),
        }
    }
}

/// The account-wide delay before the `hits`-th attempt of the window is verified: none for the
/// first [`ACCOUNT_FREE_FAILURES`], then 1, 2, 4 … seconds, at most [`MAX_ACCOUNT_DELAY`].
pub fn account_delay(hits: i64) -> std::time::Duration {
    let over = hits - ACCOUNT_FREE_FAILURES;
    if over <= 0 {
        return std::time::Duration::ZERO;
    }
    let secs = 1u64
        .checked_shl((over - 1).min(16) as u32)
        .unwrap_or(u64::MAX)
        .min(MAX_ACCOUNT_DELAY);
    std::time::Duration::from_secs(secs)
}

/// Records a refused attempt in the audit log, aggregated: the 1st, 10th, 100th … refusal of a
/// subject's window write one row each, so a flood of refused attempts costs a handful of rows.
async fn record_throttled(ctx: &Ctx<'_>, username: &str, subject: &str, refused: i64) {
    let mut n = refused;
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    if n != 1 {
        return;
    }
    let what = if subject.starts_with("login:ip:") {
        "this address"
    } else {
        "this account from this address"
    };
    audit::record(
        ctx,
        AuditEntry {
            username: Some(username.into()),
            ..AuditEntry::new(
                "login_throttled",
                format!("{refused} sign-in attempt(s) refused in this window: too many failures for {what}"),
            )
        },
    )
    .await;
}

/// Checks a sign-in. `device` is the browser's device cookie, if it sent one.
pub async fn login(
    ctx: &Ctx<'_>,
    username: &str,
    password: &str,
    device: Option<&str>,
) -> Result<LoginOutcome, OAuthError> {
    let username = username.trim();
    let shown = crate::limits::clip(username, crate::limits::MAX_USERNAME);
    let subjects = Subjects::new(username, ctx.ip.as_deref());
    // One sign-in per client address at a time (per process): a flood from one address takes
    // one verification slot, not all of them. Answered like a throttle, before anything is
    // counted or reserved.
    let _in_flight = match ctx.ip.as_deref() {
        Some(ip) => match ctx.oauth.logins.enter(ip) {
            Some(guard) => Some(guard),
            None => {
                return Ok(LoginOutcome::Throttled {
                    retry_after: BUSY_RETRY_AFTER,
                });
            }
        },
        None => None,
    };
    let user = if subjects.account.is_some() {
        ctx.store
            .user_by_username(username)
            .await
            .map_err(internal)?
    } else {
        None
    };
    // Looked up whenever one is sent, whether or not the user exists: the same work either way.
    let known_to = match device.filter(|d| d.starts_with(DEVICE_PREFIX)) {
        Some(d) => ctx
            .store
            .trusted_device_user(&hash_secret(d), ctx.now)
            .await
            .map_err(internal)?,
        None => None,
    };
    let trusted = matches!((&user, &known_to), (Some(u), Some(id)) if *id == u.id);
    // A full verification queue answers at once, before anything is written: a flood that the
    // queue turns away costs the database two reads per attempt, not a reservation and its
    // return. (Checked again when the verification is admitted, after the reservation.)
    if !ctx.oauth.logins.has_room(trusted) {
        return Ok(LoginOutcome::Busy {
            retry_after: BUSY_RETRY_AFTER,
        });
    }
    // Reserve the attempt before verifying anything, atomically and in the database, so
    // concurrent attempts on every replica together stay within the limits.
    let mut wanted: Vec<(&str, i64, i64)> =
        vec![(&subjects.address, THROTTLE_WINDOW, MAX_FAILURES_PER_ADDRESS)];
    if let Some(p) = &subjects.pair {
        wanted.push((p, THROTTLE_WINDOW, MAX_FAILURES_PER_PAIR));
    }
    if let Some(a) = &subjects.account {
        wanted.push((a, THROTTLE_WINDOW, i64::MAX));
    }
    let hits = match ctx
        .store
        .reserve_all(&wanted, ctx.now)
        .await
        .map_err(internal)?
    {
        Ok(hits) => hits,
        Err((
            i,
            Reservation::Refused {
                retry_after,
                refused,
            },
        )) => {
            record_throttled(ctx, &shown, wanted[i].0, refused).await;
            return Ok(LoginOutcome::Throttled { retry_after });
        }
        Err((_, Reservation::Granted { .. })) => return Err(internal("reservation state")),
    };
    let release_all = || async {
        for (subject, _, _) in &wanted {
            ctx.store.release(subject).await.map_err(internal)?;
        }
        Ok::<(), OAuthError>(())
    };
    // Account-wide: slow down rather than lock out.
    if subjects.account.is_some()
        && let Some(h) = hits.last()
    {
        let delay = account_delay(*h);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let stored = match &user {
        Some(u) => u.password_hash.clone(),
        None => DUMMY_HASH.to_string(),
    };
    let verified = ctx
        .oauth
        .logins
        .verify(password.to_string(), stored, trusted)
        .await;
    let ok = match verified {
        Ok(ok) => ok && user.is_some(),
        Err(password::Busy) => {
            // The attempt never ran: hand its reservations back.
            release_all().await?;
            return Ok(LoginOutcome::Busy {
                retry_after: BUSY_RETRY_AFTER,
            });
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        // The reservations stay: they are this failure.
        audit::record(
            ctx,
            AuditEntry {
                username: Some(shown),
                ..AuditEntry::new("login_failed", "wrong username or password")
            },
        )
        .await;
        return Ok(LoginOutcome::Failed);
    };
    // Success: the address and the account get their reservation back; this address's failures
    // on this account are forgiven.
    ctx.store
        .release(&subjects.address)
        .await
        .map_err(internal)?;
    if let Some(a) = &subjects.account {
        ctx.store.release(a).await.map_err(internal)?;
    }
    if let Some(p) = &subjects.pair {
        ctx.store.reset_counter(p).await.map_err(internal)?;
    }
    let session = new_secret(SESSION_PREFIX);
    ctx.store
        .create_session(&hash_secret(&session), &user.id, ctx.now, SESSION_TTL)
        .await
        .map_err(internal)?;
    let device = if trusted {
        None
    } else {
        let d = new_secret(DEVICE_PREFIX);
        ctx.store
            .remember_device(&hash_secret(&d), &user.id, ctx.now, DEVICE_TTL)
            .await
            .map_err(internal)?;
        Some(d)
    };
    audit::record(
        ctx,
        AuditEntry {
            user_id: Some(user.id.clone()),
            username: Some(user.username.clone()),
            ..AuditEntry::new("login", "signed in")
        },
    )
    .await;
    Ok(LoginOutcome::SignedIn {
        user,
        session,
        device,
    })
}

/// Clears the sign-in throttles of a user (every address) or of an address (`gigamcp admin
/// throttle clear`). Returns how many counters were removed.
pub async fn clear_throttle(
    store: &crate::store::Store,
    user: Option<&str>,
    address: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    if let Some(u) = user {
        let u = u.to_ascii_lowercase();
        n += store.clear_counters(&format!("login:user:{u}")).await?;
        n += store.clear_counters(&format!("login:pair:{u}|")).await?;
    }
    if let Some(a) = address {
        n += store.clear_counters(&format!("login:ip:{a}")).await?;
        // Pairs of this address, whatever the account.
        for c in store.counters("login:pair:", 100_000).await? {
            if c.subject.ends_with(&format!("|{a}")) {
                store.reset_counter(&c.subject).await?;
                n += 1;
            }
        }
    }
    Ok(n)
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

#[cfg(test)]
mod tests {
    use super::DUMMY_HASH;
    use argon2::password_hash::PasswordHash;

    /// The stand-in hash costs what a real one does: the same algorithm, version and
    /// parameters as a password hashed today, and a real hash of its password.
    #[test]
    fn the_stand_in_hash_costs_what_a_users_hash_costs() {
        let fresh = crate::auth::password::hash_password_blocking("any").unwrap();
        let (ours, theirs) = (
            PasswordHash::new(DUMMY_HASH).unwrap(),
            PasswordHash::new(&fresh).unwrap(),
        );
        assert_eq!(ours.algorithm, theirs.algorithm);
        assert_eq!(ours.version, theirs.version);
        assert_eq!(ours.params, theirs.params);
        assert_eq!(ours.hash.map(|h| h.len()), theirs.hash.map(|h| h.len()));
        assert!(crate::auth::password::verify_password_blocking(
            "gigamcp-no-such-user",
            DUMMY_HASH
        ));
    }
}
